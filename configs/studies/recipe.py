r"""The recipe search (issue 21): why the paper's own start stalls on Imagenette, and the
smallest departure from it that trains.

    python tools/study.py --study configs/studies/recipe.py --workdir runs/recipe
    python tools/study.py --workdir runs/recipe --study configs/studies/recipe.py \
        --report --results results/recipe

Every variant starts from the paper's recipe as Sec. 5 gives it, pinned here field by field
(so that a later change of configs/imagenette.py does not change this study): raw pixels
minus the mean (`augment.input_scale` 1), N(0, 0.01) weights, biases 1 in conv2, conv4,
conv5, fc6 and fc7 and 0 elsewhere, the paper's LRN constants (alpha 1e-4 in 0..255 units),
SGD with momentum 0.9 and weight decay 5e-4, dropout 0.5, batch 128, learning rate 0.01.
Each variant changes one thing:

    paper         nothing
    caffe_bias    the biases of 1 become 0.1 (Caffe's `bvlc_alexnet`)
    warmup        the learning rate ramps up linearly over the first epoch (73 steps)
    convnet_init  cuda-convnet2's per-layer weight scales (layers-imagenet-1gpu.cfg:
                  initW 0.03 in conv3..conv5, 0.01 elsewhere; biases as the paper)
    he_64         the project's earlier recipe: He-normal weights, zero biases, inputs
                  scaled by 1/64 (LRN's alpha follows the scale: 1e-4 * 64**2)

The short protocol: 224 crops box-averaged to 112 pixels (`model.input_downsample` 2, as
Study C), 6 epochs at the constant rate 0.01 (no cut), two seeds. `probe_every_steps` 10
records per-layer activation and gradient scales, dead ReLUs, conv1's correlation with its
start and LRN's divisor on one fixed validation batch (`alexnet_tf.probe`), so the report
shows where each start stalls, and the loss plateau's length in steps. Measured on 2
cores: about a minute an epoch (median), 6-9 minutes a run, 10 runs in about 75 minutes.
"""
import os

from configs.studies.imagenette import SHARED  # this project's copy of Imagenette

PAPER = {"model.initializer": "paper", "model.init_std": (0.01,) * 8, "model.init_bias": 1.0,
         "model.lrn_alpha": 1e-4, "augment.input_scale": 1.0,
         "optimizer.learning_rate": 0.01, "optimizer.warmup_epochs": 0.0}


def get_study():
    return dict(
        description="The paper's own start (N(0, 0.01), biases 1, raw pixels) against the "
                    "smallest departures that might make it train: 112-pixel inputs, 6 "
                    "epochs at lr 0.01, two seeds, per-layer probes every 10 steps.",
        base="imagenette.py",
        overrides={"data.train": os.path.join(SHARED, "train"),
                   "data.validation": os.path.join(SHARED, "val"),
                   **PAPER,
                   "model.input_downsample": 2, "epochs": 6,
                   "optimizer.schedule": "step", "optimizer.step_epochs": (1000,),
                   "probe_every_steps": 10, "checkpoint_every_steps": 0,
                   "histogram_freq": 0, "verbose": 2},
        variants={
            "paper": {},
            "caffe_bias": {"model.init_bias": 0.1},
            "warmup": {"optimizer.warmup_epochs": 1.0},
            "convnet_init": {"model.init_std": (0.01, 0.01, 0.03, 0.03, 0.03, 0.01, 0.01, 0.01)},
            "he_64": {"model.initializer": "he", "augment.input_scale": 1 / 64},
        },
        baseline="paper",
        seeds=[0, 1],
    )
