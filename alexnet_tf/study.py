"""Studies: one training config run as several variants, each with several seeds.

A study is a Python file (`configs/studies/*.py`) whose `get_study()` returns a dict (or an
ml_collections ConfigDict) with these fields:

    base            the config: a file relative to configs/ ("imagenette.py"), or a
                    module's `get_config` function (the runs are given that module's file)
    variants        {name: {dotted config field: value}}, e.g. {"no_lrn": {"model.lrn": False}};
                    nested dicts ({"model": {"lrn": False}}) mean the same
    seeds           [0, 1, 2]: every variant is trained once per seed (config field `seed`)
    overrides       optional, {dotted field: value} for every variant (a variant's own win)
    baseline        optional, the variant the others are compared with (default "baseline"),
                    or {variant: its baseline} to compare pairs (e.g. a fine-tuned run
                    with the run from scratch on the same data)
    paper_effects   optional, {variant: {"top1": 0.014, "text": "..."}}: the paper's change of
                    the final top-1 error, variant minus baseline, as a fraction
    threshold       optional, the training top-1 error of "epochs to reach it" (Fig. 1: 0.25)
    threshold_key   optional, the history key of that error (default "top1_error", the
                    running error of training; "train_eval_top1_error": the net in
                    inference mode on a fixed training sample, alexnet_tf.train_eval)
    speedup         optional, {"slow": variant, "fast": variant, "paper": 6.0}: the report
                    gives the ratio of their epochs to the threshold, seed by seed, against
                    the paper's (Fig. 1: tanh needs six times the epochs of ReLU), and fig1.png
    validation_data optional, what `--evaluate` reads (default: each run's validation data)
    description     optional, one line for the report

`run_study(study_file, workdir, jobs=1, variants=None)` trains every (variant, seed), or
those of the chosen variants, `jobs` at a time, each as an ordinary training workdir
`WORKDIR/<variant>/seed-<n>/`, each in its own `python -m alexnet_tf.train` process (the
library's `train()`), given the overrides as
`--config.FIELD=VALUE` flags: `train()` sets process-wide Keras state (precision policy,
random seeds, op determinism), so a fresh process per run keeps runs independent, a crash
stays in its run, and every run can be repeated by hand with the command recorded in its
`study_run.json`. Runs go seed by seed (every variant's seed 0, then seed 1, ...), so a study
stopped early already compares all variants.

Runs with the same `data` settings and seed read the same TFRecords: a run that builds
its data (`data.source` images or generated, into its `data/` folder) gets hard links to
the `data/` of a finished run instead of building it again (`share_data`; copies if the
file system cannot link). The builder's output is fixed by its inputs, options and seed,
and the run's build step still checks the folder against the images (their names and
sizes, each shard's sha256) before it trains. This saves a build per variant (about a
minute and 330 MB for Imagenette at 2 cores; several minutes with the CPUs busy).

The study can be stopped at any moment (Ctrl-C, kill, even kill -9) and the same command
continues it: finished runs are skipped, an interrupted run is resumed by running its train
command again (`train()` resumes from its checkpoints). Seeds and variants can be added to the
study file later; changing the overrides of a run that has started is refused.

The study folder:

    WORKDIR/study.json                   the resolved study (what the runs were made from)
    WORKDIR/<variant>/seed-<n>/          a training workdir (`alexnet_tf.train`), plus:
        study_run.json                   its base, overrides, train command and attempts
                                         (start, wall seconds, exit code)
        train.log                        the train command's output
    WORKDIR/REPORT.md, *.png             `alexnet_tf.report.write_report`
"""
import concurrent.futures
import ctypes
import fnmatch
import dataclasses
import datetime
import functools
import importlib.util
import inspect
import json
import numbers
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

import ml_collections

from alexnet_tf import config as config_fields
from alexnet_tf.config import CONFIGS, flatten
from alexnet_tf.files import read_json, write_json
from alexnet_tf.rundir import RunDir

TRAIN_COMMAND = (sys.executable, "-m", "alexnet_tf.train")  # the installed package's own
STUDY_FIELDS = ("base", "variants", "seeds", "overrides", "baseline", "paper_effects",
                "threshold", "threshold_key", "speedup", "validation_data", "description")
RECORD_EVERY = 10  # seconds: how much wall time a kill -9 can lose from a run's record


class StudyError(ValueError):
    """A bad study file or study folder; the message is one line for the user."""


# ---------------------------------------------------------------------------- the study

def _load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # a user's Python file: report it in one line
        raise StudyError(f"{path}: {type(e).__name__}: {e}") from None
    return module


def set_field(config, key, value, where):
    """Sets the dotted field `key` of `config`, type-checked by ConfigDict (which turns a
    list into a tuple for a tuple field). `where` names the variant in the error."""
    *parents, leaf = key.split(".")
    node = config
    for part in parents:
        node = node.get(part) if isinstance(node, ml_collections.ConfigDict) else None
    if not isinstance(node, ml_collections.ConfigDict) or leaf not in node:
        raise StudyError(f"{where}: unknown config field {key!r}")
    if isinstance(node[leaf], ml_collections.ConfigDict):
        raise StudyError(f"{where}: {key!r} is a group of fields: set them one by one")
    try:
        node[leaf] = value
    except (TypeError, ValueError) as e:
        raise StudyError(f"{where}: {key}={value!r}: {e}") from None


def _jsonable(value):
    """The value as JSON gives it back (tuples become lists), for study.json and comparing."""
    return json.loads(json.dumps(value))


def base_config(base):
    """The ConfigDict of a study's `base` (a path relative to configs/, or absolute)."""
    path = os.path.join(CONFIGS, base)
    if not os.path.isfile(path):
        raise StudyError(f"base config {path} not found")
    return _load_module(path, "study_base_config").get_config()


def _base_name(base, study_file):
    """The study's `base` as a path relative to configs/ (absolute if outside it)."""
    if callable(base):
        # tools/train.py runs get_config() of a file: the function must be one.
        if getattr(base, "__name__", None) != "get_config":
            raise StudyError(f"{study_file}: base must be a configs/ file name or a module's "
                             f"get_config function, got {base!r}")
        path = os.path.abspath(inspect.getsourcefile(base))
    elif isinstance(base, str):
        path = os.path.join(CONFIGS, base)
    else:
        raise StudyError(f"{study_file}: base must be a configs/ file name or a get_config "
                         f"function, got {base!r}")
    relative = os.path.relpath(path, CONFIGS)
    return path if relative.startswith("..") else relative


def load_study(study_file):
    """The study of `study_file`, checked and resolved into a plain JSON-able dict: the
    fields of the module docstring with defaults filled in, overrides as flat
    {dotted field: value}, and `epochs` (each variant's config.epochs).
    Raises `StudyError` naming what is wrong."""
    if not os.path.isfile(study_file):
        raise StudyError(f"study file {study_file} not found")
    module = _load_module(study_file, "study_" + re.sub(r"\W", "_", study_file))
    if not hasattr(module, "get_study"):
        raise StudyError(f"{study_file} has no get_study() function")
    raw = module.get_study()
    raw = raw.to_dict() if isinstance(raw, ml_collections.ConfigDict) else dict(raw)
    unknown = sorted(set(raw) - set(STUDY_FIELDS))
    if unknown:
        raise StudyError(f"{study_file}: unknown study field(s) {', '.join(unknown)} (known: "
                         f"{', '.join(STUDY_FIELDS)})")
    for field in ("base", "variants", "seeds"):
        if not raw.get(field):
            raise StudyError(f"{study_file}: the study needs {field!r}")

    seeds = list(raw["seeds"])
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds) or \
            len(set(seeds)) != len(seeds):
        raise StudyError(f"{study_file}: seeds must be distinct integers, got {seeds}")
    if not (isinstance(raw["variants"], dict) and isinstance(raw.get("overrides") or {}, dict)
            and all(isinstance(v, dict) for v in raw["variants"].values())):
        raise StudyError(f"{study_file}: variants must be {{name: {{field: value}}}} and "
                         f"overrides {{field: value}}")
    variants = {name: flatten(v) for name, v in raw["variants"].items()}
    common = flatten(raw.get("overrides") or {})
    base = _base_name(raw["base"], study_file)
    epochs = {}
    for name, overrides in variants.items():
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", name) or name.startswith("."):
            raise StudyError(f"{study_file}: variant name {name!r} is not a plain folder name")
        for key, value in {**common, **overrides}.items():
            if key == "seed":
                raise StudyError(f"variant {name!r}: seeds are set by the study's 'seeds'")
            _flag(key, value, f"variant {name!r}")  # fails now if it has no flag form
        config = resolve_config(base, common, overrides, seeds[0], f"variant {name!r}")
        epochs[name] = int(config.epochs)

    baseline = raw.get("baseline", "baseline" if "baseline" in variants else None)
    pairs = isinstance(baseline, dict)
    named = set(baseline) | set(baseline.values()) if pairs else {baseline} - {None}
    if (pairs and (not baseline or any(k == v for k, v in baseline.items()))) or \
            not all(isinstance(n, str) for n in named) or not named <= set(variants):
        raise StudyError(f"{study_file}: baseline {baseline!r} must be a variant or "
                         f"{{variant: another variant}} (variants: {', '.join(variants)})")
    paper = raw.get("paper_effects") or {}
    for name, effect in paper.items():
        if name not in variants or not isinstance(effect, dict) or \
                not isinstance(effect.get("top1"), numbers.Real):
            raise StudyError(f"{study_file}: paper_effects[{name!r}] must name a variant and "
                             f"give 'top1' as a number (variant minus baseline)")
    if not isinstance(raw.get("threshold", 0.25), numbers.Real):
        raise StudyError(f"{study_file}: threshold must be a number (a training top-1 error)")
    if not isinstance(raw.get("threshold_key", "top1_error"), str):
        raise StudyError(f"{study_file}: threshold_key must be a history key, e.g. "
                         f"'train_eval_top1_error'")
    speedup = raw.get("speedup")
    if speedup is not None and not (
            isinstance(speedup, dict) and set(speedup) <= {"slow", "fast", "paper"}
            and speedup.get("slow") in variants and speedup.get("fast") in variants
            and isinstance(speedup.get("paper", 1.0), numbers.Real)):
        raise StudyError(f"{study_file}: speedup must be {{'slow': variant, 'fast': variant, "
                         f"'paper': number}}, got {speedup!r}")
    return _jsonable(dict(
        study=os.path.abspath(study_file), description=raw.get("description", ""), base=base,
        overrides=common, variants=variants, seeds=seeds, baseline=baseline,
        paper_effects=paper, threshold=float(raw.get("threshold", 0.25)),
        threshold_key=raw.get("threshold_key", "top1_error"), speedup=speedup,
        validation_data=raw.get("validation_data"), epochs=epochs))


def resolve_config(base, common, overrides, seed, where="the study"):
    """The base config with the common overrides, then the variant's, then the seed."""
    config = base_config(base)
    for key, value in {**common, **overrides}.items():
        set_field(config, key, value, where)
    set_field(config, "seed", seed, where)
    return config


def _flag(key, value, where):
    """`--config.KEY=VALUE` as the train command parses it (`alexnet_tf.config`):
    booleans as true/false (absl's boolean parser), tuples as a Python literal (its tuple
    parser), strings as they are, numbers by repr."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, (tuple, list)):
        text = repr(tuple(value))
    elif isinstance(value, numbers.Integral):
        text = str(int(value))
    elif isinstance(value, numbers.Real):
        text = repr(float(value))
    else:  # None among them: config_flags cannot set a field to None
        raise StudyError(f"{where}: {key}={value!r} cannot be given on the command line")
    return f"--config.{key}={text}"


# ---------------------------------------------------------------------------- runs

@dataclasses.dataclass
class Run:
    """One (variant, seed) of a study: a training workdir, the base config and overrides
    (common and the variant's, seed apart) it is trained with, and the command that does."""
    variant: str
    seed: int
    directory: str
    epochs: int
    base: str
    overrides: dict
    command: list

    @property
    def name(self):
        return f"{self.variant}/seed-{self.seed}"


def run_directory(workdir, variant, seed):
    return os.path.join(workdir, variant, f"seed-{seed}")


def plan(spec, workdir):
    """The study's runs, seed by seed, each with its train command (absolute
    paths, so that it can be repeated by hand from anywhere)."""
    workdir = os.path.abspath(workdir)
    runs = []
    for seed in spec["seeds"]:
        for variant, overrides in spec["variants"].items():
            directory = run_directory(workdir, variant, seed)
            overrides = {**spec["overrides"], **overrides}
            command = [*TRAIN_COMMAND, "--config",
                       os.path.join(CONFIGS, spec["base"]), "--workdir", directory,
                       *[_flag(k, v, variant) for k, v in overrides.items()],
                       f"--config.seed={seed}"]
            runs.append(Run(variant, seed, directory, spec["epochs"][variant], spec["base"],
                            overrides, command))
    return runs


def history(directory):
    """The run's per-epoch metrics, [] if none yet."""
    return RunDir(directory).read_history()


def epoch_seconds(history):
    """Each epoch's time in seconds (validation included), for the epochs of a history
    that logged it."""
    return [e["epoch_seconds"] for e in history if "epoch_seconds" in e]


def median_epoch_seconds(histories):
    """The median epoch time over every epoch of `histories` that logged one, None if none
    did: a median, robust to epochs that shared the machine or were paused (SIGSTOP,
    stopped sessions)."""
    times = [t for h in histories for t in epoch_seconds(h)]
    return statistics.median(times) if times else None


def record(directory):
    """The run's study record (`RunDir.study_run`): its command and attempts."""
    return read_json(RunDir(directory).study_run, {"attempts": []})


def wall_seconds(directory):
    """Wall time of all the run's attempts (None if the study never ran it)."""
    attempts = record(directory)["attempts"]
    return sum(a["seconds"] for a in attempts) if attempts else None


def is_finished(directory, epochs):
    """A run is finished when it has its Keras model, a history whose last epoch is
    epochs - 1 (or whose end a rule decided: `config.stopped_early`), and its
    train command exited with 0: train() writes the Keras model before the class list and
    the SavedModel, so the files alone can look finished after a kill."""
    run = RunDir(directory)
    h, attempts = history(directory), record(directory)["attempts"]
    return (os.path.exists(run.model) and bool(h)
            and (h[-1]["epoch"] == epochs - 1
                 or config_fields.stopped_early(run.read_config() or {}, h))
            and bool(attempts) and attempts[-1]["exit_code"] == 0)


def duration(seconds):
    """`seconds` for a reader: tenths below 10 s (an epoch of one step takes less than one
    second), then seconds, minutes and seconds, hours and minutes."""
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def time_left(runs, scope=None):
    """Seconds the unfinished runs still need to train: each one's epochs left times the
    median epoch time over every epoch of the finished runs of its variant, or of all
    finished runs while its variant has none (`epoch_seconds`, validation included;
    variants can differ in cost several-fold, e.g. with and without LRN). A median,
    because wall time counts pauses and stopped sessions (one run paused overnight would
    make every estimate wrong); it leaves out each run's start-up and TFRecord build. Only
    if no finished run logged epoch times (histories older than epoch_seconds), their wall
    time per epoch instead; None if there is neither. `scope`: the runs whose epochs left
    count (default: all of `runs`; the epoch times are still taken from every finished
    run)."""
    done = [r for r in runs if is_finished(r.directory, r.epochs)]
    per_epoch = median_epoch_seconds(history(r.directory) for r in done)
    if per_epoch is None:
        done = [r for r in done if wall_seconds(r.directory)]
        if not done:
            return None
        per_epoch = sum(wall_seconds(r.directory) for r in done) / sum(r.epochs for r in done)
        by_variant = {}
    else:
        by_variant = {v: median_epoch_seconds(history(r.directory) for r in done
                                              if r.variant == v)
                      for v in {r.variant for r in done}}
    return sum((by_variant.get(r.variant) or per_epoch)
               * max(r.epochs - len(history(r.directory)), 0)
               for r in (runs if scope is None else scope)
               if not is_finished(r.directory, r.epochs))


# ---------------------------------------------------------------------------- the folder

def project_file(path):
    """An absolute path to a file of the project's code in this copy of the project or
    another (a `git archive` snapshot: "/work/snap/configs/classes/a.txt"), from its
    `configs/` or `tools/` folder on ("configs/classes/a.txt"), if this copy has that
    file; None for any other path. One rule for `check_runs` and the committed results."""
    if not path.startswith("/"):
        return None
    parts = path.split("/")
    for i, part in enumerate(parts[:-1]):
        if part in ("configs", "tools"):
            tail = "/".join(parts[i:])
            if os.path.isfile(os.path.join(os.path.dirname(CONFIGS), tail)):
                return tail
    return None


def _in_any_checkout(value):
    """`value` with a path to a file of the project's code cut to that folder on
    (`project_file`), so that a study started from a snapshot of the code can be resumed
    or reported from another copy; other values unchanged."""
    return (project_file(value) or value) if isinstance(value, str) else value


def check_runs(runs):
    """Raises `StudyError` if a run that has started (its study_run.json) was started with
    another base config or other overrides than the study now gives it: going on would mix
    two configs in one run. A file of the project's configs/ or tools/ counts as the same
    in every copy of the project (`_in_any_checkout`). Runs not started yet (added seeds
    and variants) are fine."""
    for run in runs:
        rec = record(run.directory)
        if "overrides" not in rec:
            continue
        before = {k: _in_any_checkout(v) for k, v in rec["overrides"].items()}
        after = {k: _in_any_checkout(v) for k, v in run.overrides.items()}
        if rec["base"] != run.base:
            change = f"base {rec['base']} -> {run.base}"
        elif before != after:
            change = ", ".join(f"{k}: {before.get(k, '(unset)')!r} -> {after.get(k, '(unset)')!r}"
                               for k in sorted(set(before) | set(after))
                               if before.get(k, "(unset)") != after.get(k, "(unset)"))
        else:
            continue
        raise StudyError(f"{run.name} was started with a different study ({change}); use a "
                         f"new --workdir or undo the change")


def prepare_workdir(spec, workdir):
    """Checks `workdir` is new, empty or a study folder whose started runs the study does
    not change (`check_runs`), locks it (`_lock`) and writes the spec to its study.json.
    Returns the lock."""
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise StudyError(f"--workdir {workdir} is a file, not a folder")
    if (os.path.isdir(workdir) and set(os.listdir(workdir)) - {".lock"}
            and not os.path.exists(os.path.join(workdir, "study.json"))):
        raise StudyError(f"--workdir {workdir} is not empty and has no study.json: give a new "
                         f"folder or a study's folder")
    os.makedirs(workdir, exist_ok=True)
    lock = _lock(workdir)
    try:
        check_runs(plan(spec, workdir))
        write_json(os.path.join(workdir, "study.json"), spec)
    except BaseException:
        lock.close()
        raise
    return lock


def data_settings(config):
    """What a run's built data depends on, from its config as saved (`RunDir.config`): its
    `data` fields and seed. More than the builder reads (data.shuffle_buffer, say), so
    some runs that could share do not; never less."""
    return config.get("data"), config.get("seed")


def share_data(run, runs):
    """Before `run` starts, gives it the `data/` folder of a finished run of `runs` whose
    saved config has the same `data_settings` as `run`'s resolved one, as hard links
    (copies where linking fails). The links go to a temporary folder renamed to `data/`
    when complete, so an interrupted share leaves no partial data folder. Returns a line
    for the log, or None if `run` has a data folder already or no run has one to give.
    An error (a full disk, say) is no failure: the run builds its own data."""
    destination = RunDir(run.directory).data
    if os.path.exists(destination):
        return None
    wanted = data_settings(_jsonable(
        resolve_config(run.base, {}, run.overrides, run.seed).to_dict()))
    for other in runs:
        source = RunDir(other.directory).data
        if (other is run or not os.path.isdir(source)
                or not is_finished(other.directory, other.epochs)
                or data_settings(RunDir(other.directory).read_config() or {}) != wanted):
            continue
        partial, copied = destination + ".sharing", []

        def link_or_copy(src, dst):
            try:
                os.link(src, dst)
            except OSError:  # another file system, or one without hard links
                copied.append(shutil.copy2(src, dst))

        try:
            shutil.rmtree(partial, ignore_errors=True)
            os.makedirs(run.directory, exist_ok=True)
            # *.tmp: a temporary file of a killed write, which a later write would reuse.
            shutil.copytree(source, partial, symlinks=True, copy_function=link_or_copy,
                            ignore=shutil.ignore_patterns("*.tmp"))
            os.rename(partial, destination)
        except OSError as e:
            shutil.rmtree(partial, ignore_errors=True)
            return f"cannot share {other.name}'s data folder ({e}); building its own"
        how = f"copied ({len(copied)} files)" if copied else "hard links"
        return f"{other.name}'s data folder (same data settings and seed), {how}"
    return None


def _lock(workdir, wait=15):
    """An exclusive lock on the study folder (an open file). Each train process inherits
    it, so a second study process on the folder waits while a train command of the first
    is still running (e.g. after a kill -9 of the first), and fails after `wait` seconds."""
    import fcntl
    f = open(os.path.join(workdir, ".lock"), "w")
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except BlockingIOError:
            if time.monotonic() > deadline:
                f.close()
                raise StudyError(f"another study process is running in {workdir}") from None
            time.sleep(0.2)


if sys.platform.startswith("linux"):
    _prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before any fork

    def _die_with_parent(parent):
        """Runs in the train process before it starts: it gets SIGKILL when the study
        process dies, even by kill -9, so no orphan keeps training in a run's folder."""
        _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the study died before the call
            os._exit(1)
else:  # elsewhere the lock above still keeps a second study out while an orphan runs
    _die_with_parent = None


# The train processes of this study process, and whether it is stopping (`stop_runs`):
# with --jobs, a run whose thread is about to start its process must not start it then.
_running, _stopping, _starting = set(), threading.Event(), threading.Lock()


def train_run(run, lock, threads=None):
    """Runs the run's train command once, appending its output to train.log and the
    attempt (start, wall seconds, exit code) to study_run.json, rewritten every
    RECORD_EVERY seconds. `threads`: TensorFlow's intra-op threads for the process (None:
    TF's default, every core). Returns the exit code."""
    os.makedirs(run.directory, exist_ok=True)
    rec = record(run.directory)
    rec.update(variant=run.variant, seed=run.seed, base=run.base, overrides=run.overrides,
               command=shlex.join(run.command))
    attempt = {"started": datetime.datetime.now().isoformat(timespec="seconds"),
               "seconds": 0.0, "exit_code": None}
    rec["attempts"].append(attempt)
    path = RunDir(run.directory).study_run
    write_json(path, rec)
    start = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if threads:  # read by TensorFlow when it starts (its process_util)
        env.update(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1")
    with open(RunDir(run.directory).train_log, "a") as log:
        log.write(f"\n=== {attempt['started']}: {rec['command']}\n")
        log.flush()
        die_with_us = (functools.partial(_die_with_parent, os.getpid())
                       if _die_with_parent else None)
        with _starting:
            if _stopping.is_set():
                raise KeyboardInterrupt  # the study is stopping: this run does not start
            proc = subprocess.Popen(run.command, stdout=log, stderr=subprocess.STDOUT,
                                    pass_fds=(lock.fileno(),), preexec_fn=die_with_us,
                                    env=env)
            _running.add(proc)
        try:
            while attempt["exit_code"] is None:
                try:
                    attempt["exit_code"] = proc.wait(timeout=RECORD_EVERY)
                except subprocess.TimeoutExpired:
                    pass
                attempt["seconds"] = round(time.monotonic() - start, 1)
                write_json(path, rec)
        finally:  # Ctrl-C or an error here: the train process goes too
            _running.discard(proc)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                attempt["seconds"] = round(time.monotonic() - start, 1)
                write_json(path, rec)
    return attempt["exit_code"]


def stop_runs():
    """Kills the train processes still running and keeps new ones from starting (a study
    interrupted with --jobs > 1: their threads then record the attempts and return)."""
    with _starting:
        _stopping.set()
        for proc in list(_running):
            if proc.poll() is None:
                proc.kill()


def _last_error(directory):
    """The train command's error line (its last line starting with "error:", else its last
    line) from train.log."""
    with open(RunDir(directory).train_log) as f:
        lines = [line.strip() for line in f if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or ["(no output)"])[-1]


def _may_end_early(run):
    """Whether a rule may end `run` before its epochs: train_eval_stop among its overrides,
    or, once it has started, a plateau schedule with end_at_plateau in its config."""
    config = RunDir(run.directory).read_config() or {}
    optimizer = config.get("optimizer", {})
    return bool(run.overrides.get("train_eval_stop") or config.get("train_eval_stop")
                or (optimizer.get("schedule") == "plateau"
                    and optimizer.get("end_at_plateau")))


def _progress(run, runs, jobs=1, chosen=None):
    """"run 3 of 8: no_lrn/seed-0, starting (2 of 8 done; time left: about 4 min 10 s)";
    "at most about" when runs may end by a rule before config.epochs (`_may_end_early`). `chosen`: the variants being run (--variants), whose runs the time left
    counts (default: all)."""
    done = sum(is_finished(r.directory, r.epochs) for r in runs)
    epochs_done = len(history(run.directory))
    scope = [r for r in runs if chosen is None or r.variant in chosen]
    left, when = time_left(runs, scope), "known after a run"
    if left is not None:  # `jobs` runs at a time, while as many are left
        left /= max(1, min(jobs, sum(not is_finished(r.directory, r.epochs) for r in scope)))
        upper = any(_may_end_early(r) for r in scope)
        when = ("at most about " if upper else "about ") + duration(left)
    return (f"run {runs.index(run) + 1} of {len(runs)}: {run.name}, "
            f"{f'resuming after epoch {epochs_done}' if epochs_done else 'starting'} "
            f"({done} of {len(runs)} done; time left: {when})")


def run_study(study_file, workdir, log=print, jobs=1, variants=None):
    """Trains every run of the study in `study_file` that is not finished in `workdir`,
    `jobs` at a time (each then with cores / jobs TensorFlow threads: on small nets two
    one-core runs do more than one two-core run), printing progress; with `variants` (a
    list of fnmatch patterns, e.g. ["relu_*"]), only the runs of the variants that match
    one (an error if none does). Returns the names of
    the runs that failed (their train command exited with an error; the others still
    run). Raises `StudyError` for a bad study file or folder."""
    spec = load_study(study_file)
    chosen = [v for v in spec["variants"]
              if variants is None or any(fnmatch.fnmatchcase(v, p) for p in variants)]
    unmatched = [p for p in variants or []
                 if not any(fnmatch.fnmatchcase(v, p) for v in spec["variants"])]
    if unmatched:
        raise StudyError(f"--variants {','.join(unmatched)}: no variant of the study matches "
                         f"(its variants: {', '.join(spec['variants'])})")
    lock = prepare_workdir(spec, workdir)
    runs = plan(spec, workdir)
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
    failed = []
    _stopping.clear()

    def run_one(run):
        if _stopping.is_set():
            return
        log(_progress(run, runs, jobs, chosen))
        shared = share_data(run, runs)
        if shared:
            log(f"  data: {shared}")
        code = train_run(run, lock, threads)
        if code == 0 and is_finished(run.directory, run.epochs):
            log(f"  {run.name}: done in {duration(wall_seconds(run.directory))}")
        elif _stopping.is_set():
            log(f"  {run.name}: interrupted (re-run the command to resume it)")
        else:
            failed.append(run.name)
            log(f"  {run.name}: failed ({_last_error(run.directory)}); log: "
                f"{os.path.join(run.directory, 'train.log')}")

    try:
        todo = [r for r in runs if not is_finished(r.directory, r.epochs)]
        left_out = [r for r in todo if r.variant not in chosen]
        todo = [r for r in todo if r.variant in chosen]
        log(f"study {os.path.basename(study_file)}: {len(runs)} runs ({len(spec['variants'])} "
            f"variants x {len(spec['seeds'])} seeds) in {workdir}; "
            f"{len(runs) - len(todo) - len(left_out)} finished, {len(todo)} to run"
            + (f" ({len(left_out)} more not chosen by --variants)" if left_out else "")
            + (f", {jobs} at a time" if jobs > 1 else ""))
        if jobs == 1:
            for run in todo:
                run_one(run)
        else:
            with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
                try:
                    for future in [pool.submit(run_one, run) for run in todo]:
                        future.result()
                except BaseException:  # Ctrl-C: no new run starts, the running ones end
                    pool.shutdown(wait=False, cancel_futures=True)
                    stop_runs()
                    raise
    finally:
        lock.close()
    done = sum(is_finished(r.directory, r.epochs) for r in runs)
    log(f"study: {done} of {len(runs)} runs finished in {workdir}")
    return failed
