"""The paper's data augmentation (Sec. 4.1) and test-time crops, as pure TF ops.

The input pipeline delivers uint8 images at the data's stored size (256x256 for the
paper); everything here runs on the accelerator, inside the compiled train/eval step, as
the first layer of the training model (`PaperAugmentation`). Each op works eagerly,
inside tf.data and under `jit_compile=True`.

Train (`training=True`): subtract the mean, add PCA lighting noise, take a random crop of
the net's input size (224x224 of 256 for the paper), flip it horizontally with
probability 0.5. Eval: subtract the mean, take the central crop; `ten_crops` gives the
paper's 10 test crops.

**CIFAR-10, cuda-convnet's way** (the code of the paper's CIFAR experiments; its
`CroppedCIFARDataProvider`): random 24x24 crops of the 32x32 images with random flips in
training, the centre crop at test, or its "multiview" test of the four corner and the
centre crops and their mirror images (the same 10 crops as `ten_crops`): a net of input
size 24 and `lighting_std=0`. Or the padded form (`pad=4`): the mean-subtracted image is
padded with 4 zeros (the mean colour) on each side and random 32x32 crops are taken, so
the net sees whole-size images; at test the centre crop is the image itself.

**The lighting noise.** The paper adds `[p1, p2, p3] [a1 l1, a2 l2, a3 l3]^T` to each
pixel, with `p_i, l_i` the eigenvectors and eigenvalues of the 3x3 covariance of RGB
pixel values and `a_i ~ N(0, 0.1)` drawn once per image each time it is used: magnitudes
"proportional to the eigenvalues". The formula is not scale-free (an eigenvalue is a
variance), so the pixel scale matters: we apply it, literally, to pixels scaled to [0, 1],
the scale of the widely used published ImageNet values (fb.resnet.torch's
`l = 0.2175, 0.0188, 0.0045`; on the shared Imagenette we measured 0.224, 0.0173, 0.0035
with `tools/compute_stats.py`, so those are covariance eigenvalues on [0, 1] pixels). With
eigenvalues `L_i` in our 0..255 units (`L_i = 255^2 l_i`) the shift is
`sum_i p_i a_i L_i / 255` levels: about 5.5 levels along the first component for ImageNet,
and its covariance in the eigenbasis is `0.01 * (L_i / 255)^2`. (Taking the formula
literally on 0..255 pixels would shift colours by ~1,400 levels.)
"""
import keras
import numpy as np
import tensorflow as tf

LIGHTING_STD = 0.1  # Sec. 4.1: a_i ~ N(0, 0.1)


def crop_and_flip(images, top, left, flip, size):
    """Per-image crops with optional horizontal flips, as two gathers (no per-image
    loops, so it compiles to a few XLA ops).

    Args:
        images: `[batch, height, width, channels]`.
        top, left: int32 `[batch]` crop offsets.
        flip: bool `[batch]`: mirror the crop left to right.
        size: crop height and width.
    """
    r = tf.range(size)
    rows = top[:, None] + r[None, :]
    cols = left[:, None] + tf.where(flip[:, None], size - 1 - r[None, :], r[None, :])
    images = tf.gather(images, rows, axis=1, batch_dims=1)
    return tf.gather(images, cols, axis=2, batch_dims=1)


def lighting(images, alpha, eigvals, eigvecs):
    """Adds `eigvecs @ (alpha * eigvals / 255)` to every pixel of each image: the paper's
    formula on [0, 1]-scaled pixels, expressed in 0..255 units (module docstring).

    Args:
        images: float `[batch, h, w, 3]`, 0..255 scale.
        alpha: float `[batch, 3]`, the per-image draws `a_i`.
        eigvals: `[3]` eigenvalues of the RGB covariance in 0..255 units.
        eigvecs: `[3, 3]`, eigenvector `i` in column `i`.
    """
    shift = tf.matmul(alpha * eigvals[None, :] / 255.0, eigvecs, transpose_b=True)
    return images + shift[:, None, None, :]


def center_crop(images, size):
    """The central `size` x `size` patch of each image."""
    h, w = images.shape[1], images.shape[2]
    top, left = (h - size) // 2, (w - size) // 2
    return images[:, top:top + size, left:left + size, :]


def ten_crops(images, size):
    """The paper's 10 test patches (Sec. 4.1): the four corner patches and the centre
    patch, then the same five mirrored.

    Returns `[batch, 10, size, size, channels]`, crops in the order top-left, top-right,
    bottom-left, bottom-right, centre, then their reflections in the same order.
    """
    h, w = images.shape[1], images.shape[2]
    offsets = [(0, 0), (0, w - size), (h - size, 0), (h - size, w - size),
               ((h - size) // 2, (w - size) // 2)]
    crops = [images[:, t:t + size, l:l + size, :] for t, l in offsets]
    crops += [tf.reverse(c, axis=[2]) for c in crops]
    return tf.stack(crops, axis=1)


@keras.saving.register_keras_serializable(package="alexnet_tf")
class PaperAugmentation(keras.layers.Layer):
    """uint8 images at the stored size in (256x256 for the paper), float32 mean-subtracted
    `crop` x `crop` images out (224x224; Sec. 4.1).

    Training: `(image - mean) * scale`, plus PCA lighting noise (see the module
    docstring, scaled alike), zero-padded by `pad` pixels on each side, then a random
    `crop` x `crop` crop (for the paper all 33x33 offsets of 224 in 256, equally likely)
    flipped with probability 0.5. Inference: `(image - mean) * scale`, padded, central
    crop. (`scale` is 1 and `pad` 0 for the paper.)

    The mean is either per channel (`[3]`) or the paper's per-pixel mean image
    (`[256, 256, 3]`, subtracted before cropping, so each crop loses the mean of its own
    pixels). The mean and PCA statistics are stored as non-trainable weights (so they are
    saved with the model); the random state is a `keras.random.SeedGenerator`, also saved,
    so a resumed run draws the same crops as an uninterrupted one.

    Args:
        mean: `[3]` or `[H, W, 3]` array (H, W: the stored size), in 0..255 pixel units.
        eigvals: `[3]` eigenvalues of the RGB pixel covariance.
        eigvecs: `[3, 3]` eigenvectors in columns.
        crop: crop size: the network's input size (224 for the paper's net).
        lighting_std: standard deviation of `a_i` (0.1); 0 disables lighting noise.
        flip: whether training crops are mirrored with probability 0.5.
        random_crop: whether training crops are random (else central). With
            `lighting_std=0, flip=False, random_crop=False` training is deterministic.
        scale: the output is multiplied by it. 1 for the paper (0..255 pixels minus the
            mean); about 1/64 (the pixels' standard deviation) for He initialization.
        seed: seed of the random state.
        pad: zero pixels added on each side of the mean-subtracted image before any crop
            (0: the paper; 4 with `crop=32` on CIFAR-10's 32x32 images: cuda-convnet-style
            translations that keep the whole image size).
        mean_shape: used by `from_config` only (the mean itself is a weight).
    """

    def __init__(self, mean=None, eigvals=None, eigvecs=None, crop=None,
                 lighting_std=LIGHTING_STD, flip=True, random_crop=True, scale=1.0,
                 seed=None, mean_shape=None, pad=0, **kwargs):
        super().__init__(**kwargs)
        if mean is None and mean_shape is None:
            raise ValueError("PaperAugmentation needs `mean` (see alexnet_tf.stats)")
        if crop is None:
            raise ValueError("PaperAugmentation needs `crop`: the network's input size "
                             "(`alexnet(image_size=...)`, 224 for the paper)")
        self.mean_shape = tuple(np.shape(mean)) if mean is not None else tuple(mean_shape)
        if self.mean_shape not in ((3,),) and (len(self.mean_shape) != 3
                                               or self.mean_shape[-1] != 3):
            raise ValueError(f"PaperAugmentation: mean must have shape [3] or [H, W, 3], got "
                             f"{self.mean_shape}")
        self.crop = int(crop)
        self.lighting_std = float(lighting_std)
        self.flip = bool(flip)
        self.random_crop = bool(random_crop)
        self.scale = float(scale)
        self.seed = seed
        self.pad = int(pad)
        if self.pad < 0:
            raise ValueError(f"PaperAugmentation: pad must be 0 or more, got {pad!r}")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._init = (mean, eigvals, eigvecs)

    def build(self, input_shape):
        mean, eigvals, eigvecs = self._init
        const = keras.initializers.Constant

        def weight(name, shape, value):
            return self.add_weight(name=name, shape=shape, trainable=False,
                                   initializer=const(value) if value is not None else "zeros")
        self.mean = weight("mean", self.mean_shape, mean)
        self.eigvals = weight("eigvals", (3,), eigvals)
        self.eigvecs = weight("eigvecs", (3, 3), eigvecs)
        h, w = input_shape[1], input_shape[2]
        if h is not None and (h + 2 * self.pad < self.crop or w + 2 * self.pad < self.crop):
            raise ValueError(f"PaperAugmentation: images of {h}x{w}"
                             + (f" padded by {self.pad}" if self.pad else "")
                             + f" are smaller than the {self.crop} crop")
        if len(self.mean_shape) == 3 and h is not None and self.mean_shape[:2] != (h, w):
            raise ValueError(f"PaperAugmentation: the mean image is {self.mean_shape[:2]} but "
                             f"images are {h}x{w}")

    def standardize(self, images):
        """`(images - mean) * scale` in float32, padded by `pad` zeros, uncropped: the
        inference path before its crop (the centre crop, or the paper's 10 crops)."""
        return self._pad(self._subtract_mean(images))

    def _subtract_mean(self, images):
        x = tf.cast(images, tf.float32) - tf.convert_to_tensor(self.mean)
        return x * self.scale if self.scale != 1.0 else x

    def _pad(self, x):
        if not self.pad:
            return x
        p = self.pad
        return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]])

    def call(self, images, training=False):
        if not training:
            return center_crop(self.standardize(images), self.crop)
        x = self._subtract_mean(images)
        batch = tf.shape(x)[0]
        if self.lighting_std:
            alpha = keras.random.normal((batch, 3), stddev=self.lighting_std,
                                        seed=self.seed_generator)
            x = lighting(x, alpha * self.scale, tf.convert_to_tensor(self.eigvals),
                         tf.convert_to_tensor(self.eigvecs))
        x = self._pad(x)  # the border stays at the mean (0), lighting or not
        h, w = tf.shape(x)[1], tf.shape(x)[2]
        if self.random_crop:
            top = keras.random.randint((batch,), 0, h - self.crop + 1, seed=self.seed_generator)
            left = keras.random.randint((batch,), 0, w - self.crop + 1,
                                        seed=self.seed_generator)
        else:
            top = tf.fill([batch], (h - self.crop) // 2)
            left = tf.fill([batch], (w - self.crop) // 2)
        if self.flip:
            flip = keras.random.uniform((batch,), seed=self.seed_generator) < 0.5
        else:
            flip = tf.zeros((batch,), tf.bool)
        return crop_and_flip(x, tf.cast(top, tf.int32), tf.cast(left, tf.int32), flip,
                             self.crop)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.crop, self.crop, 3)

    def get_config(self):
        return {**super().get_config(), "crop": self.crop, "lighting_std": self.lighting_std,
                "flip": self.flip, "random_crop": self.random_crop, "scale": self.scale,
                "seed": self.seed, "pad": self.pad,
                "mean_shape": list(self.mean_shape)}
