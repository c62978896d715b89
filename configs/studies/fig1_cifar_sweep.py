r"""Fig. 1 on CIFAR-10, step 1 (issue 22): the learning-rate sweep, seed 0, for the
four-layer CNN of configs/cifar_fig1.py with ReLU and with tanh units, in the paper's
setting (raw pixels minus the mean, cuda-convnet's Gaussian start) and in Study A's
setting as a control (inputs / 64, Glorot's start).

    python tools/study.py --study configs/studies/fig1_cifar_sweep.py --workdir runs/fig1-cifar-sweep \
        --jobs 2
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

Each run stops at the end of the epoch its training error comes down to 25 %
(`train_eval_stop`), so a fast rate costs a few epochs and only rates that never get there
run all EPOCHS. The test set is read only after epoch EPOCHS (`validation_every`): the
sweep measures training error, and its runs that stop have no test error.

Cost, measured here (results/performance/cifar-fig1-throughput, an AMD EPYC with
avx512_bf16, 2 cores, where precision "auto" is mixed_bfloat16): one run alone, 2 threads,
3,200-3,300 images/s (17-19 s an epoch with its 10,000-image training error and the test
set); two runs side by side, 1 thread each (`tools/study.py --jobs 2`), 1,930-2,020 images/s
each, 1.2x the work per second; float32 alone 2,130-2,250 images/s, with the same training
errors to 0.3 points over 3 epochs. The report gives each run's epochs and wall time (the
tanh runs, which never reached 25 %, ran all EPOCHS).
"""
import os

from alexnet_tf.config import TRAIN_EVAL_KEY

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))), "shared", "data", "cifar10")  # ../shared/data/cifar10
THRESHOLD_KEY = TRAIN_EVAL_KEY  # alexnet_tf.train_eval: Fig. 1's training error
# 0.001: cuda-convnet's epsW; tanh's 0.016 added when 0.008, the grid's end, led it mid-run
RAW_RATES = {"relu": (0.0005, 0.001, 0.002, 0.004, 0.008),
             "tanh": (0.0005, 0.001, 0.002, 0.004, 0.008, 0.016)}
GLOROT_RATES = (0.005, 0.01, 0.02, 0.04, 0.08)  # Study A's best: 0.01 (ReLU), 0.03 (tanh)
GLOROT = {"model.initializer": "glorot", "augment.input_scale": 1 / 64}  # Study A's setting
EPOCHS = 30
THRESHOLD = 0.25  # Fig. 1's training error


def overrides():
    """The data and progress settings of every Fig. 1 CIFAR-10 run."""
    return {"data.train": os.path.join(SHARED, "train"),
            "data.validation": os.path.join(SHARED, "test"), "verbose": 2}


def get_study():
    variants = {f"{act}_lr{lr:g}": {"model.activation": act, "optimizer.learning_rate": lr}
                for act, rates in RAW_RATES.items() for lr in rates}
    variants.update({f"glorot_{act}_lr{lr:g}": {**GLOROT, "model.activation": act,
                                                 "optimizer.learning_rate": lr}
                     for act in ("relu", "tanh") for lr in GLOROT_RATES})
    return dict(
        threshold_key=THRESHOLD_KEY,
        description="Fig. 1 on CIFAR-10 (JPEG re-encoded copy): the four-layer CNN of "
                    "cuda-convnet's layers-18pct.cfg, no regularization; learning-rate "
                    "sweep (2x grid) per activation, raw pixels minus the mean with "
                    "cuda-convnet's Gaussian start, and Study A's inputs / 64 with Glorot "
                    "as the control (glorot_*).",
        base="cifar_fig1.py",
        # Each run stops at its crossing (train_eval_stop) and validates only at the
        # end: the sweep needs only the epochs to the threshold.
        overrides={**overrides(), "epochs": EPOCHS, "train_eval_stop": THRESHOLD,
                   "validation_every": EPOCHS},
        variants=variants,
        seeds=[0],
        threshold=THRESHOLD,
    )
