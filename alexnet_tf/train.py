"""Training AlexNet the paper's way (Sec. 5) through `keras.Model.fit`.

`train(config, workdir)` reads as: strategy and precision (`alexnet_tf.distribute`) ->
data (`alexnet_tf.inputs`) -> model (uint8 256x256 images -> `PaperAugmentation` ->
`alexnet` -> logits) -> compile (`alexnet_tf.optim`: the paper's optimizer, schedule and
error) -> restore (`alexnet_tf.checkpoint`) -> `fit`, with TensorBoard logs, and a final
`model.keras` and SavedModel. Configs are Python files in `configs/`.

The workdir:

    DIR/checkpoints/               TF checkpoints (`alexnet_tf.checkpoint`): the two newest
    DIR/logs/                      TensorBoard (`alexnet_tf.monitor`), runs train/ and
                                   validation/: scalars, weight histograms, conv1 kernels
                                   (Fig. 3), graph, text, hyperparameters
    DIR/config.json                the run's config
    DIR/model.keras                the trained model (uint8 256x256 images -> logits)
    DIR/classes.txt                its classes (wnid and name), index = line - 1
    DIR/saved_model/               the same as a TF SavedModel
    DIR/history.json               per-epoch metrics
"""
import math
import os
import time
import warnings

import keras
import tensorflow as tf

from alexnet_tf import data, distribute
from alexnet_tf.augment import PaperAugmentation
from alexnet_tf.classifier import Classifier
from alexnet_tf.checkpoint import Checkpointer, Checkpoints, load_history, write_json
from alexnet_tf.export import save_run
from alexnet_tf.inputs import make_data
from alexnet_tf.model import alexnet, fig1_net
from alexnet_tf.monitor import EpochTime, tensorboard_callbacks
from alexnet_tf.optim import LearningRateSchedule, PaperSGD, TopKError
from alexnet_tf.stats import load_stats


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class BadData(RuntimeError):
    """A record could not be read or decoded; the message names the shard and record."""


# ---------------------------------------------------------------------------- callbacks

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


class DroppedRecords(keras.callbacks.Callback):
    """Adds `records_dropped` and `val_records_dropped`: the records the tolerant readers
    (config.data.skip_bad_records) dropped since the previous epoch's end. Prefetching
    reads ahead, so a drop near an epoch's end may be counted in the next epoch."""

    def __init__(self, train_counter, val_counter):
        super().__init__()
        self.counters = {"records_dropped": train_counter, "val_records_dropped": val_counter}
        self.last = {key: counter.dropped for key, counter in self.counters.items()}

    def on_epoch_end(self, epoch, logs=None):
        for key, counter in self.counters.items():
            now = counter.dropped
            if logs is not None:
                logs[key] = now - self.last[key]
            if now > self.last[key]:
                print(f"\n{key.replace('_', ' ')}: {now - self.last[key]} unreadable "
                      f"record(s) skipped in epoch {epoch + 1} (data.skip_bad_records)")
            self.last[key] = now


class HistoryWriter(keras.callbacks.Callback):
    """Appends each epoch's logs to `history` and rewrites `path` (JSON) after every epoch,
    so an interrupted run keeps the metrics of its finished epochs."""

    def __init__(self, history, path):
        super().__init__()
        self.history, self.path = history, path

    def on_epoch_end(self, epoch, logs=None):
        self.history.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}})
        if self.path:
            write_json(self.path, self.history)


# ---------------------------------------------------------------------------- model

def training_model(config, devices=None):
    """The `Classifier` of a config: `PaperAugmentation` per `config.augment` ->
    `alexnet(**config.model)` (or `fig1_net(**config.model)` with `config.net="fig1"`)."""
    a = config.augment
    stats = load_stats(a.stats)
    if a.per_pixel_mean and "mean_image" not in stats:
        raise ValueError("config.augment.per_pixel_mean needs a stats file with a mean image "
                         "(tools/compute_stats.py)")
    mean = stats["mean_image"] if a.per_pixel_mean else stats["mean_rgb"]
    if config.net == "alexnet":
        net = alexnet(devices=devices, **config.model)
    elif config.net == "fig1":  # the small net of the paper's Fig. 1 (no towers)
        net = fig1_net(**config.model)
    else:
        raise ValueError(f"config.net must be 'alexnet' or 'fig1', got {config.net!r}")
    preprocess = PaperAugmentation(mean, stats["eigvals"], stats["eigvecs"],
                                   crop=net.input_shape[1],
                                   lighting_std=a.lighting_std if a.enabled else 0.0,
                                   flip=a.enabled, random_crop=a.enabled, scale=a.input_scale,
                                   seed=config.seed, dtype="float32", name="augment")
    return Classifier(net, preprocess, name="classifier")


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
    if not patterns or "IteratorGetNext" not in (error.message or ""):
        raise error  # not from the input pipeline: reading every record would not help
    print(f"\n{type(error).__name__} while training; checking the TFRecords ...")
    bad = [b for p in patterns for b in data.find_bad_records(p, classes)]
    if not bad:
        raise error
    lines = [f"  {shard}: record {index}: {reason}" for shard, index, reason in bad[:20]]
    raise BadData(f"{len(bad)} bad record(s) stopped training (the last checkpoint stands; "
                  f"rebuild these shards, then re-run to resume):\n" + "\n".join(lines)) \
        from None


# ---------------------------------------------------------------------------- train

def train(config, workdir):
    """Trains per `config` in `workdir`, resuming from its latest checkpoint if any.

    Returns the history (a list of per-epoch metric dicts, resumed epochs included).
    Raises `TrainingDiverged` if the loss becomes NaN or infinite, `BadData` if a record
    cannot be read or decoded, `checkpoint.CheckpointWriteError` if a checkpoint cannot be
    written, `ValueError` for a bad config (`checkpoint.CheckpointMismatch` for a workdir
    of another model).
    """
    o = config.optimizer
    if o.schedule not in ("plateau", "step"):
        raise ValueError(f"config.optimizer.schedule must be 'plateau' or 'step', got "
                         f"{o.schedule!r}")
    if config.op_determinism:
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
    full_batches = d.train_examples // config.batch_size
    steps = config.steps_per_epoch or full_batches
    if full_batches < 1:
        raise ValueError(f"{d.train_examples} training images make no full batch of "
                         f"{config.batch_size}")
    if steps > full_batches:
        raise ValueError(f"config.steps_per_epoch is {steps} but the {d.train_examples:,} "
                         f"training images make only {full_batches} batches of "
                         f"{config.batch_size}")
    with strategy.scope():
        model = training_model(config, devices)
        compile_model(model, config, jit_compile)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        distribute.work_around_keras_multi_worker(model, strategy, next(iter(d.validation)))

    # Every worker restores the chief's checkpoints (shared storage) and takes part in
    # each save; only the chief's are kept.
    checkpoints = Checkpoints(os.path.join(workdir, "checkpoints"), model, write=chief,
                              temp_directory=os.path.join(out_dir, "tmp-checkpoints"))
    history_path = os.path.join(out_dir, "history.json")
    epoch, step, schedule_state, history = 0, 0, None, []
    restored = checkpoints.restore()
    if restored:
        latest, epoch, step, schedule_state = restored
        history = load_history(os.path.join(workdir, "history.json"), epoch)
        print(f"resuming from {latest}: epoch {epoch + 1}, step {step} of {steps}")
    if chief:
        write_json(os.path.join(out_dir, "config.json"), config.to_dict())

    schedule = LearningRateSchedule(
        o.learning_rate, factor=o.lr_factor, patience=o.plateau_patience,
        max_reductions=o.max_reductions,
        boundaries=list(o.step_epochs) if o.schedule == "step" else None)
    if schedule_state:
        schedule.state = schedule_state
    nan_guard = StopOnNaN()
    log_dir = os.path.join(out_dir, "logs")
    tensorboard = tensorboard_callbacks(log_dir, config) if chief else []

    dropped = [DroppedRecords(*d.dropped)] if d.dropped else []

    def callbacks(first_step):
        cbs = [schedule, Throughput(config.batch_size), EpochTime(), nan_guard, *dropped,
               HistoryWriter(history, history_path if chief else None), *tensorboard]
        return cbs + [Checkpointer(checkpoints, schedule, nan_guard,
                                   config.checkpoint_every_steps, steps, first_step)]

    print(f"training on {d.train_examples:,} images ({steps} steps of {config.batch_size} per epoch) "
          f"for {config.epochs} epochs; strategy {config.strategy}, jit_compile "
          f"{jit_compile}; logs in {log_dir}")
    def epoch_data(e, skip=0):
        # Exactly `steps` batches per epoch, so that epochs never run into each other when
        # steps_per_epoch is less than the data's batches.
        ds = d.epoch(e, skip)
        if d.dropped:  # an epoch shortened by dropped records is refilled from its start
            ds = ds.repeat(2)
        return ds.take(steps - skip)

    runs = []
    if step and epoch < config.epochs:  # the rest of the interrupted epoch
        runs.append((epoch_data(epoch, step), epoch, epoch + 1, steps - step, step))
        epoch += 1
    if epoch < config.epochs:
        epochs = epoch_data(epoch)
        for e in range(epoch + 1, config.epochs):
            epochs = epochs.concatenate(epoch_data(e))
        runs.append((epochs, epoch, config.epochs, steps, 0))
    for ds, first, last, n_steps, first_step in runs:
        try:
            with warnings.catch_warnings():
                # Our own check below explains training data that ran out; for validation
                # read tolerantly (unknown size), Keras' warning at the pass's end is noise.
                warnings.filterwarnings("ignore", message="Your input ran out of data")
                model.fit(ds, initial_epoch=first, epochs=last, steps_per_epoch=n_steps,
                          validation_data=d.validation, callbacks=callbacks(first_step),
                          verbose=config.verbose)
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
            _explain_data_error(e, d.patterns, d.classes)
        if nan_guard.bad_step is not None:
            raise TrainingDiverged(
                f"the loss became NaN or infinite in epoch {nan_guard.bad_epoch + 1} (step "
                f"{nan_guard.bad_step + 1} of this run's part of it); the last good checkpoint "
                f"is kept in {checkpoints.directory} (lower config.optimizer.learning_rate)")
        if not history or history[-1]["epoch"] + 1 < last:  # Keras stops when data ends
            raise BadData(f"the training data ran out before the end of epoch "
                          f"{(history[-1]['epoch'] + 2) if history else first + 1} (expected "
                          f"{steps} batches of {config.batch_size} per epoch: check "
                          f"config.data.train_examples and steps_per_epoch, or the records "
                          f"dropped by data.skip_bad_records)")

    if chief:
        save_run(out_dir, model, d.wnids, d.names)
    return history
