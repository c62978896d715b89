r"""Fig. 1 on CIFAR-10, the control (issue 22): configs/studies/fig1_cifar.py in Study A's
setting, inputs / 64 and Glorot's start for both activations, on CIFAR-10. Study A (on
Imagenette box-averaged to 32x32, results/fig1) found tanh faster in this setting: this
study tells whether the setting or the data reversed the paper's result.

    python tools/study.py --study configs/studies/fig1_cifar_glorot.py --workdir runs/fig1-cifar-glorot
    python tools/study.py --workdir runs/fig1-cifar-glorot --study configs/studies/fig1_cifar_glorot.py \
        --report --results results/fig1-cifar-glorot

RATES: each activation's fastest rate among the sweep's glorot_* runs
(configs/studies/fig1_cifar_sweep.py, results/fig1-cifar-sweep-glorot/REPORT.md: ReLU 0.02,
between 0.01 and 0.04; tanh 0.04, between 0.02 and 0.08). Cost as
configs/studies/fig1_cifar.py.
"""
from configs.studies import fig1_cifar, fig1_cifar_sweep as sweep

RATES = {"relu": 0.02, "tanh": 0.04}  # the sweep's fastest glorot_* rates (its REPORT.md)
THRESHOLD_KEY = sweep.THRESHOLD_KEY


def get_study():
    return dict(
        threshold_key=THRESHOLD_KEY,
        description="Control for Fig. 1 on CIFAR-10 (JPEG re-encoded copy): the same net "
                    "and data in Study A's setting, inputs / 64 with Glorot's start, each "
                    "activation at its fastest rate of the sweep's glorot_* runs; three "
                    "seeds.",
        base="cifar_fig1.py",
        overrides={**sweep.overrides(), **sweep.GLOROT, "epochs": fig1_cifar.EPOCHS,
                   "train_eval_stop": sweep.THRESHOLD},
        variants={act: {"model.activation": act, "optimizer.learning_rate": lr}
                  for act, lr in RATES.items()},
        baseline="relu",
        seeds=[1, 2, 3],  # not the sweep's seed 0, which chose the rates
        threshold=sweep.THRESHOLD,
        speedup={"slow": "tanh", "fast": "relu", "paper": 6.0},
    )
