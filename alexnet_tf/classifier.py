"""The trained classifier: one Keras model holding the paper's preprocessing and network.

`Classifier` maps uint8 images at the data's stored size (`image_size`: 256x256 for the
paper, what the input pipeline delivers, Sec. 2; 32x32 for CIFAR-10) to float32 logits:
`preprocess` (`PaperAugmentation`: mean subtraction; while training, PCA lighting noise,
random crops of the net's input size and flips, Sec. 4.1) then `net` (`alexnet`). It is
what training fits, what a run's Keras model file holds, and what evaluation, features, export and
the Caffe import use, through these paths rather than by looking layers up by name:

* `model(images, training=True)`: the training path (random crop, flip, lighting);
* `model.probabilities(images)`: the softmax of the centre crop;
* `model.probabilities(images, ten_crop=True)`: the average softmax over the paper's 10
  crops (four corners, centre, and their mirror images; Sec. 4.1);
* `model.features(images, "fc7")`: a layer's activations for the centre crop (Sec. 6.1).

The logits are float32 whatever the precision of `net` (losses, softmax and top-k need
it).
"""
import os
import zipfile

import keras
import tensorflow as tf

# The layers a saved Classifier is made of, registered with Keras where they are
# defined: imported here so that `load` can deserialize them whatever else is imported.
from alexnet_tf import layers  # noqa: F401
from alexnet_tf.augment import PaperAugmentation, ten_crops
from alexnet_tf.data import IMAGE_SIZE


@keras.saving.register_keras_serializable(package="alexnet_tf")
class Classifier(keras.Model):
    """uint8 `image_size` x `image_size` images -> `preprocess` -> `net` -> float32 logits.

    Args:
        net: the network (`alexnet_tf.alexnet(...)`), float images -> logits.
        preprocess: a `PaperAugmentation` layer whose `crop` is `net`'s input size.
        image_size: the stored size of the images it takes (config.data.image_size):
            256 for the paper (and for models saved before it was recorded), 32 for
            CIFAR-10.
        **kwargs: `keras.Model` arguments (`name`).
    """

    def __init__(self, net, preprocess, image_size=IMAGE_SIZE, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(preprocess, PaperAugmentation):
            raise TypeError(f"Classifier: `preprocess` must be a PaperAugmentation layer, got "
                            f"{type(preprocess).__name__}")
        size = net.input_shape[1]
        if preprocess.crop != size:
            raise ValueError(f"Classifier: the preprocessing crops {preprocess.crop}x"
                             f"{preprocess.crop} but the network takes {size}x{size}")
        self.preprocess = preprocess
        self.net = net
        self.image_size = int(image_size)
        self.build((None, self.image_size, self.image_size, 3))  # always the same size

    @property
    def num_classes(self):
        return int(self.net.output_shape[-1])

    def build(self, input_shape):
        if not self.preprocess.built:
            self.preprocess.build(input_shape)
        self.built = True

    def call(self, images, training=False):
        logits = self.net(self.preprocess(images, training=training), training=training)
        return keras.ops.cast(logits, "float32")

    def probabilities(self, images, ten_crop=False):
        """Softmax outputs for uint8 `images` of the stored size: of the centre crop, or the
        mean over the paper's 10 crops (for CIFAR-10, cuda-convnet's multiview test: the
        same corners, centre and mirror images)."""
        if not ten_crop:
            return tf.nn.softmax(self(images, training=False))
        x = self.preprocess.standardize(images)  # mean subtracted, not cropped
        crop = self.preprocess.crop
        crops = tf.reshape(ten_crops(x, crop), [-1, crop, crop, 3])
        probs = tf.nn.softmax(tf.cast(self.net(crops, training=False), tf.float32))
        return tf.reduce_mean(tf.reshape(probs, [-1, 10, probs.shape[-1]]), axis=1)

    def feature_model(self, layer="fc7"):
        """A model from uint8 images of the stored size to the activations of the network's `layer`
        (after its activation function) for the centre crop."""
        inner = keras.Model(self.net.input, self.layer(layer).output)
        images = keras.Input((None, None, 3), dtype="uint8")
        return keras.Model(images, inner(self.preprocess(images, training=False)))

    def layer(self, name):
        """A layer of the network by its paper name: conv1..conv5, fc6..fc8."""
        return self.net.get_layer(name)

    def conv1_kernels(self):
        """conv1's kernels, one `[kh, kw, 3, n]` array per tower (tower a first)."""
        return [k.numpy() for k in self.layer("conv1").kernels]

    def with_precision(self, policy):
        """A copy of this classifier whose network computes in the Keras dtype `policy`
        (e.g. "mixed_bfloat16"), with the same weights (kept in float32); `self` if it
        already does. The preprocessing and the logits stay float32."""
        if self.layer("conv1").dtype_policy.name == policy:
            return self

        def clone(layer):
            return layer.__class__.from_config({**layer.get_config(), "dtype": policy})
        net = keras.models.clone_model(self.net, clone_function=clone)
        net.set_weights(self.net.get_weights())
        preprocess = PaperAugmentation.from_config(self.preprocess.get_config())
        copy = Classifier(net, preprocess, image_size=self.image_size, name=self.name)
        preprocess.set_weights(self.preprocess.get_weights())
        return copy

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size,
                "net": keras.saving.serialize_keras_object(self.net),
                "preprocess": keras.saving.serialize_keras_object(self.preprocess)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        net = keras.saving.deserialize_keras_object(config.pop("net"))
        preprocess = keras.saving.deserialize_keras_object(config.pop("preprocess"))
        return cls(net, preprocess, **config)


def load(path):
    """A `Classifier` from a `.keras` file, in Keras' safe mode."""
    if os.path.isfile(path) and not zipfile.is_zipfile(path):  # Keras: "File not found"
        raise ValueError(f"{path}: not a .keras file (Keras writes them as zip archives); "
                         f"damaged, or another kind of file")
    model = keras.saving.load_model(path, safe_mode=True, compile=False)
    if not isinstance(model, Classifier):
        raise ValueError(f"{path} holds a {type(model).__name__}, not an alexnet_tf "
                         f"Classifier (written by tools/train.py or tools/import_caffe.py)")
    return model
