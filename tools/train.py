r"""Trains AlexNet with a config from configs/ (default: configs/demo.py, which needs no data).

    python tools/train.py --workdir runs/demo
    python tools/train.py --config configs/imagenette.py --workdir runs/imagenette
    python tools/train.py --config configs/paper.py --workdir runs/paper \
        --config.data.train='data/train-*' --config.data.validation='data/validation-*' \
        --config.strategy=mirrored

Any config field can be overridden with --config.FIELD=VALUE. Re-running the same command
resumes from the workdir's latest checkpoint. TensorBoard: tensorboard --logdir WORKDIR/logs
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import configs  # noqa: E402  (installed with the package: configs import each other)
from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file("config", os.path.join(
                                              os.path.dirname(configs.__file__), "demo.py"),
                                          "a configs/*.py file", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "where checkpoints, logs and models go",
                               required=True)


def main(argv):
    from absl import logging
    logging.set_verbosity(logging.WARNING)  # TF's SavedModel writer logs at INFO
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {argv[1:]}")
    from alexnet_tf.train import BadData, TrainingDiverged, train
    try:
        history = train(_CONFIG.value, _WORKDIR.value)
    except TrainingDiverged as e:
        sys.exit(f"error: training diverged: {e}")
    except BadData as e:
        sys.exit(f"error: {e}")
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    if history:
        last = history[-1]
        print("final: " + ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "epoch"))
    print(f"model: {os.path.join(_WORKDIR.value, 'model.keras')}, SavedModel: "
          f"{os.path.join(_WORKDIR.value, 'saved_model')}")


if __name__ == "__main__":
    app.run(main)
