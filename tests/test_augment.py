import keras
import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf import augment as A
from alexnet_tf.stats import PUBLISHED
from layer_harness import run_layer_test


def images(batch=4, size=256, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (batch, size, size, 3), dtype=np.uint8)


def three_ways(fn, *args):
    """fn's result eagerly, inside tf.data and under jit_compile."""
    eager = fn(*args)
    in_data = next(iter(tf.data.Dataset.from_tensors(args).map(fn)))
    xla = tf.function(fn, jit_compile=True)(*args)
    return [np.asarray(r) for r in (eager, in_data, xla)]


def test_crop_and_flip_matches_slicing_three_ways():
    x = tf.constant(images(3, 40).astype("float32"))
    top, left = tf.constant([0, 5, 16]), tf.constant([16, 0, 7])
    flip = tf.constant([False, True, True])
    want = np.stack([np.asarray(x[i, t:t + 24, l:l + 24])[:, ::-1 if f else 1]
                     for i, (t, l, f) in enumerate(zip([0, 5, 16], [16, 0, 7],
                                                       [False, True, True]))])
    for got in three_ways(lambda *a: A.crop_and_flip(*a, size=24), x, top, left, flip):
        np.testing.assert_array_equal(got, want)


def test_lighting_three_ways():
    x = tf.zeros((2, 4, 4, 3))
    alpha = tf.constant([[1.0, 0, 0], [0, 0, -2.0]])
    eigvals = tf.constant([9.0, 4.0, 1.0])
    eigvecs = tf.constant(np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0],
                          tf.float32)
    # Shift = sum_i p_i a_i eigval_i / 255.
    want = np.stack([np.broadcast_to(eigvecs.numpy()[:, 0] * 9.0 / 255, (4, 4, 3)),
                     np.broadcast_to(eigvecs.numpy()[:, 2] * -2.0 / 255, (4, 4, 3))])
    for got in three_ways(A.lighting, x, alpha, eigvals, eigvecs):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_ten_crops_geometry():
    x = np.arange(2 * 8 * 8 * 1, dtype="float32").reshape(2, 8, 8, 1)
    crops = A.ten_crops(tf.constant(x), size=5).numpy()
    assert crops.shape == (2, 10, 5, 5, 1)
    expected = [x[:, :5, :5], x[:, :5, 3:], x[:, 3:, :5], x[:, 3:, 3:], x[:, 1:6, 1:6]]
    expected += [e[:, :, ::-1] for e in expected]
    for i, e in enumerate(expected):
        np.testing.assert_array_equal(crops[:, i], e, err_msg=f"crop {i}")
    xla = tf.function(lambda t: A.ten_crops(t, 5), jit_compile=True)(tf.constant(x))
    np.testing.assert_array_equal(xla.numpy(), crops)
    np.testing.assert_array_equal(A.center_crop(tf.constant(x), 5).numpy(), expected[4])


def make_layer(seed=0, mean=None, lighting_std=0.1):
    return A.PaperAugmentation(PUBLISHED["mean_rgb"] if mean is None else mean,
                               PUBLISHED["eigvals"], PUBLISHED["eigvecs"], crop=224,
                               seed=seed, lighting_std=lighting_std)


def test_inference_is_mean_subtracted_centre_crop():
    x = images(2)
    out = make_layer()(x, training=False).numpy()
    want = x[:, 16:240, 16:240].astype("float32") - PUBLISHED["mean_rgb"].astype("float32")
    np.testing.assert_allclose(out, want, rtol=1e-6)
    mean_image = np.random.default_rng(1).uniform(0, 255, (256, 256, 3))
    out = make_layer(mean=mean_image)(x, training=False).numpy()
    want = (x.astype("float32") - mean_image.astype("float32"))[:, 16:240, 16:240]
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-4)


def offsets_and_flips(layer, batches):
    """Recovers each training crop's offset and flip from an image whose pixels encode
    their own coordinates (no lighting, zero mean)."""
    rows, cols = np.mgrid[0:256, 0:256]
    coded = np.stack([rows, cols, np.zeros_like(rows)], -1).astype("uint8")
    x = np.repeat(coded[None], 256, axis=0)
    step = tf.function(lambda t: layer(t, training=True), jit_compile=True)
    found = []
    for _ in range(batches):
        out = step(x).numpy()
        top = out[:, 0, 0, 0].astype(int)
        flip = out[:, 0, 0, 1] > out[:, 0, -1, 1]
        left = np.where(flip, out[:, 0, -1, 1], out[:, 0, 0, 1]).astype(int)
        found.append(np.stack([top, left, flip], 1))
    return np.concatenate(found)


def test_all_crop_offsets_reachable_and_flip_rate():
    layer = make_layer(seed=3, mean=np.zeros(3), lighting_std=0.0)
    found = offsets_and_flips(layer, 40)  # 10,240 crops
    assert set(found[:, 0]) == set(range(33)) and set(found[:, 1]) == set(range(33))
    n = len(found)
    counts = np.zeros((33, 33))
    np.add.at(counts, (found[:, 0], found[:, 1]), 1)
    assert (counts > 0).mean() > 0.99  # ~9.4 per cell on average: nearly all pairs seen
    flip_rate = found[:, 2].mean()
    assert abs(flip_rate - 0.5) < 4 * np.sqrt(0.25 / n)


def lighting_layer(seed, crop=4):
    """Lighting noise only (zero mean, no crop offsets, no flips), on tiny images: the
    shift it adds does not depend on the image size, so many samples are cheap."""
    return A.PaperAugmentation(np.zeros(3), PUBLISHED["eigvals"], PUBLISHED["eigvecs"],
                               crop=crop, seed=seed, flip=False, random_crop=False)


def test_lighting_noise_is_the_formula_with_the_layers_draws():
    """The shift added to each image is exactly eigvecs @ (a * eigvals / 255) with the
    a ~ N(0, 0.1) the layer draws from its seed (its first draw): any error in the scale
    of the formula or of the draws shows, to float32 rounding."""
    n = 256
    shifts = lighting_layer(seed=11)(np.full((n, 4, 4, 3), 128, np.uint8), training=True)
    shifts = shifts.numpy() - 128.0
    np.testing.assert_array_equal(shifts, np.broadcast_to(shifts[:, :1, :1], shifts.shape))
    alpha = keras.random.normal((n, 3), stddev=0.1,
                                seed=keras.random.SeedGenerator(11)).numpy().astype(np.float64)
    want = (alpha * PUBLISHED["eigvals"] / 255) @ np.asarray(PUBLISHED["eigvecs"]).T
    assert np.abs(want).max() > 1  # levels: a visible shift
    np.testing.assert_allclose(shifts[:, 0, 0], want, rtol=1e-4, atol=1e-4)


def test_lighting_noise_covariance():
    """Statistically, with no reference to the layer's draws: along eigenvector i the
    shift has standard deviation 0.1 * eigval_i / 255 levels, components uncorrelated."""
    n = 65536
    layer = lighting_layer(seed=4)
    step = tf.function(lambda t: layer(t, training=True), jit_compile=True)
    shifts = step(np.full((n, 4, 4, 3), 128, np.uint8)).numpy()[:, 0, 0] - 128.0
    in_eigenbasis = shifts @ PUBLISHED["eigvecs"]
    cov = np.cov(in_eigenbasis, rowvar=False)
    # The paper's formula on [0, 1] pixels: std 0.1 * eigval along each component, i.e.
    # 0.1 * eigval / 255 levels with our 0..255 eigenvalues (augment module docstring).
    want_std = 0.1 * PUBLISHED["eigvals"] / 255
    # A standard deviation estimate has relative standard error 1 / sqrt(2 n) ~ 0.28 %:
    # the tolerance is 5 of those (1.4 %), far below a 10 % error in the scale.
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), want_std, rtol=5 / np.sqrt(2 * n))
    off = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    assert np.abs(off - np.eye(3)).max() < 5 / np.sqrt(n)  # components are uncorrelated


def find_crop(standardized, out, size=224):
    """The (top, left, flip, colour shift) that make `out` a `size` crop of `standardized`,
    mirrored if `flip`, plus one RGB shift; None if there is none."""
    h, w, _ = standardized.shape
    probe = np.random.default_rng(0).integers(0, size, (12, 2))  # a few pixels first
    for top in range(h - size + 1):
        for left in range(w - size + 1):
            for flip in (False, True):
                crop = standardized[top:top + size, left:left + size][:, ::-1 if flip else 1]
                shift = out[0, 0] - crop[0, 0]
                if not np.allclose(out[probe[:, 0], probe[:, 1]],
                                   crop[probe[:, 0], probe[:, 1]] + shift, atol=1e-3):
                    continue
                if np.allclose(out, crop + shift, atol=1e-3):
                    return top, left, flip, shift
    return None


def test_same_seed_same_augmentation_three_ways():
    """Eagerly, in a tf.function and inside tf.data, a layer with the same seed draws
    the same augmentation. Under XLA, stateless random ops use XLA's own generator (other
    numbers): there the same seed gives the same result, and it is the augmentation of
    the input: a 224 crop of image - mean, mirrored or not, plus the lighting shift of
    the a_i that XLA draws from that seed."""
    x = images(2)
    outs = [make_layer(seed=7)(x, training=True).numpy() for _ in range(2)]
    np.testing.assert_array_equal(outs[0], outs[1])
    fresh = make_layer(seed=7)
    graph = tf.function(lambda t: fresh(t, training=True))(x).numpy()
    np.testing.assert_allclose(graph, outs[0], atol=1e-4)
    in_data = make_layer(seed=7)
    mapped = tf.data.Dataset.from_tensors(x).map(lambda t: in_data(t, training=True))
    np.testing.assert_allclose(next(iter(mapped)).numpy(), outs[0], atol=1e-4)
    assert not np.array_equal(make_layer(seed=8)(x, training=True).numpy(), outs[0])

    xla = [tf.function(lambda t, layer=make_layer(seed=seed): layer(t, training=True),
                       jit_compile=True)(x).numpy() for seed in (7, 7, 8)]
    np.testing.assert_array_equal(xla[0], xla[1])
    assert not np.array_equal(xla[0], xla[2])
    generator = keras.random.SeedGenerator(7)  # the layer's first draw, under XLA
    xla_alpha = tf.function(lambda: keras.random.normal((2, 3), stddev=0.1, seed=generator),
                            jit_compile=True)().numpy()
    standardized = x.astype(np.float32) - PUBLISHED["mean_rgb"].astype(np.float32)
    for image, out, want_alpha in zip(standardized, xla[0], xla_alpha):
        found = find_crop(image, out)
        assert found is not None, "the XLA output is not a crop of the input plus a shift"
        alpha = found[3] @ PUBLISHED["eigvecs"] * 255 / PUBLISHED["eigvals"]
        np.testing.assert_allclose(alpha, want_alpha, atol=1e-3)


def test_augmentation_layer_harness(tmp_path):
    run_layer_test(A.PaperAugmentation, dict(mean=PUBLISHED["mean_rgb"],
                                             eigvals=PUBLISHED["eigvals"],
                                             eigvecs=PUBLISHED["eigvecs"], crop=224, seed=1),
                   images(2), (2, 224, 224, 3), tmp_path)


@pytest.mark.parametrize("kwargs,match", [
    (dict(mean=np.zeros(4), crop=224), "shape"), (dict(crop=224), "needs `mean`"),
    (dict(mean=np.zeros(3)), "needs `crop`"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        A.PaperAugmentation(**kwargs)


def test_mean_image_must_match_input():
    layer = make_layer(mean=np.zeros((200, 200, 3)))
    with pytest.raises(ValueError, match="mean image is"):
        layer(images(1))
    with pytest.raises(ValueError, match="smaller than the 224 crop"):
        make_layer()(images(1, 100))


def test_scale_multiplies_the_output_and_the_lighting():
    x = images(2)
    plain = make_layer(seed=9)(x, training=True).numpy()
    scaled = A.PaperAugmentation(PUBLISHED["mean_rgb"], PUBLISHED["eigvals"],
                                 PUBLISHED["eigvecs"], crop=224, seed=9,
                                 scale=1 / 64)(x, training=True)
    np.testing.assert_allclose(scaled.numpy(), plain / 64, rtol=1e-5, atol=1e-5)


def coded_images(size, batch):
    """Images whose pixels encode their own coordinates (row + 1, column + 1: 0 is the
    padding), for recovering where each crop came from."""
    rows, cols = np.mgrid[1:size + 1, 1:size + 1]
    coded = np.stack([rows, cols, np.zeros_like(rows)], -1).astype("uint8")
    return np.repeat(coded[None], batch, axis=0)


@pytest.mark.parametrize("crop, pad", [(24, 0), (32, 4)])
def test_cifar_crops_padded_or_not(crop, pad):
    """cuda-convnet's CIFAR-10 translations: random 24x24 crops of 32x32 images, or 32x32
    crops of the image padded by 4 zeros (the mean colour); 9 offsets each way either way,
    flipped half the time; at test the centre crop (the image itself when padded)."""
    layer = A.PaperAugmentation(np.zeros(3), PUBLISHED["eigvals"], PUBLISHED["eigvecs"],
                                crop=crop, pad=pad, lighting_std=0.0, seed=5)
    x = coded_images(32, 512)
    out = tf.function(lambda t: layer(t, training=True), jit_compile=True)(x).numpy()
    assert out.shape == (512, crop, crop, 3)
    # Each crop is a window of the padded coded image: find its offset from any pixel
    # inside the image (padding reads 0).
    padded = np.pad(x[0], [(pad, pad), (pad, pad), (0, 0)]).astype("float32")
    tops, lefts, flips = set(), set(), 0
    for crop_image in out:
        for flip in (False, True):
            c = crop_image[:, ::-1] if flip else crop_image
            inside = np.argwhere(c[..., 0] > 0)[0]
            top = int(c[inside[0], inside[1], 0]) - 1 + pad - inside[0]
            left = int(c[inside[0], inside[1], 1]) - 1 + pad - inside[1]
            if 0 <= top <= 2 * 4 and 0 <= left <= 2 * 4 and np.array_equal(
                    c, padded[top:top + crop, left:left + crop]):
                tops.add(top), lefts.add(left)
                flips += flip
                break
        else:
            raise AssertionError("a training crop is no window of the padded image")
    assert tops == lefts == set(range(9))
    assert 0.4 < flips / len(out) < 0.6
    test = layer(x[:2], training=False).numpy()
    np.testing.assert_array_equal(test[0], padded[4:4 + crop, 4:4 + crop])
    if pad:
        np.testing.assert_array_equal(test[0], x[0].astype("float32"))
    # The 10 test crops (cuda-convnet's multiview: corners, centre, mirrors) of the padded
    # image.
    crops = A.ten_crops(layer.standardize(x[:1]), crop).numpy()
    np.testing.assert_array_equal(crops[0, 4], test[0])
    np.testing.assert_array_equal(crops[0, 0], padded[:crop, :crop])
    assert layer.get_config()["pad"] == pad
    with pytest.raises(ValueError, match="images of 16x16 padded by 4 are smaller than the 32"):
        A.PaperAugmentation(np.zeros(3), PUBLISHED["eigvals"], PUBLISHED["eigvecs"], crop=32,
                            pad=4).build((None, 16, 16, 3))
