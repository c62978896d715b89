r"""Study A, step 1 (issue 9): the learning-rate sweep for the paper's Fig. 1 on Imagenette
at 32x32 (configs/fig1.py): each activation at four learning rates, seed 0.

    python tools/study.py --study configs/studies/fig1_sweep.py --workdir runs/fig1-sweep
    python tools/study.py --workdir runs/fig1-sweep --study configs/studies/fig1_sweep.py \
        --report --results results/fig1-sweep

Fig. 1 gives each network "the learning rate chosen to make training as fast as possible";
the rate whose run first reaches 25 % training error is each activation's rate for the
runs with more seeds that measure the speed-up (a study with `speedup`, see
alexnet_tf/study.py).
"""
import os

from configs.studies.imagenette import SHARED  # this project's copy of Imagenette
RATES = (0.003, 0.01, 0.03, 0.1)


def get_study():
    return dict(
        description="Fig. 1's four-layer CNN, no regularization, on Imagenette box-averaged "
                    "to 32x32 (CIFAR-10 cannot be downloaded here): learning-rate sweep.",
        base="fig1.py",
        overrides={"data.train": os.path.join(SHARED, "train"),
                   "data.validation": os.path.join(SHARED, "val"),
                   "epochs": 30, "verbose": 2},
        variants={f"{act}_lr{lr:g}": {"model.activation": act, "optimizer.learning_rate": lr}
                  for act in ("relu", "tanh") for lr in RATES},
        seeds=[0],
        threshold=0.25,
    )
