"""Training AlexNet the paper's way (Sec. 5) through `keras.Model.fit`.

`train(config, workdir)` reads top to bottom: strategy (`alexnet_tf.runtime`: which
process is the chief, where it writes, how data is divided; multi-worker in
`alexnet_tf.multiworker`) -> data (`alexnet_tf.inputs`) -> model (`alexnet_tf.recipe`: uint8
256x256 images -> `PaperAugmentation` -> `alexnet` -> logits) -> compile (the paper's
optimizer, schedule and error) -> restore (`alexnet_tf.checkpoint`: the checkpoint and the
config the run started with) -> `fit` (`alexnet_tf.callbacks`, TensorBoard logs by
`alexnet_tf.monitor`) -> save (the Keras model and a SavedModel). Configs are Python files in
`configs/`; the workdir's files are named by `alexnet_tf.rundir.RunDir`.

    python -m alexnet_tf.train --config configs/demo.py --workdir runs/demo [--config.F=V ...]

runs `train` from the command line (`alexnet_tf.config.run_training`), as studies do.
"""
import time
import warnings

import keras
import tensorflow as tf

from alexnet_tf import checkpoint, distribute, finetune, probe, runtime
from alexnet_tf import config as config_fields
from alexnet_tf.callbacks import (Checkpointer, DroppedRecords, HistoryWriter, StopOnNaN,
                                  Throughput)
from alexnet_tf.checkpoint import Checkpoints, check_resume_config, load_history
from alexnet_tf.export import save_run
from alexnet_tf.files import read_json, write_json
from alexnet_tf.inputs import BadData, explain_data_error, fit_parts, make_data, steps_per_epoch
from alexnet_tf.monitor import EpochTime, tensorboard_callbacks
from alexnet_tf.optim import paper_schedule
from alexnet_tf.recipe import compile_model, training_model
from alexnet_tf.rundir import RunDir
from alexnet_tf.train_eval import TrainEval

__all__ = ["train", "TrainingDiverged", "BadData", "record_resources"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def train(config, workdir, on_lost=None):
    """Trains per `config` in `workdir`, resuming from its latest checkpoint if any, for
    config.epochs or until a rule ends the run (`train_eval_stop`, the plateau after the
    last cut with `optimizer.end_at_plateau`; `config.stopped_early`).

    Returns the history (a list of per-epoch metric dicts, resumed epochs included).
    Raises `TrainingDiverged` if the loss becomes NaN or infinite, `BadData` if a record
    cannot be read or decoded, `checkpoint.CheckpointWriteError` if a checkpoint cannot be
    written, `ValueError` for a bad config or a workdir whose run started with another
    config (`checkpoint.check_resume_config`; `checkpoint.CheckpointMismatch` for a
    workdir of another model; `finetune.FinetuneError` for a fine-tuning source that
    cannot be used). Under `multi_worker` (README, "Multi-worker training"),
    also `multiworker.PeersMissing` if the other workers do not join within
    `config.peer_timeout` seconds, `multiworker.WorkersDisagree` if the workers were given
    different workdirs or configs or restored different states (before any step), and
    `multiworker.WorkerLost` if TF reports a lost worker; `on_lost` is as for
    `multiworker.MultiWorkerRuntime.create`.
    """
    started = time.monotonic()
    config_fields.check(config)  # as the command line does: one line per mistake
    config_fields.check_together(config)
    config = finetune.resolve(config)
    if config.op_determinism:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
    path = distribute.compute_path(config.precision, config.jit_compile, config.strategy)
    keras.mixed_precision.set_global_policy(path.precision)  # also resets to float32
    rt = runtime.create(config, workdir, on_lost)
    rt.say(f"precision: {path.precision}, XLA: {'on' if path.jit_compile else 'off'} "
           f"({path.reason})")
    with rt.guard(lambda: _resume_point(rt.run.checkpoints)):
        rt.agree_on_run(config)
        # Each worker builds generated/images data in its own folder (no race on shared disks).
        d = make_data(config, rt.out.path)
        steps = steps_per_epoch(config, d)
        train_policy, val_policy, per_worker = rt.split(config, d, steps)
        with rt.strategy.scope():
            model = training_model(config, rt.devices, d.stats)
            compile_model(model, config, path.jit_compile)
        rt.prepare(model, next(iter(d.validation)))

        # Every worker restores the chief's checkpoints (shared storage) and takes part in
        # each save; only the chief's are kept.
        checkpoints = Checkpoints(rt.run.checkpoints, model, write=rt.is_chief,
                                  temp_directory=rt.out.tmp_checkpoints)
        epoch, step, schedule_state, history = _restore_or_start(rt, config, model, d,
                                                                 checkpoints, steps)
        first_epoch = epoch + (step > 0)  # this process's first whole epoch
        rt.agree_on_state(epoch, step, checkpoints.variables())

        schedule = paper_schedule(config.optimizer, steps)
        if schedule_state:
            schedule.state = schedule_state
        nan_guard = StopOnNaN()
        watch, train_eval, after = _monitors(config, d, rt, epoch * steps + step)
        rt.say(f"training on {d.train_examples:,} images ({steps} steps of "
               f"{config.batch_size} per epoch) for {config.epochs} epochs; strategy "
               f"{config.strategy}, jit_compile {path.jit_compile}; logs in {rt.out.logs}")
        validation = rt.shard(d.validation, val_policy)
        if config_fields.stopped_early(config, history):  # resumed after its end: done
            rt.say(f"a rule ended the run after epoch {len(history)} (train_eval_stop or "
                   f"optimizer.end_at_plateau): nothing to train")
            epoch = config.epochs
        for ds, first, last, n_steps, first_step in fit_parts(
                d, config, steps, epoch, step, per_worker,
                lambda ds: rt.shard(ds, train_policy)):
            callbacks = [schedule, Throughput(config.batch_size), EpochTime(), nan_guard,
                         *watch, *train_eval,  # train_eval's key before the history
                         HistoryWriter(history, rt.out.history if rt.is_chief else None),
                         *after,
                         Checkpointer(checkpoints, schedule, nan_guard,  # after both
                                      config.checkpoint_every_steps, steps, first_step)]
            _fit(model, ds, first, last, n_steps, validation, callbacks, config, d, rt,
                 steps)
            if nan_guard.diverged:
                raise TrainingDiverged(
                    f"the loss became NaN or infinite in epoch {nan_guard.bad_epoch + 1} "
                    f"(step {nan_guard.bad_step + 1} of this run's part of it); the last "
                    f"good checkpoint is kept in {checkpoints.directory} (lower "
                    f"config.optimizer.learning_rate)")
            if config_fields.stopped_early(config, history):  # a rule ended the run
                rt.say(f"the run ended after epoch {len(history)} of {config.epochs}")
                break
        rt.barrier()
    if rt.is_chief:
        save_run(rt.out.path, model, d.wnids, d.names)
        record_resources(rt.out.path, started, len(history), first_epoch)
    return history


def _restore_or_start(rt, config, model, d, checkpoints, steps):
    """`(epoch, step, schedule state, history)` to go on from: the latest checkpoint's,
    with the config checked against the one the run started with; or a new run's start
    (the fine-tuning source's weights loaded; the config and conv1's start written)."""
    restored = checkpoints.restore(log=rt.say)
    if not restored:
        if config.finetune.init_from:  # every worker: all must start alike
            finetune.initialize(config, model, d.wnids, rt.say)
        if rt.is_chief:  # the config it starts with; conv1's start (probe, report)
            write_json(rt.out.config, config.to_dict())
            probe.save_conv1_init(model, rt.out.path)
        return 0, 0, None, []
    latest, epoch, step, schedule_state = restored
    rt.say(f"resuming from {latest}: epoch {epoch + 1}, step {step} of {steps}")
    if step >= steps:
        raise ValueError(f"{latest} is at step {step} of epoch {epoch + 1}, but an epoch "
                         f"now has {steps} steps: resume with the data and "
                         f"config.steps_per_epoch the run started with")
    check_resume_config(rt.run.read_config(), config)
    return epoch, step, schedule_state, load_history(rt.run.history, epoch)


def _monitors(config, d, rt, global_step):
    """The callbacks that watch the run but do not steer it: those whose keys the history
    records (dropped records), Fig. 1's training error (`TrainEval`, which may end the run
    at config.train_eval_stop) and those after the history (TensorBoard, the layer probe
    from `global_step` on), as three lists."""
    watch = [DroppedRecords(*d.dropped)] if d.dropped else []
    train_eval = ([TrainEval(d.train_sample(config.train_eval_examples, config.batch_size),
                             config.train_eval_stop)]
                  if config.train_eval_examples else [])
    after = tensorboard_callbacks(rt.out.logs, config) if rt.is_chief else []
    if config.probe_every_steps and rt.is_chief:
        after.append(probe.LayerProbe(*next(iter(d.validation)), config.probe_every_steps,
                                      rt.out.path, global_step))
    return watch, train_eval, after


def _fit(model, ds, first, last, n_steps, validation, callbacks, config, d, rt, steps):
    """One `model.fit` call, with the input pipeline's errors in one line (`BadData`)."""
    try:
        with warnings.catch_warnings():
            # Training data that runs out is an error (`inputs.fit_parts`); for validation
            # read tolerantly (unknown size), Keras' warning at the pass's end is noise.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            if not rt.is_chief:  # the chief shows the same warnings
                warnings.simplefilter("ignore")
            model.fit(ds, initial_epoch=first, epochs=last, steps_per_epoch=n_steps,
                      validation_data=validation,
                      validation_freq=config_fields.validation_epochs(config),
                      shuffle=False,  # the datasets shuffle themselves (Keras would warn)
                      callbacks=callbacks,
                      verbose=config.verbose if rt.is_chief else 0)
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
        explain_data_error(e, d, config.data.train)
    except tf.errors.FailedPreconditionError as e:  # `fit_parts`' cardinality check
        if "elements but contained only" not in (e.message or ""):
            raise
        ran_out = int(model.optimizer.iterations.numpy()) // steps + 1
        raise BadData(f"the training data ran out in epoch {ran_out}: an epoch needs "
                      f"{steps} batches of {config.batch_size} (check "
                      f"config.data.train_examples and steps_per_epoch, or the records "
                      f"dropped by data.skip_bad_records; the last checkpoint "
                      f"stands)") from None


def _resume_point(directory):
    """Where a restart resumes, in words: the newest checkpoint in `directory`."""
    latest = checkpoint.latest(directory)
    if not latest:
        return "No checkpoint was written yet: a restart starts the run over"
    epoch, step = checkpoint.position(latest)
    return (f"A restart resumes from the last checkpoint, {latest} (epoch {epoch + 1}, step "
            f"{step})")


def record_resources(workdir, started, epochs, first_epoch):
    """Appends what the process that finished the run used to the workdir's
    `RunDir.resources`:
    its wall time from `train`'s start (data generation or TFRecord building, training,
    validation and the export included; Python's and TensorFlow's imports not), its peak
    resident memory, the run's epochs and the whole epochs this process trained (from
    `first_epoch` on; a resumed, interrupted epoch is not counted). A process that was
    interrupted records nothing; a finished run rerun (nothing left to train) adds an
    entry with no epochs trained."""
    import resource  # POSIX: where there is none, the run records nothing
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    path = RunDir(workdir).resources
    write_json(path, read_json(path, []) + [{
        "wall_seconds": round(time.monotonic() - started, 1),
        "peak_memory_gib": round(peak_kib / 2 ** 20, 2), "epochs": epochs,
        "epochs_trained": max(0, epochs - first_epoch)}])


if __name__ == "__main__":  # python -m alexnet_tf.train: the train command, as studies run it
    from alexnet_tf.config import run_training
    run_training()
