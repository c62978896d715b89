"""Dataset statistics for the paper's preprocessing (Sec. 2 and 4.1).

* The mean to subtract: the paper subtracts "the mean activity over the training set from
  each pixel", a 256x256x3 mean image (at the data's stored size: 32x32x3 for
  CIFAR-10); a per-channel mean (3 numbers) is the common
  simplification. Both are computed.
* The 3x3 covariance of RGB pixel values over the training set, and its eigenvalues and
  eigenvectors, for PCA lighting noise (`alexnet_tf.augment`).

All values are in 0..255 pixel units, computed over the images the input pipeline
delivers (shorter side to the stored size, central crop: 256 for the paper, the size the
TFRecords' manifest records otherwise, `data.stored_size`), streamed with float64 sums.

Stats files are `.npz` archives with `mean_image` [size, size, 3], `mean_rgb` [3],
`covariance` [3, 3], `eigvals` [3] (descending), `eigvecs` [3, 3] (eigenvector i in column
i, sign fixed so its largest component is positive), `count` (images) and `source`.
"""
import os

import numpy as np
import tensorflow as tf

from alexnet_tf import data
from alexnet_tf.data import FEATURES, shard_files, decode, resize_and_crop

# Published ImageNet values, for when you have not computed your own:
# * mean_rgb: the ILSVRC-2012 training-set channel means used by Caffe's reference models
#   and VGG (Simonyan & Zisserman 2014), e.g. keras.applications' "caffe" preprocessing
#   (there in BGR order: 103.939, 116.779, 123.68).
# * eigvals/eigvecs: fb.resnet.torch (datasets/imagenet.lua), computed "from a random subset
#   of ImageNet training images" on [0, 1] pixels: eigval = (0.2175, 0.0188, 0.0045), here
#   in our 0..255 units (x 255^2).
PUBLISHED = {
    "mean_rgb": np.array([123.68, 116.779, 103.939]),
    "eigvals": 255.0 ** 2 * np.array([0.2175, 0.0188, 0.0045]),
    "eigvecs": np.array([[-0.5675, 0.7192, 0.4009],
                         [-0.5808, -0.0045, -0.8140],
                         [-0.5836, -0.6948, 0.4203]]),
    "source": "published ImageNet values (Caffe/VGG channel means; fb.resnet.torch PCA)",
}


def _images(pattern, batch_size, max_images, data_dir, size):
    # Encoded images in a fixed order, cut to the first `max_images`, then decoded.
    if isinstance(pattern, str) and pattern.startswith(data.TFDS_PREFIX):
        ds = data.tfds_encoded(*data.tfds_path(pattern, "train"), data_dir)
        ds = ds.map(lambda encoded, label: encoded)
    else:
        ds = tf.data.Dataset.from_tensor_slices(shard_files(pattern))
        ds = ds.interleave(tf.data.TFRecordDataset, num_parallel_calls=tf.data.AUTOTUNE,
                           deterministic=True)
        ds = ds.map(lambda r: tf.io.parse_single_example(r, FEATURES)["image/encoded"])
    if max_images:
        ds = ds.take(max_images)
    ds = ds.map(lambda encoded: resize_and_crop(decode(encoded), size),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(2)


@tf.function
def _batch_sums(images):
    x = tf.cast(images, tf.float64)
    pixels = tf.reshape(x, [-1, 3])
    return tf.reduce_sum(x, axis=0), tf.matmul(pixels, pixels, transpose_a=True)


def compute_stats(pattern, max_images=None, batch_size=128, progress=None, data_dir=None,
                  image_size=None):
    """Streams the images of `pattern`, TFRecord shards (a glob) or a prepared tfds
    dataset (`tfds:NAME[:SPLIT]`, NAME looked up in `data_dir`, split `train` by default;
    see `data.read_path`), the first `max_images` in file order or all, and returns the
    stats dict described in the module docstring.

    `progress`, if given, is called with the number of images done after each batch.
    `image_size`: the size the images are read at (the mean image's); None: the shards'
    stored size (`data.stored_size`), else 256.
    """
    tfds = isinstance(pattern, str) and pattern.startswith(data.TFDS_PREFIX)
    size = data.read_size(image_size, None if tfds else pattern)
    sum_image = np.zeros((size, size, 3))
    sum_outer = np.zeros((3, 3))
    count = 0
    # `checked`: an image that does not decode is one error line naming `pattern`.
    for images in data.checked(_images(pattern, batch_size, max_images, data_dir, size),
                               pattern):
        s, outer = _batch_sums(images)
        sum_image += s.numpy()
        sum_outer += outer.numpy()
        count += int(images.shape[0])
        if progress:
            progress(count)
    if not count:
        raise ValueError(f"no images read from {pattern}")
    return stats_from_sums(sum_image, sum_outer, count,
                           source=f"computed from {count} images of {pattern}")


def stats_from_sums(sum_image, sum_outer, count, source):
    """Stats from per-pixel sums `[H, W, 3]`, the RGB outer-product sum `[3, 3]` and the
    number of images."""
    n_pixels = count * sum_image.shape[0] * sum_image.shape[1]
    mean_image = sum_image / count
    mean_rgb = sum_image.sum(axis=(0, 1)) / n_pixels
    covariance = sum_outer / n_pixels - np.outer(mean_rgb, mean_rgb)
    eigvals, eigvecs = np.linalg.eigh(covariance)
    order = np.argsort(eigvals)[::-1]
    eigvals, eigvecs = eigvals[order], eigvecs[:, order]
    signs = np.sign(eigvecs[np.abs(eigvecs).argmax(axis=0), range(3)])
    return {"mean_image": mean_image, "mean_rgb": mean_rgb, "covariance": covariance,
            "eigvals": eigvals, "eigvecs": eigvecs * signs, "count": count, "source": source}


def save_stats(path, stats):
    """Writes a stats dict to `path` (.npz)."""
    np.savez(path, **{k: np.asarray(v) for k, v in stats.items()})


def load_stats(path):
    """Reads a stats file written by `save_stats` (or `tools/compute_stats.py`); `None` or
    "published" gives `PUBLISHED` (per-channel mean only)."""
    if path is None or path == "published":
        return dict(PUBLISHED)
    if not os.path.exists(path):
        raise FileNotFoundError(f"stats file {path} does not exist (make one with "
                                f"tools/compute_stats.py, or use 'published')")
    with np.load(path) as f:
        stats = {k: f[k] for k in f.files}
    missing = {"mean_rgb", "eigvals", "eigvecs"} - set(stats)
    if missing:
        raise ValueError(f"stats file {path} lacks {sorted(missing)}")
    stats["source"] = str(stats.get("source", path))
    return stats


def describe(stats):
    """A short text report of a stats dict."""
    lines = [f"source: {stats['source']}",
             "mean RGB: " + ", ".join(f"{v:.3f}" for v in stats["mean_rgb"]),
             "eigenvalues: " + ", ".join(f"{v:.3f}" for v in stats["eigvals"]),
             "eigenvectors (columns):"]
    lines += ["  " + "  ".join(f"{v:+.4f}" for v in row) for row in stats["eigvecs"]]
    return "\n".join(lines)
