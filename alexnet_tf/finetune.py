"""Fine-tuning: a training run that starts from a trained model (`config.finetune`).

Not in the paper, which trains from scratch; the most asked-for use of AlexNet since (as
Caffe's `finetune_flickr_style` example, with `lr_mult`). A run with
`config.finetune.init_from` (a run's workdir, a `.keras` file, or the output of
`tools/import_caffe.py`) trains the config's net, but, at its first start only:

* every layer of the net takes the source's weights, which must have the same shapes
  (else the source "belongs to another architecture": one line naming the layer);
* the last layer (fc8) too, when the classes are the source's; with another class list,
  or another number of classes, it keeps the config's initialization (new classes);
* with `finetune.stats="source"` the augmentation's statistics (mean, RGB PCA) are the
  source's, with "config" those of `augment.stats`.

`finetune.trainable` freezes the layers below a given one ("fc6": fc6 and above train) or
all but a list ("fc7,fc8"); `finetune.lr_mult` multiplies the learning rate of some layers
(Caffe's `lr_mult`, e.g. "fc8=10" for a new fc8), through `optim.PaperSGD`. With
`finetune.classes="source"` the run uses the source's class list (`resolve`): its fc8 is
kept, and the data's classes must be among the source's.

A resumed run restores its own checkpoint; the source is read only at the first start.
"""
import os

from alexnet_tf.rundir import classes_beside, model_beside


class FinetuneError(ValueError):
    """A fine-tuning source or setting that cannot be used; the message is one line."""


def source_file(path):
    """The `.keras` file of a source given as a workdir or a file."""
    model = model_beside(os.fspath(path))
    if not (model.endswith(".keras") and os.path.isfile(model)):
        raise FinetuneError(f"config.finetune.init_from={path}: not a .keras file or a "
                            f"workdir with a trained model")
    return model


def resolve(config):
    """The config a run trains: `config` itself, or, with finetune.classes "source", a
    copy whose data.classes is the source's class list and model.num_classes its
    length."""
    f = config.finetune
    if not f.init_from or f.classes == "data":
        return config
    from alexnet_tf.data import read_classes
    classes = classes_beside(source_file(f.init_from))
    if not os.path.isfile(classes):
        raise FinetuneError(f"config.finetune.classes=source: {f.init_from} has no class "
                            f"list beside its model")
    resolved = config.copy_and_resolve_references()
    resolved.data.classes = classes
    resolved.model.num_classes = len(read_classes(classes)[0])
    return resolved


def weighted_layers(model):
    """The names of the net's layers that have weights, bottom to top (conv1..fc8)."""
    return [layer.name for layer in model.net.layers if layer.weights]


def _names(spec, names, field):
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    unknown = [p for p in parts if p not in names]
    if unknown or not parts:
        raise FinetuneError(f"config.finetune.{field}={spec}: no layer "
                            f"{', '.join(unknown) or '(none given)'} in the net (its layers "
                            f"with weights: {', '.join(names)})")
    return parts


def trainable_layers(config, model):
    """The layers `finetune.trainable` trains: all, the named one and those above it, or
    the named ones."""
    spec, names = config.finetune.trainable, weighted_layers(model)
    if spec == "all":
        return names
    parts = _names(spec, names, "trainable")
    return names[names.index(parts[0]):] if len(parts) == 1 else parts


def lr_multipliers(config, model):
    """`{layer: multiplier}` of `finetune.lr_mult` ("fc8=10,fc7=2"); {} if empty."""
    spec, out = config.finetune.lr_mult, {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = item.partition("=")
        _names(name, weighted_layers(model), "lr_mult")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            out[name.strip()] = float("nan")
        if not out[name.strip()] >= 0 or out[name.strip()] == float("inf"):
            raise FinetuneError(f"config.finetune.lr_mult={spec}: {item} needs a finite "
                                f"multiplier >= 0 (e.g. fc8=10)")
    return out


def freeze(config, model):
    """Marks the layers `finetune.trainable` leaves out as not trainable (before
    compiling: the optimizer then has no slots for them)."""
    train = set(trainable_layers(config, model))
    for name in weighted_layers(model):
        model.layer(name).trainable = name in train


def initialize(config, model, wnids, log=print):
    """Copies the source's weights (and, with finetune.stats "source", its statistics)
    into `model`, whose classes are `wnids`; fc8 only if the classes are the source's.
    Raises `FinetuneError` for a source of another architecture."""
    from alexnet_tf import classifier, data  # TensorFlow
    path = source_file(config.finetune.init_from)
    try:
        source = classifier.load(path)
    except ValueError as e:
        raise FinetuneError(f"config.finetune.init_from={path}: {e}") from None
    names, theirs = weighted_layers(model), weighted_layers(source)
    if names != theirs:
        raise FinetuneError(f"config.finetune.init_from={path} belongs to another "
                            f"architecture: its layers {', '.join(theirs)}; the config's "
                            f"{', '.join(names)}")
    classes = classes_beside(path)
    source_wnids = data.read_classes(classes)[0] if os.path.isfile(classes) else None
    kept, new = [], []
    for name in names:
        ours, src = model.layer(name).get_weights(), source.layer(name).get_weights()
        shapes, src_shapes = [w.shape for w in ours], [w.shape for w in src]
        if name == names[-1] and (shapes != src_shapes or list(wnids) != source_wnids):
            new.append(name)  # another class list: the new classes start from scratch
            continue
        if shapes != src_shapes:
            raise FinetuneError(f"config.finetune.init_from={path} belongs to another "
                                f"architecture: its {name} has weights of shapes "
                                f"{src_shapes}, the config's {shapes}")
        model.layer(name).set_weights(src)
        kept.append(name)
    if config.finetune.stats == "source":
        _copy_stats(source, model, path)
    log(f"fine-tuning from {path}: {', '.join(kept)} from the source"
        + (f"; {', '.join(new)} new ({len(wnids)} classes"
           f"{'' if source_wnids else ', the source has no class list'})" if new else "")
        + f"; statistics from the {config.finetune.stats}; training "
        f"{', '.join(trainable_layers(config, model))}")


STATS = ("mean", "eigvals", "eigvecs")  # `augment.PaperAugmentation`'s statistics


def _copy_stats(source, model, path):
    theirs = {w.path.split("/")[-1]: w for w in source.preprocess.weights}
    for w in model.preprocess.weights:
        name = w.path.split("/")[-1]
        if name not in STATS:
            continue
        if name not in theirs or tuple(theirs[name].shape) != tuple(w.shape):
            raise FinetuneError(f"config.finetune.init_from={path}: its {name} statistics "
                                f"have another shape (a mean image against a mean colour?): "
                                f"set augment.per_pixel_mean as the source had it, or "
                                f"finetune.stats=config")
        w.assign(theirs[name])
