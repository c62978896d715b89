r"""Fig. 1 on CIFAR-10, step 1 (issue 22): the learning-rate sweep, seed 0, for the
four-layer CNN of configs/cifar_fig1.py with ReLU and with tanh units, in the paper's
setting (raw pixels minus the mean, cuda-convnet's Gaussian start) and in Study A's
setting as a control (inputs / 64, Glorot's start).

    python tools/study.py --study configs/studies/fig1_cifar_sweep.py --workdir runs/fig1-cifar-sweep
    python tools/study.py --workdir runs/fig1-cifar-sweep --study configs/studies/fig1_cifar_sweep.py \
        --report --results results/fig1-cifar-sweep

Fig. 1 gives each network "the learning rate chosen to make training as fast as possible".
The grid is spaced by 2x; for each activation and setting, the rate whose run first
reaches 25 % training error (`THRESHOLD_KEY`: the net in inference mode on 10,000
training images after every epoch) is its rate in step 2 (configs/studies/fig1_cifar.py,
three seeds; configs/studies/fig1_cifar_glorot.py for the control). The grids are wide
enough when that rate has a slower one on both sides; if the fastest is at an end of its
grid, add the next rate (RAW_RATES or GLOROT_RATES) and run the same command again: the
finished runs are kept, the new ones run. A rate that diverges (the loss becomes NaN: the
run fails with "training diverged") counts as slower than any that trains.

Cost, measured here (2 cores shared with another training run, float32): about 40 s an
epoch of 50,000 images for this net (35-40 s of training, 3 s for the 10,000-image
training error, 3-5 s for the 10,000 test images; the input pipeline alone reads 9,000-11,000
images/s, not the bottleneck), so a 30-epoch run takes about 20-25 min and the sweep's 22
runs about 8-9 hours, resumable (stop and rerun the command at any time).
"""
import os

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))), "shared", "data", "cifar10")  # ../shared/data/cifar10
THRESHOLD_KEY = "train_eval_top1_error"  # alexnet_tf.train_eval: Fig. 1's training error
RAW_RATES = (0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008)  # 0.001: cuda-convnet's epsW
GLOROT_RATES = (0.005, 0.01, 0.02, 0.04, 0.08)  # Study A's best: 0.01 (ReLU), 0.03 (tanh)
GLOROT = {"model.initializer": "glorot", "augment.input_scale": 1 / 64}  # Study A's setting
EPOCHS = 30


def with_threshold_key(study):
    """`study` measuring the crossing on `THRESHOLD_KEY` (the study field `threshold_key`),
    where alexnet_tf.study takes that field; without it, the runner's default key."""
    from alexnet_tf import study as runner  # no TensorFlow
    if "threshold_key" in runner.STUDY_FIELDS:
        study["threshold_key"] = THRESHOLD_KEY
    return study


def overrides():
    """The data and progress settings of every Fig. 1 CIFAR-10 run."""
    return {"data.train": os.path.join(SHARED, "train"),
            "data.validation": os.path.join(SHARED, "test"), "verbose": 2}


def get_study():
    variants = {f"{act}_lr{lr:g}": {"model.activation": act, "optimizer.learning_rate": lr}
                for act in ("relu", "tanh") for lr in RAW_RATES}
    variants.update({f"glorot_{act}_lr{lr:g}": {**GLOROT, "model.activation": act,
                                                 "optimizer.learning_rate": lr}
                     for act in ("relu", "tanh") for lr in GLOROT_RATES})
    return with_threshold_key(dict(
        description="Fig. 1 on CIFAR-10 (JPEG re-encoded copy): the four-layer CNN of "
                    "cuda-convnet's layers-18pct.cfg, no regularization; learning-rate "
                    "sweep (2x grid) per activation, raw pixels minus the mean with "
                    "cuda-convnet's Gaussian start, and Study A's inputs / 64 with Glorot "
                    "as the control (glorot_*).",
        base="cifar_fig1.py",
        overrides={**overrides(), "epochs": EPOCHS},
        variants=variants,
        seeds=[0],
        threshold=0.25,
    ))
