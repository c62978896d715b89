"""The paper's recipe as a config builds it: the model `train` fits and how it is compiled.

`training_model(config)` is the `Classifier` (augmentation -> net -> logits) and
`compile_model` gives it the paper's optimizer (`optim.PaperSGD`: momentum 0.9, weight
decay inside the update), loss and error metrics (Sec. 5).
"""
import keras

from alexnet_tf import finetune
from alexnet_tf.augment import PaperAugmentation
from alexnet_tf.classifier import Classifier
from alexnet_tf.model import alexnet, cifar_net, fig1_net
from alexnet_tf.optim import PaperSGD, TopKError, top_k, top_k_key
from alexnet_tf.stats import load_stats


def training_model(config, devices=None, data_stats=None):
    """The `Classifier` of a config: uint8 images of the stored size
    (`config.data.image_size`) -> `PaperAugmentation` per `config.augment` (crops of the
    net's input size) -> `alexnet(**config.model)` with LRN's alpha rescaled to the input
    scale (`net_lrn_alpha`), `fig1_net(**config.model)` with `config.net="fig1"`, or
    `cifar_net(**config.model)` (alpha rescaled too) with `config.net="cifar"`.
    `data_stats`: the stats file of the run's training data (`inputs.TrainData.stats`),
    used when `config.augment.stats` is "data"."""
    a = config.augment
    if a.stats == "data" and not data_stats:
        raise ValueError("config.augment.stats=data needs the statistics of the run's "
                         "training data (TFRecords: data.source tfrecord, images or "
                         "generated), computed when its data is made")
    stats = load_stats(data_stats if a.stats == "data" else a.stats)
    if a.per_pixel_mean and "mean_image" not in stats:
        raise ValueError("config.augment.per_pixel_mean needs a stats file with a mean image "
                         "(tools/compute_stats.py)")
    mean = stats["mean_image"] if a.per_pixel_mean else stats["mean_rgb"]
    if config.net == "alexnet":
        # config.model.lrn_alpha is in the paper's units (0..255 pixels minus the mean).
        # LRN is not scale-invariant: LRN(s a; alpha / s**2) = s LRN(a; alpha), so at inputs
        # scaled by s the layer acts as the paper's only with alpha / s**2 (tested).
        net = alexnet(devices=devices, **{**config.model.to_dict(),
                                          "lrn_alpha": net_lrn_alpha(config)})
    elif config.net == "fig1":  # the small net of the paper's Fig. 1 (no towers)
        net = fig1_net(**config.model)
    elif config.net == "cifar":  # cuda-convnet's CIFAR-10 nets (Fig. 1, Sec. 3.3)
        net = cifar_net(**{**config.model.to_dict(), "lrn_alpha": net_lrn_alpha(config)})
    else:
        raise ValueError(f"config.net must be 'alexnet', 'fig1' or 'cifar', got "
                         f"{config.net!r}")
    preprocess = PaperAugmentation(mean, stats["eigvals"], stats["eigvecs"],
                                   crop=net.input_shape[1],
                                   lighting_std=a.lighting_std if a.enabled else 0.0,
                                   flip=a.enabled, random_crop=a.enabled, scale=a.input_scale,
                                   seed=config.seed, pad=a.pad, dtype="float32",
                                   name="augment")
    return Classifier(net, preprocess, image_size=config.data.image_size, name="classifier")


def net_lrn_alpha(config):
    """The alpha the net's LRN layers get: config.model.lrn_alpha (the paper's units) over
    the square of config.augment.input_scale."""
    return config.model.lrn_alpha / config.augment.input_scale ** 2


def compile_model(model, config, jit_compile):
    """Compiles `model` with the paper's optimizer, loss and top-1 (and top-5, with more
    than 5 classes: `optim.top_k`) error, and builds the optimizer's variables (checkpoints restore
    into them). Fine-tuning (`config.finetune`): the layers it leaves out are frozen
    first, and its per-layer learning-rate multipliers go to the optimizer."""
    finetune.freeze(config, model)
    metrics = [TopKError(k=1, name="top1_error")]
    classes = config.model.num_classes
    if top_k(classes) < classes:  # else every label is in the top k: not worth logging
        metrics.append(TopKError(k=top_k(classes), name=top_k_key(classes)))
    o = config.optimizer
    model.compile(
        optimizer=PaperSGD(o.learning_rate, o.momentum, o.weight_decay,
                           lr_multipliers=finetune.lr_multipliers(config, model)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=metrics, jit_compile=jit_compile)
    model.optimizer.build(model.trainable_variables)
