r"""The paper's Fig. 1 experiment on Imagenette at 32x32: a four-layer CNN
(`alexnet_tf.model.fig1_net`) with ReLUs (or tanh: --config.model.activation=tanh), no
regularization of any kind, trained to a low training error.

    python tools/train.py --config configs/fig1.py --workdir runs/fig1 \
        --config.data.train=PATH/imagenette2/train --config.data.validation=PATH/imagenette2/val

The paper used CIFAR-10 (50,000 32x32 images, 10 classes), which cannot be downloaded
here; Imagenette's 9,469 training images (10 ImageNet classes), built into the usual
256x256 TFRecords and box-averaged to 32x32 inside the net, stand in for it. The study
configs/studies/fig1_sweep.py sweeps the learning rate of each activation.
"""
from alexnet_tf.config import field
from configs import imagenette


def get_config():
    c = imagenette.get_config()
    c.net = "fig1"
    c.model = dict(  # fig1_net keyword arguments (alexnet_tf.config.field: configs/paper.py)
        num_classes=field(10, "[1, inf)"), activation=field("relu", ("relu", "tanh")))
    # Fig. 1: "no regularization of any kind": no weight decay, dropout or augmentation.
    c.augment.enabled = False      # the whole 256x256 image, no flips or lighting
    c.augment.input_scale = 1 / 64  # pixels minus the mean, about unit scale (Glorot init)
    c.probe_every_steps = 0        # the probe knows AlexNet's layers
    c.optimizer.weight_decay = 0.0
    c.optimizer.max_reductions = 0  # a constant learning rate, chosen per activation
    c.optimizer.end_at_plateau = False  # and every epoch run: no plateau ends it
    c.optimizer.learning_rate = 0.01
    c.epochs = 60
    c.precision = "float32"        # the input pipeline, not the net, bounds the speed here
    c.checkpoint_every_steps = 200
    c.histogram_freq = 0
    return c
