"""Training AlexNet the paper's way (Sec. 5) through `keras.Model.fit`.

`train(config, workdir)` reads as: strategy and precision (`alexnet_tf.distribute`) ->
data (`alexnet_tf.inputs`) -> model (uint8 256x256 images -> `PaperAugmentation` ->
`alexnet` -> logits) -> compile (`alexnet_tf.optim`: the paper's optimizer, schedule and
error) -> restore (`alexnet_tf.checkpoint`) -> `fit`, with TensorBoard logs, and a final
`model.keras` and SavedModel. Configs are Python files in `configs/`. Under `multi_worker`
the workers first form their cluster and agree on the workdir, the config and the restored
state, and each split's sharding is chosen (`_shard_policies`).

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
    DIR/resources.json             wall time and peak memory of the process that
                                   finished the run (`record_resources`)
    DIR/conv1_init.npy             conv1's kernel at step 0 (`alexnet_tf.probe`)
    DIR/probe.json                 with config.probe_every_steps: per-layer scales
    DIR/.run-id                    multi_worker: the id the chief writes at each start
    DIR/.worker-N/                 multi_worker: what worker N (not the chief) writes
"""
import json
import math
import os
import time
import warnings

import keras
import tensorflow as tf

from alexnet_tf import checkpoint, data, distribute, probe
from alexnet_tf.augment import PaperAugmentation
from alexnet_tf.build import count_examples
from alexnet_tf.classifier import Classifier
from alexnet_tf.checkpoint import Checkpointer, Checkpoints, load_history
from alexnet_tf.export import save_run
from alexnet_tf.files import read_json, write_json
from alexnet_tf.inputs import make_data
from alexnet_tf.model import alexnet, fig1_net
from alexnet_tf.monitor import EpochTime, flat_config, global_step, tensorboard_callbacks
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


# ---------------------------------------------------------------------------- model

def training_model(config, devices=None):
    """The `Classifier` of a config: `PaperAugmentation` per `config.augment` ->
    `alexnet(**config.model)` with LRN's alpha rescaled to the input scale
    (`net_lrn_alpha`), or `fig1_net(**config.model)` with `config.net="fig1"`."""
    a = config.augment
    stats = load_stats(a.stats)
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
    else:
        raise ValueError(f"config.net must be 'alexnet' or 'fig1', got {config.net!r}")
    preprocess = PaperAugmentation(mean, stats["eigvals"], stats["eigvecs"],
                                   crop=net.input_shape[1],
                                   lighting_std=a.lighting_std if a.enabled else 0.0,
                                   flip=a.enabled, random_crop=a.enabled, scale=a.input_scale,
                                   seed=config.seed, dtype="float32", name="augment")
    return Classifier(net, preprocess, name="classifier")


# What a resumed run may change: how long it runs, what it logs and how often, and where
# its data is (the same data may move or be named another way, e.g. a tfds folder or its
# name; data of another size is refused by the steps-per-epoch check).
RESUME_MAY_CHANGE = ("epochs", "verbose", "log_every_steps", "histogram_freq",
                     "checkpoint_every_steps", "probe_every_steps", "peer_timeout",
                     "data.train", "data.validation", "data.data_dir", "data.classes",
                     "steps_per_epoch",  # checked on its own: an epoch's steps must agree
                     "augment.stats")    # the statistics themselves are in the checkpoint


def check_resume_config(saved, config):
    """Raises `ValueError` in one line naming every field (but `RESUME_MAY_CHANGE`) whose
    value in `config` differs from the run's saved config.json (`saved`, a dict; None: no
    check). Fields that only one of them has (a field added to the configs since the run
    started) are not compared."""
    if saved is None:
        return
    model, augment = saved.get("model", {}), saved.get("augment", {})
    if "init_bias" not in model and model.get("lrn", False) and \
            augment.get("input_scale", 1.0) != 1.0:
        # Saved before LRN's alpha followed the input scale (`net_lrn_alpha`): resumed,
        # its LRN layers would get another alpha than they were trained with.
        raise ValueError(f"the workdir's run started before LRN's alpha followed "
                         f"augment.input_scale ({augment['input_scale']:g}): resumed, its "
                         f"LRN would change (alpha {model.get('lrn_alpha')} -> "
                         f"{net_lrn_alpha(config):g}); give a new --workdir")
    old, new = (flat_config(json.loads(json.dumps(c)), keep_none=True)
                for c in (saved, config.to_dict()))
    changed = [f"{k} {old[k]!r} -> {new[k]!r}" for k in sorted(set(old) & set(new))
               if old[k] != new[k] and k not in RESUME_MAY_CHANGE]
    if changed:
        raise ValueError(f"the workdir's run started with another config ({'; '.join(changed)}):"
                         f" resume it with the config it started with (only "
                         f"{', '.join(RESUME_MAY_CHANGE)} may change), or give a new --workdir")


def net_lrn_alpha(config):
    """The alpha the net's LRN layers get: config.model.lrn_alpha (the paper's units) over
    the square of config.augment.input_scale."""
    return config.model.lrn_alpha / config.augment.input_scale ** 2


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


def _shard_policies(config, d, workers, steps, log=print):
    """The auto-shard policies `(training, validation)` of a multi-worker run, `log`ged in
    one line. Training: `distribute.shard_policy` of config.data.shard_policy and the
    training files, where file sharding also needs every worker's files to hold its
    `steps` batches of batch_size / workers images, whichever files it gets. Validation:
    always data sharding (see below)."""
    policy = config.data.shard_policy
    if config.batch_size % workers:
        raise ValueError(f"config.batch_size ({config.batch_size}, the global batch) must be "
                         f"a multiple of the {workers} workers")
    files = _train_files(config, d)
    train, why_train = distribute.shard_policy(policy, files and len(files), workers)
    # Validation is one pass that must see each image once: Keras runs as many steps as
    # the pass has global batches, which only data sharding gives every worker (by file,
    # measured: 13 of 16 images evaluated with 3 uneven files on 2 workers).
    val, why_val = "data", "one pass over every image"
    if train == "file":
        # Each worker gets len // workers files at least; the smallest ones, at worst.
        sizes = sorted(_file_sizes(files))
        least = sum(sizes[:len(sizes) // workers])
        need = steps * config.batch_size // workers
        if least < need and policy == "auto":
            train, why_train = "data", (f"file sharding could leave a worker {least:,} "
                                        f"images for its {need:,} per epoch")
        elif least < need:
            raise ValueError(f"config.data.shard_policy is file, but a worker could get only "
                             f"{least:,} training images for the {need:,} an epoch needs of "
                             f"it: set data.shard_policy to auto or data, or split the data "
                             f"into more, even files")
    log(f"sharding over {workers} workers (data.shard_policy {policy}): training by "
        f"{train} ({why_train}), validation by {val} ({why_val})")
    return train, val


def _train_files(config, d):
    """The files (for tfds, the file instructions) the training data is read from; None
    for data not read from files."""
    if d.patterns:  # TFRecords: training, validation
        return data.shard_files(d.patterns[0])
    if config.data.source == "tfds":
        name = config.data.train
        if str(name).startswith(data.TFDS_PREFIX):  # the tools' syntax, as make_data takes it
            name = data.tfds_path(name, None)[0]
        builder = data.tfds_builder(name, config.data.data_dir)
        return list(builder.info.splits[config.data.train_split].file_instructions)
    return None


def _file_sizes(files):
    """The number of examples of each of `files` (TFRecord files or tfds file
    instructions)."""
    return [count_examples(f) if isinstance(f, str) else f.take for f in files]


def _explain_data_error(error, patterns, classes, source):
    """Re-raises a TF error from the input pipeline as `BadData`: for TFRecords, naming
    the shards and records at fault (found by reading every record; the original error
    if none is); for other sources (`source`: config.data.train), with TF's reason."""
    if "IteratorGetNext" not in (error.message or ""):
        raise error  # not from the input pipeline: reading every record would not help
    if not patterns:
        raise BadData(f"an image of {source} (training or validation data) cannot be read or "
                      f"decoded: {data.error_reason(error)} (the last checkpoint stands; "
                      f"remove or fix the image, then re-run to resume)") from None
    print(f"\n{type(error).__name__} while training; checking the TFRecords ...")
    bad = [b for p in patterns for b in data.find_bad_records(p, classes)]
    if not bad:
        raise error
    lines = [f"  {shard}: record {index}: {reason}" for shard, index, reason in bad[:20]]
    raise BadData(f"{len(bad)} bad record(s) stopped training (the last checkpoint stands; "
                  f"rebuild these shards, then re-run to resume):\n" + "\n".join(lines)) \
        from None


# ---------------------------------------------------------------------------- train

def train(config, workdir, on_lost=None):
    """Trains per `config` in `workdir`, resuming from its latest checkpoint if any.

    Returns the history (a list of per-epoch metric dicts, resumed epochs included).
    Raises `TrainingDiverged` if the loss becomes NaN or infinite, `BadData` if a record
    cannot be read or decoded, `checkpoint.CheckpointWriteError` if a checkpoint cannot be
    written, `ValueError` for a bad config or a workdir whose run started with another
    config (`check_resume_config`; `checkpoint.CheckpointMismatch` for a workdir of another
    model). Under `multi_worker` (README, "Multi-worker training"), also
    `distribute.PeersMissing` if the other workers do not join within
    `config.peer_timeout` seconds, `distribute.WorkersDisagree` if the workers were given
    different workdirs or configs or restored different states (before any step), and
    `distribute.WorkerLost` if TF reports a lost worker. A thread also watches the other
    workers (`distribute.PeerWatch`) and, when one is lost while this one works alone,
    calls `on_lost(WorkerLost)`, which must end the process (default:
    `distribute.exit_lost`, one line and exit status 1).
    """
    started = time.monotonic()
    o = config.optimizer
    if o.schedule not in ("plateau", "step"):
        raise ValueError(f"config.optimizer.schedule must be 'plateau' or 'step', got "
                         f"{o.schedule!r}")
    if config.op_determinism:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
    path = distribute.compute_path(config.precision, config.jit_compile, config.strategy)
    keras.mixed_precision.set_global_policy(path.precision)  # also resets to float32
    if config.strategy != "multi_worker":
        strategy, devices = distribute.get_strategy(config.strategy)
        os.makedirs(workdir, exist_ok=True)
        return _train(config, workdir, strategy, devices, path, None, workdir, None, started)
    cluster = distribute.Cluster.from_env()
    strategy = distribute.multi_worker_strategy(
        cluster, config.get("peer_timeout", distribute.PEER_TIMEOUT))
    # Only the chief writes to the workdir; another worker's own files go to a folder of
    # its own there.
    out_dir = (workdir if cluster.is_chief
               else os.path.join(workdir, f".worker-{cluster.task[1]}"))
    os.makedirs(out_dir, exist_ok=True)
    if not cluster.is_chief:
        print(f"{cluster.name()}: the chief, {cluster.name(cluster.tasks[0])}, prints the "
              f"progress and writes the checkpoints, logs and model to {workdir}; this "
              f"worker prints only errors and writes only to {out_dir} (its copy of built "
              f"data, and checkpoint copies it deletes at once)", flush=True)

    def resume_from():
        return _resume_point(os.path.join(workdir, "checkpoints"))

    with distribute.report_lost_workers(cluster, resume_from), distribute.PeerWatch(
            cluster, on_lost or distribute.exit_lost, resume_from) as watch:
        distribute.check_same_run(strategy, cluster, workdir, config.to_dict())
        return _train(config, workdir, strategy, None, path, cluster, out_dir, watch, started)


def _resume_point(directory):
    """Where a restart resumes, in words: the newest checkpoint in `directory`."""
    latest = checkpoint.latest(directory)
    if not latest:
        return "No checkpoint was written yet: a restart starts the run over"
    epoch, step = checkpoint.position(latest)
    return (f"A restart resumes from the last checkpoint, {latest} (epoch {epoch + 1}, step "
            f"{step})")


def _quiet(*args, **kwargs):
    """`print` on a worker other than the chief, which prints only errors."""


def _train(config, workdir, strategy, devices, path, cluster, out_dir, watch, started):
    """`train` once the strategy is up: `cluster` is the `distribute.Cluster` under
    multi_worker (else None), `out_dir` where this worker writes (the workdir, or a
    non-chief worker's own folder in it), `watch` its `distribute.PeerWatch`."""
    o = config.optimizer
    chief = cluster is None or cluster.is_chief
    say = print if chief else _quiet
    jit_compile = path.jit_compile
    say(f"precision: {path.precision}, XLA: {'on' if jit_compile else 'off'} "
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
    train_policy = val_policy = None
    if cluster:
        train_policy, val_policy = _shard_policies(config, d, cluster.size, steps, say)
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
    restored = checkpoints.restore(log=say)
    if restored:
        latest, epoch, step, schedule_state = restored
        history = load_history(os.path.join(workdir, "history.json"), epoch)
        say(f"resuming from {latest}: epoch {epoch + 1}, step {step} of {steps}")
        if step >= steps:
            raise ValueError(f"{latest} is at step {step} of epoch {epoch + 1}, but an epoch "
                             f"now has {steps} steps: resume with the data and "
                             f"config.steps_per_epoch the run started with")
        check_resume_config(read_json(os.path.join(workdir, "config.json")), config)
    first_epoch = epoch + (step > 0)  # this process's first whole epoch
    if chief and not restored:  # conv1's start, for its distance from it (probe, report)
        probe.save_conv1_init(model, out_dir)
    if cluster:  # every worker must go on from the same state
        distribute.check_same_state(strategy, cluster, epoch, step, checkpoints.variables())
    if chief:
        write_json(os.path.join(out_dir, "config.json"), config.to_dict())

    schedule = LearningRateSchedule(
        o.learning_rate, factor=o.lr_factor, patience=o.plateau_patience,
        min_delta=o.plateau_min_delta, window=o.plateau_window, max_reductions=o.max_reductions,
        boundaries=list(o.step_epochs) if o.schedule == "step" else None,
        warmup_steps=round(o.warmup_epochs * steps))
    if schedule_state:
        schedule.state = schedule_state
    nan_guard = StopOnNaN()
    log_dir = os.path.join(out_dir, "logs")
    tensorboard = tensorboard_callbacks(log_dir, config) if chief else []

    dropped = [DroppedRecords(*d.dropped)] if d.dropped else []
    probing = []
    if config.probe_every_steps and chief:
        probe_images, probe_labels = next(iter(d.validation))
        probing = [probe.LayerProbe(probe_images, probe_labels, config.probe_every_steps,
                                    out_dir, epoch * steps + step)]

    def callbacks(first_step):
        cbs = [schedule, Throughput(config.batch_size), EpochTime(), nan_guard, *dropped,
               HistoryWriter(history, history_path if chief else None), *tensorboard,
               *probing]
        return cbs + [Checkpointer(checkpoints, schedule, nan_guard,
                                   config.checkpoint_every_steps, steps, first_step)]

    say(f"training on {d.train_examples:,} images ({steps} steps of {config.batch_size} per epoch) "
        f"for {config.epochs} epochs; strategy {config.strategy}, jit_compile "
        f"{jit_compile}; logs in {log_dir}")
    # Under file sharding each worker reads only its own files, and tf.distribute splits
    # every batch a worker reads into one batch per worker, all of them its own: a step
    # then takes batch_size / workers images of the worker's files. Its epochs are cut
    # (and a resumed epoch skipped) here image by image, and batched again in `run_data`.
    per_worker = config.batch_size // cluster.size if train_policy == "file" else None

    def epoch_data(e, skip=0):
        # Exactly `steps` batches per epoch, so that epochs never run into each other when
        # steps_per_epoch is less than the data's batches; fewer (the data ran out) is an
        # error from `assert_cardinality` when the epoch ends, where Keras would go on
        # into the next epoch's data.
        if d.dropped:
            # An epoch shortened by dropped records is refilled from its start, and a
            # resumed epoch skips batches after the drops, as the first run counted them.
            ds = d.epoch(e).repeat(2)
        else:
            ds = d.epoch(e, 0 if per_worker else skip)  # skipped before decoding
        if per_worker:
            n = (steps - skip) * per_worker
            ds = ds.unbatch().skip(skip * per_worker)
        else:
            n = steps - skip
            ds = ds.skip(skip) if d.dropped else ds
        return ds.take(n).apply(tf.data.experimental.assert_cardinality(n))

    def run_data(parts):
        ds = parts[0]
        for part in parts[1:]:
            ds = ds.concatenate(part)
        if per_worker:  # whole batches again; images to complete the last one, never used
            ds = ds.concatenate(parts[-1].repeat().take(config.batch_size))
            ds = ds.batch(config.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
        return ds.with_options(distribute.shard_options(train_policy)) if cluster else ds

    runs = []
    if step and epoch < config.epochs:  # the rest of the interrupted epoch
        runs.append((run_data([epoch_data(epoch, step)]), epoch, epoch + 1, steps - step, step))
        epoch += 1
    if epoch < config.epochs:
        runs.append((run_data([epoch_data(e) for e in range(epoch, config.epochs)]), epoch,
                     config.epochs, steps, 0))
    validation = (d.validation.with_options(distribute.shard_options(val_policy)) if cluster
                  else d.validation)
    for ds, first, last, n_steps, first_step in runs:
        try:
            with warnings.catch_warnings():
                # Training data that runs out is an error (`epoch_data`); for validation
                # read tolerantly (unknown size), Keras' warning at the pass's end is noise.
                warnings.filterwarnings("ignore", message="Your input ran out of data")
                if not chief:  # the chief shows the same warnings
                    warnings.simplefilter("ignore")
                model.fit(ds, initial_epoch=first, epochs=last, steps_per_epoch=n_steps,
                          validation_data=validation, callbacks=callbacks(first_step),
                          verbose=config.verbose if chief else 0)
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
            _explain_data_error(e, d.patterns, d.classes, config.data.train)
        except tf.errors.FailedPreconditionError as e:  # `epoch_data`'s cardinality check
            if "elements but contained only" not in (e.message or ""):
                raise
            ran_out = int(model.optimizer.iterations.numpy()) // steps + 1
            raise BadData(f"the training data ran out in epoch {ran_out}: an epoch needs "
                          f"{steps} batches of {config.batch_size} (check "
                          f"config.data.train_examples and steps_per_epoch, or the records "
                          f"dropped by data.skip_bad_records; the last checkpoint "
                          f"stands)") from None
        if nan_guard.bad_step is not None:
            raise TrainingDiverged(
                f"the loss became NaN or infinite in epoch {nan_guard.bad_epoch + 1} (step "
                f"{nan_guard.bad_step + 1} of this run's part of it); the last good checkpoint "
                f"is kept in {checkpoints.directory} (lower config.optimizer.learning_rate)")

    if cluster:
        # A barrier: a worker done first waits here for the others' last callbacks, so
        # that no watch sees a peer end normally; the chief then exports alone.
        distribute.all_gather(strategy, cluster, [])
        watch.stop()
    if chief:
        save_run(out_dir, model, d.wnids, d.names)
        record_resources(out_dir, started, len(history), first_epoch)
    return history


def record_resources(workdir, started, epochs, first_epoch):
    """Appends what the process that finished the run used to `workdir/resources.json`:
    its wall time from `train`'s start (data generation or TFRecord building, training,
    validation and the export included; Python's and TensorFlow's imports not), its peak
    resident memory, the run's epochs and the whole epochs this process trained (from
    `first_epoch` on; a resumed, interrupted epoch is not counted). A process that was
    interrupted records nothing; a finished run rerun (nothing left to train) adds an
    entry with no epochs trained."""
    import resource  # POSIX: where there is none, the run records nothing
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    path = os.path.join(workdir, "resources.json")
    write_json(path, read_json(path, []) + [{
        "wall_seconds": round(time.monotonic() - started, 1),
        "peak_memory_gib": round(peak_kib / 2 ** 20, 2), "epochs": epochs,
        "epochs_trained": max(0, epochs - first_epoch)}])
