r"""Trains AlexNet with a config from configs/ (default: configs/demo.py, which needs no data).

    python tools/train.py --workdir runs/demo
    python tools/train.py --config configs/imagenette.py --workdir runs/imagenette
    python tools/train.py --config configs/paper.py --workdir runs/paper \
        --config.data.train='data/train-*' --config.data.validation='data/validation-*' \
        --config.strategy=mirrored

Any config field can be overridden with --config.FIELD=VALUE. Re-running the same command
resumes from the workdir's latest checkpoint. TensorBoard: tensorboard --logdir WORKDIR/logs

With --config.strategy=multi_worker, run the same command on every worker, each with its own
TF_CONFIG (README: Multi-worker training). TF's own C++ log is then silenced (TF logs every
lost or late peer at length, beside our one line) unless TF_CPP_MIN_LOG_LEVEL is set.
"""
import difflib
import importlib.util
import os
import shlex
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3" if "TF_CONFIG" in os.environ else "2")

import configs  # noqa: E402  (installed with the package: configs import each other)
import ml_collections  # noqa: E402
from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

DEFAULT_CONFIG = os.path.join(os.path.dirname(configs.__file__), "demo.py")
_CONFIG = config_flags.DEFINE_config_file("config", DEFAULT_CONFIG, "a configs/*.py file",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "where checkpoints, logs and models go",
                               required=True)


def main(argv):
    from absl import logging
    logging.set_verbosity(logging.WARNING)  # TF's SavedModel writer logs at INFO
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {argv[1:]}")
    from alexnet_tf.checkpoint import CheckpointWriteError
    from alexnet_tf.distribute import Cluster, PeersMissing, WorkerLost, exit_lost
    from alexnet_tf.train import BadData, TrainingDiverged, train
    resume = shlex.join(["python", *sys.argv])  # a lost worker's line ends with it
    try:
        history = train(_CONFIG.value, _WORKDIR.value,
                        on_lost=lambda e: exit_lost(e, f": {resume}"))
    except TrainingDiverged as e:
        sys.exit(f"error: training diverged: {e}")
    except WorkerLost as e:
        exit_lost(e, f": {resume}")
    except (BadData, CheckpointWriteError, PeersMissing, ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    if _CONFIG.value.strategy == "multi_worker" and not Cluster.from_env().is_chief:
        return  # the chief reports the results and wrote the model
    if history:
        last = history[-1]
        print("final: " + ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "epoch"))
    print(f"model: {os.path.join(_WORKDIR.value, 'model.keras')}, SavedModel: "
          f"{os.path.join(_WORKDIR.value, 'saved_model')}")


def _fields(config, prefix=""):
    for key, value in config.items():
        if isinstance(value, ml_collections.ConfigDict):
            yield from _fields(value, f"{prefix}{key}.")
        else:
            yield prefix + key


def _check_config_flags(argv):
    """One clear line, instead of a traceback, for a --config file that is not there or a
    --config.FIELD that the config does not have (with the nearest field names)."""
    path, overrides = DEFAULT_CONFIG, []
    for i, arg in enumerate(argv[1:], 1):
        if arg.startswith("--config="):
            path = arg.split("=", 1)[1]
        elif arg == "--config" and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--config."):
            overrides.append(arg[len("--config."):].split("=", 1)[0])
    if not os.path.isfile(path):
        sys.exit(f"error: --config {path}: no such file (the configs are in "
                 f"{os.path.dirname(DEFAULT_CONFIG)})")
    spec = importlib.util.spec_from_file_location("config_to_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        sys.exit(f"error: --config {path}: has no get_config() function")
    fields = sorted(_fields(module.get_config()))
    groups = {f.rsplit(".", 1)[0] for f in fields if "." in f}
    for name in overrides:
        if name not in fields and name not in groups:
            near = difflib.get_close_matches(name, fields, n=3, cutoff=0.5)
            sys.exit(f"error: --config.{name}: no such config field"
                     + (f"; did you mean {', '.join('--config.' + n for n in near)}?" if near
                        else f"; the fields are: {', '.join(fields)}"))


def _config_first(argv):
    """`argv` with `--config FILE` moved before the `--config.FIELD` overrides, which
    ml_collections refuses before the file (so that --config can be added at the end of a
    command, as to the README's multi-worker one)."""
    for i, arg in enumerate(argv[1:], 1):
        if arg.startswith("--config="):
            return [argv[0], arg, *argv[1:i], *argv[i + 1:]]
        if arg == "--config" and i + 1 < len(argv):
            return [argv[0], *argv[i:i + 2], *argv[1:i], *argv[i + 2:]]
    return argv


def _parse(argv):
    argv = _config_first(argv)
    sys.argv[:] = argv  # ml_collections checks the order in sys.argv too
    _check_config_flags(argv)
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:  # a bad value: absl names the flag
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    app.run(main, flags_parser=_parse)
