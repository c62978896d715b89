"""alexnet_tf: the AlexNet of Krizhevsky, Sutskever & Hinton (NIPS 2012) in TensorFlow/Keras 3."""
from alexnet_tf.classifier import Classifier
from alexnet_tf.layers import LocalResponseNormalization, TowerConv2D
from alexnet_tf.model import alexnet, describe, parameter_counts

__version__ = "0.1.0"
__all__ = ["Classifier", "alexnet", "describe", "parameter_counts", "LocalResponseNormalization", "TowerConv2D"]
