r"""Imagenette with the project's earlier recipe: He initialization and inputs scaled by 1/64.
A named alternative to configs/imagenette.py, not the paper's start.

    python tools/train.py --config configs/imagenette_he.py --workdir runs/imagenette-he \
        --config.data.train=PATH/imagenette2/train --config.data.validation=PATH/imagenette2/val

Departures from the paper (Sec. 5), besides configs/imagenette.py's:

* He-normal weights and zero biases instead of N(0, 0.01) with biases of 1.
* Pixels minus the mean divided by 64, since He's scheme expects inputs of about unit
  scale. LRN's alpha follows the scale (`train.net_lrn_alpha`: 1e-4 * 64**2), so the
  layer normalizes as the paper's would on the same activations. Before that rule, this
  recipe left LRN a constant factor (Study B and Study C's baseline, results/).
* For the same function, scaling the inputs by 1/64 instead of conv1's weights makes
  conv1's effective learning rate 64**2 times smaller: in Study B (40 epochs) conv1 never
  left its random start (results/study-imagenette-he/conv1-baseline.png). Measured against
  the paper's start in results/recipe (variant he_64).
"""
from configs import imagenette


def get_config():
    c = imagenette.get_config()
    c.model.initializer = "he"
    c.augment.input_scale = 1 / 64
    return c
