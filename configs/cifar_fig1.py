r"""The paper's Fig. 1 on CIFAR-10 (issue 22): the four-layer CNN of cuda-convnet's
layers-18pct.cfg without its normalization layers (`alexnet_tf.model.cifar_net`: conv 5x5
32 -> max pool 3/2 -> conv 5x5 32 -> avg pool 3/2 -> conv 5x5 64 -> avg pool 3/2 -> fc 10;
89,578 parameters) with ReLUs, or tanh units (--config.model.activation=tanh), trained
with no regularization of any kind to a low training error.

    python tools/train.py --config configs/cifar_fig1.py --workdir runs/cifar-fig1 \
        --config.data.train=PATH/cifar10/train --config.data.validation=PATH/cifar10/test

As the paper's Fig. 1 describes it: no regularization (no weight decay, no dropout, no
augmentation: whole 32x32 images, no crops or flips), each activation at its own
learning rate (the study configs/studies/fig1_cifar_sweep.py finds it), constant. As
cuda-convnet's CIFAR files: raw pixels minus the training set's mean image, weights
N(0, 1e-4) in conv1 and N(0, 0.01) in conv2, conv3 and fc4, zero biases, the same for
both activations, batch 128, momentum 0.9.

The training error of Fig. 1 is measured as a test is: after every epoch the net, in
inference mode, classifies 10,000 training images, the same every epoch
(`train_eval_examples`, history key `train_eval_top1_error`, alexnet_tf.train_eval). The
running `top1_error` of training is also logged.

Not the paper's: the learning rate of the biases is the weights' (cuda-convnet's files
give biases twice the weights' rate, epsB = 2 epsW); the paper does not give its Fig. 1
rates, and cuda-convnet's 0.001 (with Keras' batch-mean loss: cuda-convnet divides its
summed gradient by the batch size, so the same step) is in the sweep's grid.
"""
from configs import cifar


def get_config():
    c = cifar.get_config()
    c.model.image_size = 32        # whole images: no crops
    c.augment.enabled = False      # Fig. 1: "no regularization of any kind"
    c.optimizer.learning_rate = 0.001  # cuda-convnet's epsW; each activation's own: the sweep
    c.train_eval_examples = 10_000
    c.epochs = 40
    return c
