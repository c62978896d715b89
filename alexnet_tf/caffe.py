"""Caffe's `bvlc_alexnet` weights in our model.

The widely used `bvlc_alexnet.npy` (written by the Caffe-to-TensorFlow converters) is a
NumPy-saved dict: layer name -> [weights, biases], conv weights HWIO with the input
channels of one group (conv2: 5x5x48x256), FC weights [inputs, outputs] with fc6's inputs
in (height, width, channel) order, input channels of conv1 in Caffe's BGR order.

Our Caffe-compatible form of the net: 227x227 input, no conv1 padding, Caffe's LRN
(k=1, alpha=1e-4 divided by n=5, beta=0.75) across all maps of a layer (Caffe's norm2
spans both groups), Caffe's ImageNet mean. Caffe feeds BGR images; we reverse conv1's
input channels instead, so the imported model takes RGB like every model here.

The .npy file is a pickle. Unpickling can run arbitrary code, so it is read with an
unpickler that only accepts NumPy arrays, dtypes, lists and dicts, and refuses anything
else by name.
"""
import pickle

import numpy as np
from numpy.lib import format as npy_format

from alexnet_tf.augment import PaperAugmentation
from alexnet_tf.classifier import Classifier
from alexnet_tf.model import alexnet
from alexnet_tf.stats import PUBLISHED

# The mean of Caffe's ilsvrc_2012_mean.npy per channel (BGR), as Caffe's examples use it.
CAFFE_MEAN_BGR = np.array([104.0069879317889, 116.66876761696767, 122.6789143406786])

SHAPES = {  # bvlc_alexnet: weights, biases
    "conv1": ((11, 11, 3, 96), (96,)), "conv2": ((5, 5, 48, 256), (256,)),
    "conv3": ((3, 3, 256, 384), (384,)), "conv4": ((3, 3, 192, 384), (384,)),
    "conv5": ((3, 3, 192, 256), (256,)), "fc6": ((9216, 4096), (4096,)),
    "fc7": ((4096, 4096), (4096,)), "fc8": ((4096, 1000), (1000,)),
}

_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("builtins", "dict"),
            ("builtins", "list"), ("__builtin__", "dict"), ("__builtin__", "list")}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a weights file "
                                         f"holds only NumPy arrays")
        return super().find_class(module, name)


def read_weights(path):
    """Reads a `bvlc_alexnet.npy`-style dict of arrays without running pickled code."""
    with open(path, "rb") as f:
        version = npy_format.read_magic(f)
        read_header = (npy_format.read_array_header_1_0 if version == (1, 0)
                       else npy_format.read_array_header_2_0)
        shape, _, dtype = read_header(f)
        if dtype != object or shape != ():
            raise ValueError(f"{path}: expected a saved dict (a 0-d object array), got "
                             f"{dtype} {shape}")
        try:
            obj = _ArraysOnly(f, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError) as e:
            raise ValueError(f"{path}: {e}") from None
    weights = obj.item() if isinstance(obj, np.ndarray) else obj
    if not isinstance(weights, dict):
        raise ValueError(f"{path}: expected a dict of layer name -> [weights, biases]")
    return weights


def caffe_model(num_classes=1000):
    """Our `Classifier` (uint8 256x256 RGB images -> logits) in Caffe's form."""
    net = alexnet(num_classes=num_classes, image_size=227, conv1_padding=0, lrn_k=1.0,
                  lrn_alpha=1e-4, lrn_alpha_over_size=True, lrn_per_tower=False,
                  name="alexnet")
    augment = PaperAugmentation(CAFFE_MEAN_BGR[::-1], PUBLISHED["eigvals"],
                                PUBLISHED["eigvecs"], crop=227, name="augment",
                                dtype="float32")
    return Classifier(net, augment, name="classifier_caffe")


def import_weights(path):
    """A Caffe-form model (`caffe_model`) holding the weights of a `bvlc_alexnet.npy`."""
    weights = read_weights(path)
    missing = sorted(set(SHAPES) - set(weights))
    if missing:
        raise ValueError(f"{path}: layers missing: {missing} (found {sorted(weights)})")
    for name, (w_shape, b_shape) in SHAPES.items():
        w, b = (np.asarray(a) for a in weights[name][:2])
        want = (w_shape[:-1] + (w.shape[-1],), (w.shape[-1],)) if name == "fc8" else (w_shape,
                                                                                       b_shape)
        if (w.shape, b.shape) != want:
            raise ValueError(f"{path}: layer {name} has shapes {w.shape}, {b.shape}; "
                             f"expected {want[0]}, {want[1]}")
    model = caffe_model(num_classes=np.asarray(weights["fc8"][0]).shape[-1])
    for name in ("conv1", "conv2", "conv3", "conv4", "conv5"):
        w, b = (np.asarray(a, np.float32) for a in weights[name][:2])
        if name == "conv1":
            w = w[:, :, ::-1, :]  # BGR -> RGB input
        layer = model.layer(name)
        for t, (kernel, bias) in enumerate(zip(np.split(w, layer.towers, axis=-1),
                                               np.split(b, layer.towers))):
            layer.kernels[t].assign(kernel)
            layer.biases[t].assign(bias)
    for name in ("fc6", "fc7", "fc8"):
        model.layer(name).set_weights([np.asarray(a, np.float32) for a in weights[name][:2]])
    return model
