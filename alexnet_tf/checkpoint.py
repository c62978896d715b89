"""Checkpoints of a training run, as standard TensorFlow checkpoints.

`Checkpoints` saves, with `tf.train.Checkpoint` and `tf.train.CheckpointManager`,
everything a run needs to continue exactly: every model variable (weights, the
augmentation's statistics, the random states of augmentation and dropout), every
optimizer variable (momentum, iteration count, learning rate; loss scale under
mixed_float16), and a small `RunState` (epoch, step within it, the learning-rate
schedule's state). `WORKDIR/checkpoints/` then holds TF's usual files:

    checkpoint                      TF's pointer to the newest checkpoint (written last)
    ckpt-<global step>.index        one checkpoint: index and data, written by TF to
    ckpt-<global step>.data-*       temporary names and renamed when complete

so `tf.train.latest_checkpoint`, `tf.train.list_variables` and `tf.train.load_checkpoint`
read them. Variables are saved under their place in the model, e.g.
`model/alexnet/conv1/kernel_0` and `optimizer/momentum/alexnet/conv1/kernel_0`, not by
position, and not under Keras' auto-generated variable paths, which change with the
number of layers a process has built before (`seed_generator_7`).

Multi-worker training follows TF's documented pattern: every worker saves (a
distributed variable's read may need the other workers), the chief into the workdir,
the others into a temporary folder that is deleted straight away.
"""
import json
import os
import shutil

import keras
import tensorflow as tf

from alexnet_tf.config import flatten
from alexnet_tf.recipe import net_lrn_alpha


class RunState(tf.Module):
    """Where a run is (epoch, steps done in it) and the learning-rate schedule's state, as
    variables saved in the same checkpoint as the weights."""

    def __init__(self):
        super().__init__(name="run_state")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.schedule = tf.Variable("{}", dtype=tf.string, trainable=False, name="schedule")


def model_variables(model):
    """`{name: variable}` for every variable of `model`, named by the layers that hold it
    (`alexnet/conv1/kernel_0`, `alexnet/dropout6/seed_generator_state`): names fixed by
    the model's structure, the same in every process."""
    found = {}

    def walk(layer, prefix):
        if isinstance(layer, keras.Model):
            for sub in layer.layers:
                walk(sub, f"{prefix}{sub.name}/")
            return
        for v in layer.variables:
            key = prefix + v.name
            if key in found:
                raise ValueError(f"two variables would be saved as {key!r}")
            found[key] = v

    walk(model, "")
    return found


def optimizer_variables(optimizer, model):
    """`{name: variable}` for every variable of `optimizer` (built on
    `model.trainable_variables`): each momentum slot named after its weight
    (`momentum/alexnet/conv1/kernel_0`), the rest by name (`iteration`,
    `learning_rate`; `loss_scale/...` for a LossScaleOptimizer's own)."""
    names = {id(v): k for k, v in model_variables(model).items()}
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    found = {}
    # Keras' SGD keeps one momentum per variable of `build(var_list)`, in that order.
    for weight, slot in zip(model.trainable_variables, getattr(inner, "momentums", [])):
        found[f"momentum/{names[id(weight)]}"] = slot
    claimed = {id(v) for v in found.values()}
    for prefix, opt in (("", inner), ("loss_scale/", optimizer)):
        for v in opt.variables:
            if id(v) not in claimed:
                key = prefix + v.name
                if key in found:
                    raise ValueError(f"two optimizer variables would be saved as {key!r}")
                found[key] = v
                claimed.add(id(v))
    return found


class CheckpointMismatch(ValueError):
    """A checkpoint does not fit the model being trained."""


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written (e.g. the disk is full); the previous one stands."""


class Checkpoints:
    """Saves and restores a run's checkpoints in `directory` (see the module docstring).

    Args:
        directory: the checkpoint folder.
        model: the compiled training model (its optimizer built).
        write: False on a non-chief worker: saves go to `temp_directory` and are
            deleted (every worker must take part in a save).
        temp_directory: where a non-chief worker's saves go.
        keep: how many checkpoints to keep.
    """

    def __init__(self, directory, model, write=True, temp_directory=None, keep=2):
        self.state = RunState()
        self.checkpoint = tf.train.Checkpoint(
            model=model_variables(model),
            optimizer=optimizer_variables(model.optimizer, model), state=self.state)
        self.directory, self.write = directory, write
        self.save_directory = directory if write else temp_directory
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.save_directory, max_to_keep=keep, checkpoint_name="ckpt")

    def variables(self):
        """Every saved variable by its name in the checkpoint (`model/...`,
        `optimizer/...`, `state/epoch`, `state/step`, `state/schedule`)."""
        found = {f"{group}/{key}": v for group in ("model", "optimizer")
                 for key, v in getattr(self.checkpoint, group).items()}
        found.update({f"state/{v.name.split(':')[0]}": v for v in
                      (self.state.epoch, self.state.step, self.state.schedule)})
        return found

    def save(self, epoch, step, steps_per_epoch, schedule_state):
        """Saves the run as it is after `step` steps of `epoch` (0-based)."""
        self.state.epoch.assign(epoch)
        self.state.step.assign(step)
        self.state.schedule.assign(json.dumps(schedule_state))
        try:
            path = self.manager.save(checkpoint_number=epoch * steps_per_epoch + step)
        except (OSError, tf.errors.OpError) as e:
            # TF writes a checkpoint under temporary names and points `checkpoint` at it
            # only once it is complete, so the previous one is untouched.
            raise CheckpointWriteError(
                f"could not write a checkpoint to {self.save_directory} ({_first_line(e)}); "
                f"the previous one ({self.manager.latest_checkpoint or 'none'}) is intact: "
                f"free some space and re-run the same command to resume from it") from None
        if not self.write:
            shutil.rmtree(self.save_directory, ignore_errors=True)
        return path

    def restore(self, log=print):
        """Restores the newest readable checkpoint of `directory`; returns
        `(path, epoch, step, schedule_state)`, or None if there is none.

        A checkpoint that cannot be read (truncated, missing data) is skipped with a
        warning for the one before it. One written for another model or optimizer
        raises `CheckpointMismatch`: nothing is restored from it."""
        state = tf.train.get_checkpoint_state(self.directory)
        if state is None:
            return None
        candidates = list(reversed(state.all_model_checkpoint_paths)) or [
            state.model_checkpoint_path]
        for path in candidates:
            path = path if os.path.isabs(path) else os.path.join(self.directory, path)
            try:
                saved = dict(tf.train.list_variables(path))
            except Exception as e:  # noqa: BLE001 (a damaged index: several error types)
                log(f"warning: checkpoint {path} cannot be read ({_first_line(e)}); "
                    f"trying the one before it")
                continue
            self._check_fits(path, saved)  # names and shapes: a mismatch is refused here
            try:
                self.checkpoint.restore(path).assert_consumed()
            except AssertionError as e:
                raise CheckpointMismatch(
                    f"checkpoint {path} was written for a different model or optimizer "
                    f"({_first_line(e)}); use a new --workdir") from None
            except Exception as e:  # noqa: BLE001 (TF reports damaged data in several ways)
                log(f"warning: checkpoint {path} cannot be read ({_first_line(e)}); "
                    f"trying the one before it")
                continue
            return (path, int(self.state.epoch.numpy()), int(self.state.step.numpy()),
                    json.loads(self.state.schedule.numpy().decode()))
        raise CheckpointMismatch(f"no readable checkpoint in {self.directory} (all of "
                                 f"{len(candidates)} are damaged); move it away to start "
                                 f"afresh")

    def _check_fits(self, path, saved):
        """Variables missing on either side, or of other shapes, said plainly before TF's
        own restore. `saved` maps the checkpoint's names to shapes."""
        ours = {f"{group}/{_escape(key)}/.ATTRIBUTES/VARIABLE_VALUE": list(v.shape)
                for group, variables in (("model", self.checkpoint.model),
                                         ("optimizer", self.checkpoint.optimizer))
                for key, v in variables.items()}
        theirs = {n: s for n, s in saved.items() if n.startswith(("model/", "optimizer/"))}
        missing, extra = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
        reshaped = sorted(n for n in set(ours) & set(theirs) if ours[n] != theirs[n])
        if missing or extra or reshaped:
            what = ([f"not in it: {', '.join(_unescape(missing[:3]))}"] if missing else []) + \
                ([f"only in it: {', '.join(_unescape(extra[:3]))}"] if extra else []) + \
                [f"{_unescape([n])[0]} is {theirs[n]} in it, {ours[n]} here"
                 for n in reshaped[:3]]
            raise CheckpointMismatch(
                f"checkpoint {path} was written for a different model or optimizer "
                f"({'; '.join(what)}); use a new --workdir")


def _escape(key):
    # TF's object-graph names escape "/" inside a dictionary key as ".S" ("." as "..").
    return key.replace(".", "..").replace("/", ".S")


def _unescape(names):
    return [n.split("/", 1)[1].rsplit("/.ATTRIBUTES", 1)[0].replace(".S", "/")
            .replace("..", ".") for n in names]


def _first_line(error):
    text = getattr(error, "message", None) or str(error)
    return (text.strip().splitlines() or [type(error).__name__])[0][:300]


def latest(directory):
    """The newest checkpoint's path prefix in `directory` (`.../ckpt-N`), or None."""
    return tf.train.latest_checkpoint(directory)


def position(path):
    """`(epoch, step)` of a checkpoint (0-based epoch, steps done in it), read without
    its weights."""
    reader = tf.train.load_checkpoint(path)
    return tuple(int(reader.get_tensor(f"state/{k}/.ATTRIBUTES/VARIABLE_VALUE"))
                 for k in ("epoch", "step"))


def read(path):
    """`(variables, state)` of a checkpoint: `{name: numpy array}` for every model and
    optimizer variable, and `{"epoch", "step", "schedule"}`."""
    reader = tf.train.load_checkpoint(path)
    names = [n for n, _ in tf.train.list_variables(path)]
    variables = {n.rsplit("/.ATTRIBUTES", 1)[0]: reader.get_tensor(n) for n in names
                 if n.startswith(("model/", "optimizer/"))}
    state = {k: reader.get_tensor(f"state/{k}/.ATTRIBUTES/VARIABLE_VALUE")
             for k in ("epoch", "step", "schedule")}
    state = {"epoch": int(state["epoch"]), "step": int(state["step"]),
             "schedule": json.loads(state["schedule"].decode())}
    return variables, state


def load_history(path, before_epoch):
    """The per-epoch metrics saved at `path` (JSON) for epochs before `before_epoch`."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [h for h in json.load(f) if h["epoch"] < before_epoch]


# What a resumed run may change: how long it runs, what it logs and how often, and where
# its data is (the same data may move or be named another way, e.g. a tfds folder or its
# name; data of another size is refused by the steps-per-epoch check).
RESUME_MAY_CHANGE = ("epochs", "verbose", "log_every_steps", "histogram_freq",
                     "checkpoint_every_steps", "probe_every_steps", "peer_timeout", "peer_watch",
                     "validation_every", "train_eval_stop", "optimizer.end_at_plateau",
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
    old, new = (flatten(json.loads(json.dumps(c)))
                for c in (saved, config.to_dict()))
    changed = [f"{k} {old[k]!r} -> {new[k]!r}" for k in sorted(set(old) & set(new))
               if old[k] != new[k] and k not in RESUME_MAY_CHANGE]
    if changed:
        raise ValueError(f"the workdir's run started with another config ({'; '.join(changed)}):"
                         f" resume it with the config it started with (only "
                         f"{', '.join(RESUME_MAY_CHANGE)} may change), or give a new --workdir")
