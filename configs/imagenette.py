r"""Imagenette (10 ImageNet classes) from its image folders, built into TFRecords in
WORKDIR/data on the first run; the paper's recipe otherwise.

    python tools/train.py --config configs/imagenette.py --workdir runs/imagenette \
        --config.data.train=PATH/imagenette2/train --config.data.validation=PATH/imagenette2/val

On this project's machines the copy is at ../shared/data/imagenette2-224. A prepared tfds
`imagenette` works too: --config.data.source=tfds --config.data.train=imagenette
--config.data.data_dir=DIR (labels 0..9 in tfds' order).
"""
from ml_collections.config_dict import placeholder

from configs import paper


def get_config():
    c = paper.get_config()
    c.data.source = "images"
    c.data.train = placeholder(str)          # the train/ folder of <class>/<image>
    c.data.validation = placeholder(str)     # the val/ folder
    c.model.num_classes = 10
    c.model.initializer = "he"     # the paper's N(0, 0.01) start stalls on small data;
    c.augment.input_scale = 1 / 64  # He init needs inputs of about unit scale
    c.epochs = 30
    c.optimizer.plateau_patience = 3
    c.checkpoint_every_steps = 20
    c.log_every_steps = 10         # about 7 points per epoch in TensorBoard
    return c
