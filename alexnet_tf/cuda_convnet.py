"""Facts of cuda-convnet's CIFAR-10 layer files, the code of the paper's CIFAR-10
experiments (its footnote to Sec. 3.3), for `alexnet_tf.model.cifar_net` and the CIFAR-10
configs. No TensorFlow here: configs import it before a run's checks."""

# cuda-convnet's CIFAR-10 layer files (github.com/dnouri/cuda-convnet, example-layers/):
# the 5x5 convolutions' kernels, how many of the pools after them are max pools (the rest
# average), the 3x3 "local" layers' kernels, and the weights' initial standard deviations
# (initW), conv layers first.
CUDA_CONVNET = {
    # layers-18pct.cfg without its rnorm layers ("18 % in 20 minutes"): conv1 32 ->
    # max pool -> conv2 32 -> avg pool -> conv3 64 -> avg pool -> fc10. Fig. 1's net.
    "18pct": dict(filters=(32, 32, 64), max_pools=1, local_filters=(),
                  init_std=(1e-4, 0.01, 0.01, 0.01)),
    # layers-conv-local-13pct.cfg (no normalization) and -11pct.cfg (rnorm1, rnorm2:
    # cross-map, after conv1 and conv2): conv1 64 -> max pool -> conv2 64 -> max pool ->
    # local3 32 -> local4 32 -> fc10. Sec. 3.3's net ("13 % without, 11 % with").
    "conv-local": dict(filters=(64, 64), max_pools=2, local_filters=(32, 32),
                       init_std=(1e-4, 0.01, 0.04, 0.04, 0.01)),
}
