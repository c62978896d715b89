r"""Trains AlexNet with a config from configs/ (default: configs/demo.py, which needs no data).

    python tools/train.py --workdir runs/demo
    python tools/train.py --config configs/imagenette.py --workdir runs/imagenette
    python tools/train.py --config configs/paper.py --workdir runs/paper \
        --config.data.train='data/train-*' --config.data.validation='data/validation-*' \
        --config.strategy=mirrored

Any config field can be set with --config.FIELD=VALUE (or --config.FIELD VALUE), before or
after --config; configs/paper.py declares each field's type and range, checked before
TensorFlow starts (a mistake: one line, `error: ...`). Re-running the same command resumes
from the workdir's latest checkpoint. TensorBoard: tensorboard --logdir WORKDIR/logs
The same command as a module: python -m alexnet_tf.train (`alexnet_tf.config.run_training`).

With --config.strategy=multi_worker, run the same command on every worker, each with its own
TF_CONFIG (README: Multi-worker training). TF's own C++ log is then silenced (TF logs every
lost or late peer at length, beside our one line) unless TF_CPP_MIN_LOG_LEVEL is set.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3" if "TF_CONFIG" in os.environ else "2")

from alexnet_tf.config import run_training  # noqa: E402  (imports no TensorFlow)

if __name__ == "__main__":
    run_training()
