"""The training callbacks of `alexnet_tf.train` (TensorBoard's are in `alexnet_tf.monitor`,
the learning-rate schedule in `alexnet_tf.optim`, the probe in `alexnet_tf.probe`).

Each reads only the model, its own state and the epoch's logs, but for `Checkpointer`,
which reads the public `state` of the schedule and `diverged` of `StopOnNaN`, and so comes
after them in the list `train` gives `fit`.
"""
import math
import time

import keras

from alexnet_tf.files import write_json
from alexnet_tf.monitor import global_step


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

    @property
    def diverged(self):
        return self.bad_step is not None

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
    """Appends each epoch's logs, with `step` (training steps taken so far), to `history`
    and rewrites `path` (JSON) after every epoch, so an interrupted run keeps the metrics
    of its finished epochs."""

    def __init__(self, history, path):
        super().__init__()
        self.history, self.path = history, path

    def on_epoch_end(self, epoch, logs=None):
        self.history.append({"epoch": epoch, "step": global_step(self.model),
                             **{k: float(v) for k, v in (logs or {}).items()}})
        if self.path:
            write_json(self.path, self.history)


class Checkpointer(keras.callbacks.Callback):
    """Saves a checkpoint (`checkpoint.Checkpoints.save`) every `every_steps` steps within
    an epoch and at the end of each epoch, with `schedule.state` (the schedule's public
    state), unless `nan_guard.diverged`. Epochs shorter than `every_steps` (a few images
    per class) are saved at their end only once `every_steps` steps have passed since the
    last save, and at the end of the `fit` (not 187 MB for every step of the paper's net). Place it after both in the callback list, so an
    epoch's checkpoint holds the schedule's update for that epoch. `first_step` is the step
    the first epoch of this `fit` starts at (a resumed, interrupted epoch)."""

    def __init__(self, checkpoints, schedule, nan_guard, every_steps, steps_per_epoch,
                 first_step):
        super().__init__()
        self.checkpoints, self.schedule, self.nan_guard = checkpoints, schedule, nan_guard
        self.every_steps, self.steps_per_epoch = every_steps, steps_per_epoch
        self.first_step = first_step
        self.unsaved = 0  # steps since the last save

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        step = self.first_step + batch + 1  # steps done in this epoch
        self.unsaved += 1
        if (self.every_steps and step % self.every_steps == 0 and step < self.steps_per_epoch
                and not self.nan_guard.diverged):
            self.checkpoints.save(self.epoch, step, self.steps_per_epoch, self.schedule.state)
            self.unsaved = 0

    def on_epoch_end(self, epoch, logs=None):
        self.first_step = 0  # later epochs start at their beginning
        due = (self.steps_per_epoch >= self.every_steps or self.unsaved >= self.every_steps
               or epoch + 1 == self.params.get("epochs")
               or self.model.stop_training)  # the last epoch (train_eval_stop, end_at_plateau)
        if due and not self.nan_guard.diverged:
            self.checkpoints.save(epoch + 1, 0, self.steps_per_epoch, self.schedule.state)
            self.unsaved = 0
