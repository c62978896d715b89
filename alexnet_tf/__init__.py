"""alexnet_tf: the AlexNet of Krizhevsky, Sutskever & Hinton (NIPS 2012) in TensorFlow/Keras 3.

The names below are imported on first use (PEP 562), so that importing a light module of
the package (`alexnet_tf.config`, `alexnet_tf.cli`: the command lines, checked before
anything else) does not first import TensorFlow, which takes seconds.
"""
import importlib

__version__ = "0.1.0"
_EXPORTS = {"Classifier": "classifier", "LocalResponseNormalization": "layers",
            "TowerConv2D": "layers", "alexnet": "model", "describe": "model",
            "parameter_counts": "model"}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'alexnet_tf' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"alexnet_tf.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_EXPORTS])
