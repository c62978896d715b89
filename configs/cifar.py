r"""CIFAR-10 at its own size: the base of the CIFAR-10 configs (configs/cifar_fig1.py,
configs/cifar_lrn.py) and the studies of issue 22 (configs/studies/fig1_cifar*.py,
configs/studies/lrn_cifar.py).

    python tools/train.py --config configs/cifar.py --workdir runs/cifar \
        --config.data.train=PATH/cifar10/train --config.data.validation=PATH/cifar10/test

Data: `<class>/<image>` folders of 32x32 images (on this project's machines
../shared/data/cifar10/{train,test}: the 50,000 training and 10,000 test images of
CIFAR-10, re-encoded as JPEG by the publisher of that copy, so slightly lossy), built
into TFRecords in WORKDIR/data on the first run at their own size (`data.image_size =
32`: nothing is resized or re-encoded). The "validation" data is CIFAR-10's test set:
its error is the test error the paper reports (cuda-convnet's CIFAR-10 recipe too had no
separate validation set once its schedule was fixed); here it decides nothing, since the
schedules below are fixed in advance.

The net: `alexnet_tf.model.cifar_net`, after cuda-convnet's CIFAR-10 layer files, on raw
pixels minus the mean image of the training set (`augment.stats = "data"`, computed from
the built TFRecords at the run's start; cuda-convnet's CIFAR data provider subtracts the
mean image too), cuda-convnet's Gaussian initialization, batch 128, SGD with momentum 0.9
(cuda-convnet's momW). Augmentation by default: cuda-convnet's random 24x24 crops and
flips (`model.image_size = 24`; centre crop at test, its 10-crop "multiview" test with
tools/evaluate.py --ten_crop), no PCA lighting. What this base leaves to the configs
that derive from it: the net's layers, the augmentation, the learning rate and the length.
"""
from alexnet_tf.config import field
from alexnet_tf.cuda_convnet import CUDA_CONVNET

NET = CUDA_CONVNET["18pct"]  # cifar_net's defaults: Fig. 1's net
from configs import paper


def get_config():
    c = paper.get_config()
    c.data.source = "images"
    c.data.train = None            # to give: CIFAR-10's train/ folder
    c.data.validation = None       # to give: its test/ folder
    c.data.image_size = 32         # CIFAR-10's own size: nothing resized
    c.data.shuffle_buffer = 50_000  # the whole training set (JPEG bytes, ~46 MB)
    c.net = "cifar"
    c.model = dict(  # cifar_net's keyword arguments (alexnet_tf.config.field: configs/paper.py)
        num_classes=field(10, "[1, inf)"),
        image_size=field(24, "[1, inf)"),  # the net's input: the crop (32: whole images)
        filters=field(NET["filters"], "[1, inf)", length="[1, inf)"),
        max_pools=field(NET["max_pools"], "[0, inf)"),  # the first pools max, the rest average
        local_filters=field((0,), "[0, inf)", length="[0, inf)"),  # () below: none
        activation=field("relu", ("relu", "tanh")),
        lrn=field(False),
        lrn_alpha=field(1e-4, "[0, inf)"),  # Sec. 3.3, in raw-pixel units (net_lrn_alpha)
        initializer=field("gaussian", ("gaussian", "glorot")),
        init_std=field(NET["init_std"], "(0, inf)", length="[1, inf)"))
    c.model.local_filters = ()
    c.augment.stats = "data"       # the training set's own mean image
    c.augment.per_pixel_mean = True
    c.augment.lighting_std = 0.0   # cuda-convnet's CIFAR-10 provider: crops and flips only
    c.optimizer.weight_decay = 0.0
    c.optimizer.schedule = "step"  # fixed in advance (configs derived from this one)
    c.optimizer.step_epochs = (1000,)  # none within the run unless a config sets them
    c.optimizer.max_reductions = 0
    c.probe_every_steps = 0        # the probe knows AlexNet's layers
    c.checkpoint_every_steps = 0   # one checkpoint an epoch (an epoch is seconds)
    c.histogram_freq = 0
    c.log_every_steps = 50
    c.verbose = 2
    return c
