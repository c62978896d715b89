"""Training AlexNet the paper's way (Sec. 5) through `keras.Model.fit`.

`train(config, workdir)` builds the data (`alexnet_tf.data`), the training model (uint8
256x256 images -> `PaperAugmentation` -> `alexnet` -> logits), the paper's optimizer
and learning-rate schedule, and runs `fit` under the configured strategy
(`alexnet_tf.distribute`), with TensorBoard logs, checkpoints that resume exactly, and a
final `model.keras` and SavedModel. Configs are Python files in `configs/`.

The workdir:

    DIR/checkpoints/ckpt-<step>/   state.npz (every model and optimizer variable) and
                                   meta.json (epoch, step in epoch, schedule state, config)
    DIR/checkpoints/latest         the name of the newest complete checkpoint
    DIR/logs/                      TensorBoard: train/ and validation/ scalars, histograms,
                                   images/ (the conv1 kernels, Fig. 3)
    DIR/model.keras                the trained model (uint8 256x256 images -> logits)
    DIR/classes.txt                its classes (wnid and name), index = line - 1
    DIR/saved_model/               the same as a TF SavedModel
    DIR/history.json               per-epoch metrics
"""
import dataclasses
import json
import math
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf

from alexnet_tf import data, distribute
from alexnet_tf.augment import PaperAugmentation
from alexnet_tf.build import build
from alexnet_tf.export import export_saved_model
from alexnet_tf.model import alexnet
from alexnet_tf.stats import load_stats
from alexnet_tf.synthetic import make_dataset
from alexnet_tf.visualize import conv1_grid


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class BadData(RuntimeError):
    """A record could not be read or decoded; the message names the shard and record."""


# ---------------------------------------------------------------------------- optimizer

@keras.saving.register_keras_serializable(package="alexnet_tf")
class PaperSGD(keras.optimizers.SGD):
    """SGD with momentum and the paper's weight decay (Sec. 5):

        v <- momentum * v - weight_decay * lr * w - lr * grad
        w <- w + v

    The decay enters the momentum (it is added to the gradient), unlike Keras'
    `weight_decay`, which is decoupled. Kernels (variables named `kernel*`) are decayed;
    biases are not, as in cuda-convnet's ImageNet layer definitions, whose weight-cost
    applies to weights only.
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, paper_weight_decay=5e-4, **kwargs):
        super().__init__(learning_rate=learning_rate, momentum=momentum, **kwargs)
        self.paper_weight_decay = float(paper_weight_decay)

    def build(self, var_list):
        super().build(var_list)
        self._decayed = [v.path.split("/")[-1].startswith("kernel") for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        if self.paper_weight_decay and self._decayed[self._get_variable_index(variable)]:
            gradient = gradient + tf.cast(self.paper_weight_decay, gradient.dtype) * \
                tf.cast(variable, gradient.dtype)
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "paper_weight_decay": self.paper_weight_decay}


@keras.saving.register_keras_serializable(package="alexnet_tf")
class TopKError(keras.metrics.SparseTopKCategoricalAccuracy):
    """Top-k error rate (1 - top-k accuracy), the paper's measure (Sec. 1, Table 1)."""

    def result(self):
        return 1.0 - super().result()


# ---------------------------------------------------------------------------- callbacks

def _set_lr(optimizer, value):
    optimizer.learning_rate.assign(value)


class LearningRateSchedule(keras.callbacks.Callback):
    """Multiplies the learning rate by `factor` (0.1: the paper divides it by 10) when the
    validation top-1 error stops improving
    (Sec. 5: "when the validation error rate stopped improving with the current learning
    rate"), after `patience` epochs without improvement; or, with `boundaries`, at fixed
    epochs. Its state is saved in our checkpoints, unlike Keras' ReduceLROnPlateau."""

    def __init__(self, base_lr, factor=0.1, patience=5, min_delta=0.0, max_reductions=None,
                 boundaries=None, monitor="val_top1_error"):
        super().__init__()
        self.base_lr, self.factor, self.patience = base_lr, factor, patience
        self.min_delta, self.max_reductions, self.monitor = min_delta, max_reductions, monitor
        self.boundaries = sorted(boundaries) if boundaries else None
        self.state = {"best": None, "wait": 0, "reductions": 0}

    def on_epoch_begin(self, epoch, logs=None):
        if self.boundaries is not None:  # step schedule
            passed = sum(epoch >= b for b in self.boundaries)
            _set_lr(self.model.optimizer, self.base_lr * self.factor ** passed)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())
        if self.boundaries is not None or self.monitor not in logs:
            return
        value, s = float(logs[self.monitor]), self.state
        if s["best"] is None or value < s["best"] - self.min_delta:
            s["best"], s["wait"] = value, 0
            return
        s["wait"] += 1
        if s["wait"] >= self.patience and (self.max_reductions is None
                                           or s["reductions"] < self.max_reductions):
            new_lr = logs["learning_rate"] * self.factor
            _set_lr(self.model.optimizer, new_lr)
            s["wait"], s["reductions"] = 0, s["reductions"] + 1
            print(f"\nEpoch {epoch + 1}: {self.monitor} has not improved for "
                  f"{self.patience} epochs; learning rate -> {new_lr:.3g}")


class Throughput(keras.callbacks.Callback):
    """Adds `images_per_second` (training steps only, first step excluded: it compiles)."""

    def __init__(self, global_batch):
        super().__init__()
        self.global_batch = global_batch

    def on_epoch_begin(self, epoch, logs=None):
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())

    def on_epoch_end(self, epoch, logs=None):
        if len(self.times) > 1 and logs is not None:
            logs["images_per_second"] = (self.global_batch * (len(self.times) - 1)
                                         / (self.times[-1] - self.times[0]))


class StopOnNaN(keras.callbacks.Callback):
    """Stops training when the loss is not finite; `train` then raises `TrainingDiverged`.
    Unlike Keras' TerminateOnNaN, nothing after the bad step is saved."""

    def __init__(self):
        super().__init__()
        self.bad_step = self.bad_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)) and self.bad_step is None:
            self.bad_step, self.bad_epoch = batch, self.epoch
            self.model.stop_training = True


class Checkpointer(keras.callbacks.Callback):
    """Saves everything needed to continue exactly: all model variables (weights, the
    augmentation's and dropout's random states), all optimizer variables (momentum,
    iteration count, learning rate), the schedule's state, and the position (epoch, step
    in epoch). Every `every_steps` steps and at the end of each epoch (after validation and
    the schedule's update). Each checkpoint is written to a temporary folder and renamed;
    `latest` is updated last, so a kill at any moment leaves the previous one intact."""

    def __init__(self, directory, schedule, nan_guard, every_steps, steps_per_epoch,
                 first_step, write=True, keep=2, meta=None):
        super().__init__()
        self.directory, self.schedule, self.nan_guard = directory, schedule, nan_guard
        self.every_steps, self.steps_per_epoch = every_steps, steps_per_epoch
        self.first_step, self.write, self.keep, self.meta = first_step, write, keep, meta or {}

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        step = self.first_step + batch + 1  # steps done in this epoch
        if (self.every_steps and step % self.every_steps == 0 and step < self.steps_per_epoch
                and self.nan_guard.bad_step is None):
            self.save(self.epoch, step)

    def on_epoch_end(self, epoch, logs=None):
        self.first_step = 0  # later epochs start at their beginning
        if self.nan_guard.bad_step is None:
            self.save(epoch + 1, 0)

    def save(self, epoch, step):
        save_checkpoint(self.directory, self.model, epoch, step, self.steps_per_epoch,
                        self.schedule.state, self.meta, self.write, self.keep)


def _variables(model):
    return list(model.variables) + list(model.optimizer.variables)


def save_checkpoint(directory, model, epoch, step, steps_per_epoch, schedule_state, meta,
                    write=True, keep=2):
    """Writes `directory/ckpt-<global step>/` atomically and points `latest` at it. With
    `write=False` (a non-chief worker) nothing is written, but the variables are read all
    the same, so every worker runs the same reads (a distributed variable's read may
    involve the other workers)."""
    values = {f"v{i}": np.asarray(v.numpy()) for i, v in enumerate(_variables(model))}
    if not write:
        return
    global_step = epoch * steps_per_epoch + step
    name = f"ckpt-{global_step}"
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    np.savez(os.path.join(tmp, "state.npz"), **values)
    with open(os.path.join(tmp, "meta.json"), "w") as f:
        json.dump({"epoch": epoch, "step": step, "global_step": global_step,
                   "schedule": schedule_state, "paths": [v.path for v in _variables(model)],
                   **meta}, f, indent=1)
    final = os.path.join(directory, name)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    with open(os.path.join(directory, ".latest.tmp"), "w") as f:
        f.write(name)
    os.replace(os.path.join(directory, ".latest.tmp"), os.path.join(directory, "latest"))
    done = sorted((d for d in os.listdir(directory) if d.startswith("ckpt-")),
                  key=lambda d: int(d.split("-")[1]))
    for old in done[:-keep]:
        shutil.rmtree(os.path.join(directory, old), ignore_errors=True)


def latest_checkpoint(directory):
    """The newest complete checkpoint folder in `directory`, or None."""
    try:
        with open(os.path.join(directory, "latest")) as f:
            path = os.path.join(directory, f.read().strip())
    except FileNotFoundError:
        return None
    return path if os.path.exists(os.path.join(path, "meta.json")) else None


def restore_checkpoint(path, model):
    """Loads a checkpoint into `model` and its (built) optimizer; returns its meta."""
    with open(os.path.join(path, "meta.json")) as f:
        meta = json.load(f)
    variables = _variables(model)
    if [v.path for v in variables] != meta["paths"]:
        raise ValueError(f"checkpoint {path} was written for a different model or optimizer "
                         f"(its variables differ from this config's); use a new --workdir")
    with np.load(os.path.join(path, "state.npz")) as state:
        for i, v in enumerate(variables):
            v.assign(state[f"v{i}"])
    return meta


class HistoryWriter(keras.callbacks.Callback):
    """Appends each epoch's logs to `history` and rewrites `path` (JSON) after every epoch,
    so an interrupted run keeps the metrics of its finished epochs."""

    def __init__(self, history, path):
        super().__init__()
        self.history, self.path = history, path

    def on_epoch_end(self, epoch, logs=None):
        self.history.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}})
        if self.path:
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.history, f, indent=1)
            os.replace(tmp, self.path)


class KernelImages(keras.callbacks.Callback):
    """Writes the conv1 kernels as an image grid to TensorBoard each epoch (Fig. 3)."""

    def __init__(self, log_dir):
        super().__init__()
        self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "images"))

    def on_epoch_end(self, epoch, logs=None):
        with self.writer.as_default():
            tf.summary.image("conv1_kernels", conv1_grid(self.model)[None], step=epoch + 1)
        self.writer.flush()


# ---------------------------------------------------------------------------- data, model

def _count_records(pattern):
    return int(tf.data.TFRecordDataset(tf.io.gfile.glob(pattern)).reduce(
        np.int64(0), lambda n, _: n + 1))


def _manifest_count(pattern):
    """Example count from our builder's manifest beside the shards, if there is one."""
    folder, base = os.path.split(pattern)
    split = base.split("-")[0]
    path = os.path.join(folder, f"{split}.manifest.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)["num_examples"]
    return None


@dataclasses.dataclass
class TrainData:
    """The data of a run: `epoch(e, skip_batches)` gives training epoch `e` (re-created
    exactly from the seed), `validation` one pass over the validation set. `patterns` and
    `classes` locate the TFRecords (for naming bad records), when the data is TFRecords."""
    epoch: object
    validation: object
    train_examples: int
    wnids: list
    names: list
    patterns: list
    classes: object


def make_data(config, workdir):
    """The `TrainData` of the config's data source; generated and image-folder data are
    built into TFRecords in `workdir/data` first."""
    d = config.data
    folder = os.path.join(workdir, "data")
    if d.source == "generated":
        make_dataset(folder, d.generated.classes, d.generated.train_per_class,
                     d.generated.val_per_class, seed=d.generated.seed)
    elif d.source == "images":  # built once; a re-run finds the shards complete
        for split, tree in (("train", d.train), ("validation", d.validation)):
            print(f"building {split} TFRecords from {tree} in {folder} ...")
            # Validation uses the training classes, so the indices agree.
            build(tree, folder, split, seed=config.seed, classes=d.classes if split == "train"
                  else d.classes or os.path.join(folder, "train.classes.txt"))
    if d.source in ("generated", "images"):
        train_pattern = os.path.join(folder, "train-*")
        val_pattern = os.path.join(folder, "validation-*")
        classes = d.classes or os.path.join(folder, "train.classes.txt")
    elif d.source == "tfrecord":
        train_pattern, val_pattern = d.train, d.validation
        classes = d.classes or os.path.join(os.path.dirname(d.train), "train.classes.txt")
    elif d.source in ("tfds", "folder"):
        train_pattern = val_pattern = classes = None
    else:
        raise ValueError(f"config.data.source must be tfrecord, images, generated, tfds or "
                         f"folder, got {d.source!r}")
    common = dict(deterministic=config.deterministic, shard_policy=d.shard_policy)
    batch = config.batch_size
    if train_pattern is not None:
        if classes is None:
            raise ValueError("config.data.classes is needed with tfrecord data (e.g. the "
                             "train.classes.txt the builder writes, or synset_words.txt)")
        n_train = d.train_examples or _manifest_count(train_pattern) or \
            _count_records(train_pattern)
        n_val = _manifest_count(val_pattern) or _count_records(val_pattern)

        def train_epoch(epoch, skip=0):
            return data.tfrecord_dataset(train_pattern, classes, batch, training=True,
                                         shuffle_buffer=d.shuffle_buffer, seed=config.seed,
                                         epoch=epoch, skip_batches=skip, **common)
        # A known size: Keras then neither guesses nor warns at the end of the data.
        val = data.tfrecord_dataset(val_pattern, classes, batch, training=False, **common
                                    ).apply(tf.data.experimental.assert_cardinality(
                                        -(-n_val // batch)))
        wnids, names = data.read_classes(classes)
    elif d.source == "tfds":
        import tensorflow_datasets as tfds
        builder = tfds.builder(d.train, data_dir=d.data_dir)
        n_train = d.train_examples or builder.info.splits[d.train_split].num_examples

        def train_epoch(epoch, skip=0):
            return data.tfds_dataset(d.train, d.train_split, batch, True, data_dir=d.data_dir,
                                     shuffle_buffer=d.shuffle_buffer, seed=config.seed,
                                     epoch=epoch, skip_batches=skip, **common)
        val = data.tfds_dataset(d.train, d.validation_split, batch, False, data_dir=d.data_dir,
                                **common)
        wnids = names = list(builder.info.features["label"].names)
    else:  # folder
        wnids = names = sorted(x for x in os.listdir(d.train) if not x.startswith("."))
        n_train = d.train_examples or sum(len(os.listdir(os.path.join(d.train, w)))
                                          for w in wnids)

        def train_epoch(epoch, skip=0):
            return data.folder_dataset(d.train, batch, True, classes=wnids, seed=config.seed,
                                       epoch=epoch, skip_batches=skip, **common)
        val = data.folder_dataset(d.validation, batch, False, classes=wnids, **common)
    if config.model.num_classes != len(wnids):
        raise ValueError(f"config.model.num_classes is {config.model.num_classes} but the "
                         f"data has {len(wnids)} classes")
    return TrainData(train_epoch, val, n_train, wnids, names,
                     [p for p in (train_pattern, val_pattern) if p is not None],
                     classes if train_pattern is not None else None)


def training_model(config, devices=None):
    """uint8 256x256 images -> `PaperAugmentation` -> `alexnet(**config.model)` -> float32
    logits."""
    stats = load_stats(config.data.stats)
    if config.data.per_pixel_mean and "mean_image" not in stats:
        raise ValueError("config.data.per_pixel_mean needs a stats file with a mean image "
                         "(tools/compute_stats.py)")
    mean = stats["mean_image"] if config.data.per_pixel_mean else stats["mean_rgb"]
    model_kwargs = dict(config.model)
    net = alexnet(devices=devices, **model_kwargs)
    augment = PaperAugmentation(mean, stats["eigvals"], stats["eigvecs"],
                                crop=model_kwargs.get("image_size", 224),
                                lighting_std=config.lighting_std if config.augment else 0.0,
                                flip=config.augment, random_crop=config.augment,
                                scale=config.data.input_scale, seed=config.seed,
                                dtype="float32", name="augment")
    images = keras.Input((data.IMAGE_SIZE, data.IMAGE_SIZE, 3), dtype="uint8", name="images")
    # Logits in float32 whatever the precision (losses and top-k metrics need it).
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(
        net(augment(images)))
    return keras.Model(images, logits, name="alexnet_train")


def compile_model(model, config, jit_compile):
    metrics = [TopKError(k=1, name="top1_error")]
    if config.model.num_classes > 5:
        metrics.append(TopKError(k=5, name="top5_error"))
    o = config.optimizer
    model.compile(
        optimizer=PaperSGD(o.learning_rate, o.momentum, o.weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=metrics, jit_compile=jit_compile)
    model.optimizer.build(model.trainable_variables)


def _explain_data_error(error, patterns, classes):
    """Re-raises a TF error from the input pipeline as `BadData` naming the shards and
    records at fault (found by reading every record); the original error if none is."""
    if not patterns:
        raise error
    print(f"\n{type(error).__name__} while training; checking the TFRecords ...")
    bad = [b for p in patterns for b in data.find_bad_records(p, classes)]
    if not bad:
        raise error
    lines = [f"  {shard}: record {index}: {reason}" for shard, index, reason in bad[:20]]
    raise BadData(f"{len(bad)} bad record(s) stopped training (the last checkpoint stands; "
                  f"rebuild these shards, then re-run to resume):\n" + "\n".join(lines)) \
        from None


def _work_around_keras_multi_worker(model, strategy, local_batch):
    """Keras 3's fit fails under MultiWorkerMirroredStrategy (keras-team/keras#20585,
    tensorflow#72388) in two places, both fixed here on this model instance only:

    * before training it all-reduces the first batch to build the metrics: we build them
      from a local batch and skip that step;
    * it reduces each per-replica log with `strategy.reduce("MEAN", v, axis=0)`, which
      fails for scalars: our steps return each log as a 1-element vector, which that
      reduction averages back to a scalar.
    """
    with strategy.scope():
        model._symbolic_build(data_batch=local_batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    train_step, test_step = model.train_step, model.test_step
    model.train_step = lambda data: {k: tf.reshape(v, [1]) for k, v in train_step(data).items()}
    model.test_step = lambda data: {k: tf.reshape(v, [1]) for k, v in test_step(data).items()}


# ---------------------------------------------------------------------------- train

def train(config, workdir):
    """Trains per `config` in `workdir`, resuming from its latest checkpoint if any.

    Returns the history (a list of per-epoch metric dicts, resumed epochs included).
    Raises `TrainingDiverged` if the loss becomes NaN or infinite, `BadData` if a record
    cannot be read or decoded, `ValueError` for a bad config.
    """
    o = config.optimizer
    if o.schedule not in ("plateau", "step"):
        raise ValueError(f"config.optimizer.schedule must be 'plateau' or 'step', got "
                         f"{o.schedule!r}")
    if config.deterministic_ops:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
    path = distribute.compute_path(config.precision, config.jit_compile, config.strategy)
    keras.mixed_precision.set_global_policy(path.precision)  # also resets to float32
    strategy, devices = distribute.get_strategy(config.strategy)
    chief = distribute.is_chief(strategy)
    out_dir = workdir if chief else os.path.join(workdir,
                                                 f".worker-{distribute.worker_id(strategy)}")
    os.makedirs(out_dir, exist_ok=True)
    jit_compile = path.jit_compile
    print(f"precision: {path.precision}, XLA: {'on' if jit_compile else 'off'} "
          f"({path.reason})")

    # Each worker builds generated/images data in its own folder (no race on shared disks).
    d = make_data(config, out_dir)
    steps = config.steps_per_epoch or d.train_examples // config.batch_size
    if steps < 1:
        raise ValueError(f"{d.train_examples} training images make no full batch of "
                         f"{config.batch_size}")
    with strategy.scope():
        model = training_model(config, devices)
        compile_model(model, config, jit_compile)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _work_around_keras_multi_worker(model, strategy, next(iter(d.validation)))

    ckpt_dir = os.path.join(out_dir, "checkpoints")
    history_path = os.path.join(out_dir, "history.json")
    epoch, step, schedule_state, history = 0, 0, None, []
    latest = latest_checkpoint(os.path.join(workdir, "checkpoints"))
    if latest:
        meta = restore_checkpoint(latest, model)
        epoch, step, schedule_state = meta["epoch"], meta["step"], meta["schedule"]
        if os.path.exists(os.path.join(workdir, "history.json")):
            with open(os.path.join(workdir, "history.json")) as f:
                history = [h for h in json.load(f) if h["epoch"] < epoch]
        print(f"resuming from {latest}: epoch {epoch + 1}, step {step} of {steps}")

    schedule = LearningRateSchedule(
        o.learning_rate, factor=o.lr_factor, patience=o.plateau_patience,
        max_reductions=o.max_reductions,
        boundaries=list(o.step_epochs) if o.schedule == "step" else None)
    if schedule_state:
        schedule.state = schedule_state
    nan_guard = StopOnNaN()
    log_dir = os.path.join(out_dir, "logs")
    meta = {"config": config.to_dict(), "classes": d.wnids, "class_names": d.names}

    def callbacks(first_step):
        cbs = [schedule, Throughput(config.batch_size), nan_guard,
               HistoryWriter(history, history_path if chief else None)]
        if chief:
            cbs += [keras.callbacks.TensorBoard(log_dir, histogram_freq=config.histogram_freq,
                                                write_graph=False),
                    KernelImages(log_dir)]
        return cbs + [Checkpointer(ckpt_dir, schedule, nan_guard, config.checkpoint_every_steps,
                                   steps, first_step, write=chief, meta=meta)]

    print(f"training on {d.train_examples:,} images ({steps} steps of {config.batch_size} per epoch) "
          f"for {config.epochs} epochs; strategy {config.strategy}, jit_compile "
          f"{jit_compile}; logs in {log_dir}")
    runs = []
    if step and epoch < config.epochs:  # the rest of the interrupted epoch
        runs.append((d.epoch(epoch, step), epoch, epoch + 1, steps - step, step))
        epoch += 1
    if epoch < config.epochs:
        epochs = d.epoch(epoch)
        for e in range(epoch + 1, config.epochs):
            epochs = epochs.concatenate(d.epoch(e))
        runs.append((epochs, epoch, config.epochs, steps, 0))
    for ds, first, last, n_steps, first_step in runs:
        try:
            model.fit(ds, initial_epoch=first, epochs=last, steps_per_epoch=n_steps,
                      validation_data=d.validation, callbacks=callbacks(first_step),
                      verbose=config.verbose)
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
            _explain_data_error(e, d.patterns, d.classes)
        if nan_guard.bad_step is not None:
            raise TrainingDiverged(
                f"the loss became NaN or infinite in epoch {nan_guard.bad_epoch + 1} (step "
                f"{nan_guard.bad_step + 1} of this run's part of it); the last good checkpoint "
                f"is kept in {ckpt_dir} (lower config.optimizer.learning_rate)")

    if chief:
        model.save(os.path.join(out_dir, "model.keras"))
        data.write_classes(os.path.join(out_dir, "classes.txt"), d.wnids, d.names)
        export_saved_model(model, os.path.join(out_dir, "saved_model"), d.wnids, d.names)
    return history
