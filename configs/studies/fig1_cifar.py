r"""Fig. 1 on CIFAR-10, step 2 (issue 22): ReLU against tanh in the four-layer CNN of
configs/cifar_fig1.py (cuda-convnet's layers-18pct.cfg without normalization; raw pixels
minus the mean, the same Gaussian start for both, no regularization), each at the rate the
sweep found fastest, three seeds each; the ratio of their epochs to 25 % training error
against the paper's six.

    python tools/study.py --study configs/studies/fig1_cifar.py --workdir runs/fig1-cifar
    python tools/study.py --workdir runs/fig1-cifar --study configs/studies/fig1_cifar.py \
        --report --results results/fig1-cifar

Run configs/studies/fig1_cifar_sweep.py first, then set RATES below to each activation's
fastest rate in its report (the sweep's 25 % crossings), so that this study measures the
nets at their own best rates as Fig. 1 did. Until then RATES holds cuda-convnet's 0.001 for
both, a placeholder, not a result.

The training error is Fig. 1's: the net in inference mode on 10,000 training images, the
same after every epoch (`train_eval_top1_error`, configs/cifar_fig1.py), interpolated
linearly between epochs to the 25 % crossing (steps = epochs x 390). The report gives the
tanh / ReLU ratio per seed and its 95 % interval, beside the paper's 6.

Cost (measured here, float32, the CPU shared with another training run): about 40 s an
epoch, 6 runs of EPOCHS epochs: about 2.5-3 hours.
"""
from configs.studies import fig1_cifar_sweep as sweep

RATES = {"relu": 0.001, "tanh": 0.001}  # placeholders: the sweep's fastest rates go here
EPOCHS = 40  # past the crossing of the slower net (the sweep's runs say how far)
THRESHOLD_KEY = sweep.THRESHOLD_KEY


def get_study():
    return dict(
        threshold_key=THRESHOLD_KEY,
        description="Fig. 1 on CIFAR-10 (JPEG re-encoded copy): the four-layer CNN of "
                    "cuda-convnet's layers-18pct.cfg, raw pixels minus the mean, the same "
                    "Gaussian start for ReLU and tanh, no regularization, each at its "
                    "fastest learning rate of configs/studies/fig1_cifar_sweep.py; three "
                    "seeds.",
        base="cifar_fig1.py",
        overrides={**sweep.overrides(), "epochs": EPOCHS},
        variants={act: {"model.activation": act, "optimizer.learning_rate": lr}
                  for act, lr in RATES.items()},
        baseline="relu",
        seeds=[0, 1, 2],
        threshold=0.25,
        speedup={"slow": "tanh", "fast": "relu", "paper": 6.0},  # Sec. 3.1: "six times faster"
    )
