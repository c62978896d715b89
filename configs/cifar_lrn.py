r"""Sec. 3.3 on CIFAR-10 (issue 22): cuda-convnet's conv-local net, without response
normalization (layers-conv-local-13pct.cfg: the paper's "13 % test error") or with the
paper's response normalization after conv1 and conv2 (--config.model.lrn=true;
layers-conv-local-11pct.cfg: "11 %"), with cuda-convnet's augmentation.

    python tools/train.py --config configs/cifar_lrn.py --workdir runs/cifar-lrn \
        --config.data.train=PATH/cifar10/train --config.data.validation=PATH/cifar10/test

The net (`alexnet_tf.model.cifar_net` with `CUDA_CONVNET["conv-local"]`): conv 5x5 64 ->
ReLU -> [LRN] -> max pool 3/2 -> conv 5x5 64 -> ReLU -> [LRN] -> max pool 3/2 -> conv 3x3
32 -> ReLU -> conv 3x3 32 -> ReLU -> fc 10, on random 24x24 crops of the 32x32 images
with random flips (centre crop at test; 10 crops with tools/evaluate.py --ten_crop,
cuda-convnet's multiview test), raw pixels minus the mean image, weights N(0, initW) with
the files' initW (1e-4, 0.01, 0.04, 0.04, 0.01), zero biases, batch 128, momentum 0.9.
The LRN is the paper's (Sec. 3.3: k=2, n=5, alpha=1e-4, beta=0.75) on these raw-pixel
scale activations.

What differs from the paper's net and cuda-convnet's recipe:

* **No locally connected layers.** The files' local3 and local4 (a 3x3 kernel per
  position of the 6x6 maps, no weight sharing) are convolutions here: Keras 3 has no
  locally connected layer: local3 has 18,432 weights instead of 663,552, local4 9,216
  instead of 331,776, and the net 146,368 weights instead of 1,114,048.
* **Weight decay 0.004 on every kernel** (inside the momentum, `optim.PaperSGD`); the
  files have 0.004 on local3, local4 and fc10 and none on conv1 and conv2. Bias learning
  rates are the weights' (the files: twice).
* **The LRN constants are the paper's** (the 11pct file's own: k=1, alpha 0.001/5 per
  square, its `scale` divided by the size).
* **A shorter schedule**: configs/studies/lrn_cifar.py says it and why.
"""
from alexnet_tf.cuda_convnet import CUDA_CONVNET
from configs import cifar


def get_config():
    c = cifar.get_config()
    net = CUDA_CONVNET["conv-local"]
    c.model.filters = net["filters"]
    c.model.max_pools = net["max_pools"]
    c.model.local_filters = net["local_filters"]
    c.model.init_std = net["init_std"]
    c.model.image_size = 24        # cuda-convnet: random 24x24 crops of 32x32, flips
    c.model.lrn = False            # --config.model.lrn=true: Sec. 3.3's normalized net
    c.optimizer.weight_decay = 0.004
    c.optimizer.learning_rate = 0.001  # cuda-convnet's epsW (the files' momentum 0.9)
    c.optimizer.schedule = "step"  # lr / 10 twice near the end (cuda-convnet's methodology)
    c.optimizer.lr_factor = 0.1
    c.optimizer.step_epochs = (100, 110)
    c.optimizer.max_reductions = 2
    c.epochs = 120
    return c
