"""Top-1 / top-5 error of trained models (Sec. 4.1, 6; Tables 1 and 2).

Models are what `alexnet_tf.train` writes: a `.keras` file (a `Classifier`: uint8
256x256 images -> logits), a training workdir (its Keras model), or a serving
SavedModel (its `serve_images` signature). Predictions are the softmax of the centre
224 crop, or the average softmax over the paper's 10 crops (four corners, centre, and
their mirror images). An ensemble averages the softmax outputs of several models (Table 2's "5 CNNs").
"""
import os

import numpy as np
import tensorflow as tf

from alexnet_tf import data
from alexnet_tf.export import load_run
from alexnet_tf.rundir import RunDir, saved_model_folder
from alexnet_tf.optim import TopKError, top_k, top_k_key


class SavedModelClassifier:
    """A serving SavedModel (`alexnet_tf.export`): its `serve_images` signature. Whether it
    uses 10 crops was fixed at export. (A SavedModel is a program: load only trusted
    ones.)"""

    def __init__(self, path):
        self.loaded = tf.saved_model.load(path)
        if "serve_images" not in self.loaded.signatures:
            raise ValueError(f"{path} is not a SavedModel written by alexnet_tf (no "
                             f"serve_images signature)")
        self.fn = self.loaded.signatures["serve_images"]
        self.source = path
        self.wnids = self.names = None
        self.num_classes = int(self.fn.structured_outputs["probabilities"].shape[-1])

    def probabilities(self, images, ten_crop=False):
        if ten_crop:
            raise ValueError(f"{self.source}: a SavedModel's crops are fixed at export; "
                             f"export it with --ten_crop instead")
        return self.fn(images=tf.cast(images, tf.float32))["probabilities"]


def load_classifier(path):
    """A `.keras` file or a training workdir (an `export.Run`), or a SavedModel folder (a
    `SavedModelClassifier`): either has `probabilities(images, ten_crop)`,
    `num_classes`, `source`, and `wnids`/`names` when known."""
    path = os.fspath(path)
    served = saved_model_folder(path)
    # A training workdir has both: its Keras model is the original.
    if served and not os.path.exists(RunDir(path).model):
        return SavedModelClassifier(served)
    return load_run(path)


def evaluate(classifiers, dataset, num_classes, ten_crop=False, progress=None):
    """Top-1 and top-5 error of the ensemble of `classifiers` (one or more) on `dataset`
    (batches of uint8 256x256 images and int labels). Returns a dict with `top1_error`,
    `top5_error` (`optim.top_k_key`: `top4_error` with 4 classes), `images`, per-model
    errors (`models`), and the settings."""
    for c in classifiers:
        if c.num_classes != num_classes:
            raise ValueError(f"{c.source} predicts {c.num_classes} classes but the dataset "
                             f"has {num_classes}")
    k, key = top_k(num_classes), top_k_key(num_classes)
    # One (top-1, top-k) pair of error metrics per model, and one for the ensemble.
    metrics = [(TopKError(k=1), TopKError(k=k)) for _ in range(len(classifiers) + 1)]
    n = 0
    for images, labels in dataset:
        per_model = [c.probabilities(images, ten_crop) for c in classifiers]
        ensemble = tf.add_n(per_model) / len(per_model)  # the paper averages probabilities
        for (top1, topk), probs in zip(metrics, per_model + [ensemble]):
            top1.update_state(labels, probs)
            topk.update_state(labels, probs)
        n += int(labels.shape[0])
        if progress:
            progress(n)
    if n == 0:
        raise ValueError("the dataset is empty")
    errors = np.array([[float(top1.result()), float(topk.result())] for top1, topk in metrics])
    return {"top1_error": errors[-1, 0], key: errors[-1, 1], "images": n,
            "crops": "10-crop" if ten_crop else "centre",
            "models": [{"model": c.source, "top1_error": e[0], key: e[1]}
                       for c, e in zip(classifiers, errors[:-1])]}


def table(result):
    """The result of `evaluate` as a text table (one row per model, then the ensemble)."""
    k = next(key for key in result if key.startswith("top") and key != "top1_error")
    rows = [(m["model"], m["top1_error"], m[k]) for m in result["models"]]
    if len(rows) > 1:
        rows.append((f"ensemble of {len(rows)}", result["top1_error"], result[k]))
    width = max(len(r[0]) for r in rows)
    lines = [f"{'model':<{width}}  top-1 error  {k.replace('_', ' ').replace('top', 'top-')}",
             f"{'':-<{width + 26}}"]
    lines += [f"{name:<{width}}  {t1:10.2%}  {t5:10.2%}" for name, t1, t5 in rows]
    lines.append(f"{result['images']:,} images, {result['crops']} crops")
    return "\n".join(lines)


def evaluate_paths(model_paths, data_path, classes=None, ten_crop=False, batch_size=64,
                   progress=None, skip_bad=False, data_dir=None):
    """`evaluate` for models and data given as paths: models as for `load_classifier`,
    data a TFRecord glob, a `<class>/<image>` folder or `tfds:NAME[:SPLIT]` (a prepared
    tfds dataset, NAME looked up in `data_dir`; split `validation` by default): see
    `data.read_path` (`skip_bad` leaves out a folder's files that are not images).
    `classes` is a class-list file (default: the first model's class list)."""
    models = [load_classifier(m) for m in model_paths]
    known = [m for m in models if m.wnids]
    for m in known[1:]:
        if m.wnids != known[0].wnids:
            raise ValueError(f"{m.source} and {known[0].source} order their classes "
                             f"differently; an ensemble averages class by class")
    classes = classes or next((m.wnids for m in known), None)
    sizes = {m.model.image_size for m in models if hasattr(m, "model")}  # Keras models'
    if len(sizes) > 1:
        raise ValueError(f"the models take images of different sizes ({sorted(sizes)})")
    ds = data.read_path(data_path, classes, batch_size, skip_bad, data_dir,
                        image_size=next(iter(sizes), None))
    num_classes = len(data.path_classes(data_path, classes, data_dir)[0])
    return evaluate(models, ds, num_classes, ten_crop, progress)
