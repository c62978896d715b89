"""TensorBoard logs of a training run (`WORKDIR/logs`), one Keras callback per concern.

Two runs, `train/` and `validation/` (TensorBoard overlays their curves); `validation/`
is also the HParams tab's "session": the config as hyperparameters, its final loss and
errors as metrics (a run of its own would add one to every run list). Every summary is at
the global step (the optimizer's iteration count, restored on resume), so step-level and
epoch-level curves, histograms and images share one x axis; step 0 is the untrained model.

TensorBoard's Time Series page groups tags by the part before the first "/", sorts the
groups by name and opens the first two: "epoch" and "step", i.e. loss, errors and learning
rate ("epoch" and "time" before the first `log_every_steps` steps). The tags:

    epoch/loss, epoch/top1_error, epoch/top5_error   train/ and validation/, every epoch
    epoch/learning_rate                              train/, every epoch
    step/loss, step/top1_error, step/top5_error,     train/, every `log_every_steps`
    step/learning_rate                               steps (the mean over those steps)
    time/epoch_seconds, time/validation_seconds,     train/, every epoch (wall time of the
    time/images_per_second                           epoch, validation included, and of
                                                     its validation)
    weights/<layer>/[tower_a/|tower_b/]{kernel,bias} histograms of the trained weights,
                                                     at step 0 and every `histogram_freq`
                                                     epochs
    weights/conv1/kernels                            image: the conv1 kernels (Fig. 3),
                                                     at step 0 and every epoch
    model, config                                    text (train/), when training starts
    _hparams_/session_start_info                     HParams (validation/), likewise

and in the Graphs tab (train/), the op graph of the model's forward pass.

`keras.callbacks.TensorBoard` is not used: it logs epochs at the epoch index and batches
at a count that restarts with each `fit`, histograms of every variable (constants and
random-generator states included), and writes no graph of our model: its `write_graph`
handles a `tf.function` train function only (Keras 3's TF trainer makes it a Python
function around one) and a conceptual graph of Functional and Sequential models only (not
the subclassed `Classifier`).
"""
import json
import os
import time

import keras
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp
from tensorboard.plugins.histogram import metadata as histogram_metadata

from alexnet_tf.config import flatten
from alexnet_tf.data import IMAGE_SIZE
from alexnet_tf.layers import TowerConv2D
from alexnet_tf.model import describe
from alexnet_tf.visualize import conv1_grid

# Scalars about speed, not learning: kept out of the "epoch" group.
TIME_KEYS = ("epoch_seconds", "validation_seconds", "images_per_second")


def tensorboard_callbacks(log_dir, config):
    """The callbacks that write a run's TensorBoard logs to `log_dir` (see the module
    docstring), for `config` (`log_every_steps`, `histogram_freq`, and all of it as
    hyperparameters). Create them once per run and pass them to every `fit`."""
    train = tf.summary.create_file_writer(os.path.join(log_dir, "train"))
    validation = tf.summary.create_file_writer(os.path.join(log_dir, "validation"))
    return [RunText(train, config),
            HParams(validation, config),
            ModelGraph(train),
            EpochScalars(train, validation),
            StepScalars(train, config.log_every_steps),
            WeightHistograms(train, config.histogram_freq),
            KernelImages(train)]


def global_step(model):
    return int(model.optimizer.iterations.numpy())  # int() refuses a MirroredVariable


class EpochTime(keras.callbacks.Callback):
    """Adds `epoch_seconds` (the epoch's wall time, validation included) and
    `validation_seconds` to each epoch's logs (hence to the run's history and TensorBoard)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start, self.validation = time.perf_counter(), 0.0

    def on_test_begin(self, logs=None):
        self.validation_start = time.perf_counter()

    def on_test_end(self, logs=None):
        self.validation = time.perf_counter() - self.validation_start

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self.start
            logs["validation_seconds"] = self.validation


class EpochScalars(keras.callbacks.Callback):
    """Each epoch's logs at its last global step: `val_x` as `epoch/x` in validation/,
    `TIME_KEYS` as `time/x` and the rest as `epoch/x` in train/."""

    def __init__(self, train, validation):
        super().__init__()
        self.train, self.validation = train, validation

    def on_epoch_end(self, epoch, logs=None):
        step = global_step(self.model)
        for key, value in (logs or {}).items():
            if key.startswith("val_"):
                writer, tag = self.validation, "epoch/" + key[len("val_"):]
            else:
                writer, tag = self.train, ("time/" if key in TIME_KEYS else "epoch/") + key
            with writer.as_default(step=step):
                tf.summary.scalar(tag, value)
        self.train.flush()
        self.validation.flush()


class StepScalars(keras.callbacks.Callback):
    """Every `every` global steps: `step/<metric>`, each metric's mean over the steps since
    the previous point (within the epoch), and `step/learning_rate`; 0 or None: none."""

    def __init__(self, writer, every):
        super().__init__()
        self.writer, self.every = writer, every

    def on_train_begin(self, logs=None):
        self.step = global_step(self.model)  # counted here: no variable read per step

    def on_epoch_begin(self, epoch, logs=None):
        self.previous = 0, {}

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if not self.every or self.step % self.every or not logs:
            return
        # Keras' batch logs are means since the epoch began, over `batch + 1` equal batches:
        # the mean over the last ones is the difference of the sums.
        n, means = batch + 1, {k: float(v) for k, v in logs.items()}
        n0, means0 = self.previous
        with self.writer.as_default(step=self.step):
            for key, mean in means.items():
                last = (n * mean - n0 * means0.get(key, 0.0)) / (n - n0)
                tf.summary.scalar("step/" + key, last)
            tf.summary.scalar("step/learning_rate", self.model.optimizer.learning_rate.numpy())
        self.previous = n, means


class _Snapshots(keras.callbacks.Callback):
    """Calls `write()` in `writer`, at the global step, before training (step 0; a resumed
    run has its snapshot from before) and at the end of every `every`-th epoch (0 or None:
    never)."""

    def __init__(self, writer, every=1):
        super().__init__()
        self.writer, self.every = writer, every

    def on_train_begin(self, logs=None):
        if self.every and global_step(self.model) == 0:
            self._write(0)

    def on_epoch_end(self, epoch, logs=None):
        if self.every and (epoch + 1) % self.every == 0:
            self._write(global_step(self.model))

    def _write(self, step):
        with self.writer.as_default(step=step):
            self.write()
        self.writer.flush()


def weight_tags(net):
    """{tag: variable} for the trainable weights of `net`: `weights/<layer>/<name>`, with a
    tower's `kernel_<t>`/`bias_<t>` named `tower_a/kernel`, `tower_b/bias`, ... as in the
    README (just `kernel`, `bias` with one tower)."""
    tags = {}
    for layer in net.layers:
        for variable in layer.trainable_weights:
            name = variable.name
            if isinstance(layer, TowerConv2D):
                base, tower = name.rsplit("_", 1)  # kernel_1 -> tower_b/kernel
                name = base if layer.towers == 1 else f"tower_{'abcdefgh'[int(tower)]}/{base}"
            tags[f"weights/{layer.name}/{name}"] = variable
    return tags


def histogram(tag, values, buckets=30):
    """Writes a TensorBoard histogram of `values`, like `tf.summary.histogram` (the same
    [buckets, 3] float64 tensor of left edge, right edge and count, `buckets` equal
    buckets from the minimum to the maximum; non-finite values are left out).
    `tf.summary.histogram` builds a
    one-hot [values, buckets] matrix: 4.5 GB of float32 for fc6's 37.7 million weights,
    which made the demo peak at 13 GB; `tf.histogram_fixed_width` counts in one pass."""
    values = tf.reshape(tf.cast(values, tf.float64), [-1])
    # Weights of a diverged run: NaN and infinities have no bucket (they would break
    # the value range), so only the finite values are counted.
    values = tf.boolean_mask(values, tf.math.is_finite(values))
    if tf.size(values) == 0:
        low = high = tf.constant(0.0, tf.float64)
    else:
        low, high = tf.reduce_min(values), tf.reduce_max(values)
    if low == high:  # as TensorBoard does: one value gets a unit-wide bucket
        low, high = low - 0.5, high + 0.5
    counts = tf.histogram_fixed_width(values, tf.stack([low, high]), nbins=buckets)
    edges = tf.linspace(low, high, buckets + 1)
    data = tf.stack([edges[:-1], edges[1:], tf.cast(counts, tf.float64)], axis=1)
    tf.summary.write(tag, data, metadata=histogram_metadata.create_summary_metadata(tag, ""))


class WeightHistograms(_Snapshots):
    """Histograms of the trainable weights (`weight_tags`): not the preprocessing's
    constants nor the random-generator states, which never change."""

    def write(self):
        for tag, variable in weight_tags(self.model.net).items():
            histogram(tag, variable)


class KernelImages(_Snapshots):
    """`weights/conv1/kernels`: the conv1 kernels as one image, tower a above tower b (the
    paper's Fig. 3), each pixel shown as `zoom` x `zoom` (an 11x11 kernel as 44x44)."""

    zoom = 4

    def write(self):
        tf.summary.image("weights/conv1/kernels", conv1_grid(self.model, zoom=self.zoom)[None])


class ModelGraph(keras.callbacks.Callback):
    """The Graphs tab: the op graph of the model's training forward pass (uint8 images ->
    augmentation -> network -> logits), written at a fresh run's start. Traced on its own
    rather than around Keras' train step, whose graph TensorBoard shows as opaque function
    calls; here the layers are nested boxes, each tower's convolution an op of its own."""

    def __init__(self, writer):
        super().__init__()
        self.writer = writer

    def on_train_begin(self, logs=None):
        if global_step(self.model) == 0:
            forward = tf.function(lambda images: self.model(images, training=True))
            size = getattr(self.model, "image_size", IMAGE_SIZE)  # the stored size
            images = tf.TensorSpec([None, size, size, 3], tf.uint8)
            with self.writer.as_default(step=0):
                tf.summary.graph(forward.get_concrete_function(images).graph)
            self.writer.flush()


def flat_config(config):
    """A ConfigDict (or dict) as {"group.field": value} with values HParams accepts
    (bool, int, float, str; tuples and lists as strings); unset placeholders (None) left
    out."""
    return {k: v if isinstance(v, (bool, int, float, str)) else str(v)
            for k, v in flatten(config).items() if v is not None}


class _AtStart(keras.callbacks.Callback):
    """Calls `write()` in `writer`, at the global step, when training starts (with
    several `fit`s, the first only), then flushes."""

    def __init__(self, writer, config):
        super().__init__()
        self.writer, self.config, self.done = writer, config, False

    def on_train_begin(self, logs=None):
        if not self.done:
            with self.writer.as_default(step=global_step(self.model)):
                self.write()
            self.writer.flush()
            self.done = True


class RunText(_AtStart):
    """The Text tab: `model` (`alexnet_tf.model.describe`: layers, output shapes,
    parameters) and `config` (the run's config as JSON)."""

    def write(self):
        tf.summary.text("model", _preformatted(describe(self.model.net)))
        tf.summary.text("config", _preformatted(
            json.dumps(self.config.to_dict(), indent=2, default=str)))


class HParams(_AtStart):
    """The HParams tab: the config (`flat_config`) as hyperparameters; the metrics are the
    final values of this writer's scalars (in validation/: loss and errors). No
    `hp.hparams_config`: without it TensorBoard works out which hyperparameters differ
    between runs and shows those first."""

    def write(self):
        hp.hparams(flat_config(self.config))


def _preformatted(text):
    """`text` as a Markdown code block (TensorBoard renders text summaries as Markdown)."""
    return "    " + text.replace("\n", "\n    ")
