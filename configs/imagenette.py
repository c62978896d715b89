"""Imagenette (10 ImageNet classes, ../shared/data/imagenette2-224), built into TFRecords in
WORKDIR/data on the first run; the paper's recipe otherwise.

    python tools/train.py --config configs/imagenette.py --workdir runs/imagenette
"""
import os

from configs import paper

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared",
                      "data", "imagenette2-224")


def get_config():
    c = paper.get_config()
    c.data.source = "images"
    c.data.train = os.path.normpath(os.path.join(SHARED, "train"))
    c.data.validation = os.path.normpath(os.path.join(SHARED, "val"))
    c.model.num_classes = 10
    c.model.initializer = "he"     # the paper's N(0, 0.01) start stalls on small data;
    c.data.input_scale = 1 / 64    # He init needs inputs of about unit scale
    c.epochs = 30
    c.optimizer.plateau_patience = 3
    c.checkpoint_every_steps = 20
    return c
