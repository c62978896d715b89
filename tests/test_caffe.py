"""Caffe bvlc_alexnet import, checked against a forward pass written independently in
NumPy with Caffe's semantics (BGR input, grouped convolutions, cross-channel LRN with
alpha / n and k = 1, 227 input, no padding in conv1)."""
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from alexnet_tf import caffe

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def random_weights(seed=0, classes=1000):
    rng = np.random.default_rng(seed)
    weights = {}
    for name, (w_shape, b_shape) in caffe.SHAPES.items():
        if name == "fc8":
            w_shape, b_shape = (4096, classes), (classes,)
        fan_in = np.prod(w_shape[:-1])
        weights[name] = [rng.normal(0, 1.6 / np.sqrt(fan_in), w_shape).astype(np.float32),
                         rng.normal(0, 0.1, b_shape).astype(np.float32)]
    return weights


def conv(x, w, b, stride=1, pad=0, groups=1):
    """x [H, W, C], w [kh, kw, C / groups, O]: Caffe convolution (cross-correlation)."""
    x = np.pad(x, [(pad, pad), (pad, pad), (0, 0)])
    kh, kw, cin, cout = w.shape
    outs = []
    for g in range(groups):
        xg = x[:, :, g * cin:(g + 1) * cin]
        wg = w[..., g * cout // groups:(g + 1) * cout // groups]
        oh, ow = (xg.shape[0] - kh) // stride + 1, (xg.shape[1] - kw) // stride + 1
        cols = np.empty((oh, ow, kh, kw, cin), np.float64)
        for i in range(kh):
            for j in range(kw):
                cols[:, :, i, j] = xg[i:i + stride * oh:stride, j:j + stride * ow:stride]
        outs.append(cols.reshape(oh * ow, -1) @ wg.reshape(-1, wg.shape[-1]))
    return (np.concatenate(outs, -1) + b).reshape(oh, ow, cout)


def lrn(x, n=5, k=1.0, alpha=1e-4, beta=0.75):
    sq = np.pad(x ** 2, [(0, 0), (0, 0), (n // 2, n // 2)])
    window = sum(sq[:, :, i:i + x.shape[-1]] for i in range(n))
    return x / (k + alpha / n * window) ** beta


def pool(x, size=3, stride=2):
    oh, ow = (x.shape[0] - size) // stride + 1, (x.shape[1] - size) // stride + 1
    return np.max([x[i:i + stride * oh:stride, j:j + stride * ow:stride]
                   for i in range(size) for j in range(size)], axis=0)


def caffe_forward(bgr, w):
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    x = pool(lrn(relu(conv(bgr, *w["conv1"], stride=4))))
    x = pool(lrn(relu(conv(x, *w["conv2"], pad=2, groups=2))))
    x = relu(conv(x, *w["conv3"], pad=1))
    x = relu(conv(x, *w["conv4"], pad=1, groups=2))
    x = pool(relu(conv(x, *w["conv5"], pad=1, groups=2)))
    x = relu(x.reshape(-1) @ w["fc6"][0] + w["fc6"][1])
    x = relu(x @ w["fc7"][0] + w["fc7"][1])
    return x @ w["fc8"][0] + w["fc8"][1]


def test_imported_model_matches_caffe_forward_pass(tmp_path):
    weights = random_weights()
    np.save(tmp_path / "bvlc_alexnet.npy", weights, allow_pickle=True)
    model = caffe.import_weights(tmp_path / "bvlc_alexnet.npy")
    assert model.count_params() - 3 - 3 - 9 == 60_965_224  # + augmentation's mean/PCA
    rgb = np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    got = model.predict(rgb[None], verbose=0)[0]
    # Caffe: BGR minus its mean, central 227 crop of the 256 image.
    bgr = rgb[..., ::-1].astype(np.float64) - caffe.CAFFE_MEAN_BGR
    want = caffe_forward(bgr[14:241, 14:241], weights)
    assert np.abs(want).max() > 1  # a live signal, not all zeros
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


def caffe_fc6_to_npy(blob, channels=256, size=6):
    """Caffe's fc6 blob [outputs, inputs], inputs flattened in pool5's (channel, row,
    column) order, to the `.npy` layout the Caffe-to-TensorFlow converters write and the
    importer takes as is: [inputs, outputs], inputs in (row, column, channel) order."""
    outputs = blob.shape[0]
    return (blob.reshape(outputs, channels, size, size).transpose(2, 3, 1, 0)
            .reshape(size * size * channels, outputs))


def test_fc6_reads_the_pool5_position_caffe_wires_it_to(tmp_path):
    """Independent of the NumPy reference (which flattens pool5 as the importer does):
    an fc6 whose unit j, in Caffe's (C, H, W) indexing, copies pool5 at (channel c_j,
    row h_j, column w_j) reads exactly pool5[h_j, w_j, c_j] of our (H, W, C) maps once
    imported. The importer converts nothing here: the .npy's fc6 rows must already be
    in (H, W, C) order (shown by the raw Caffe order reading other positions)."""
    rng = np.random.default_rng(2)
    weights = random_weights(classes=10)
    units = weights["fc6"][0].shape[1]
    c, h, w = rng.integers(0, 256, units), rng.integers(0, 6, units), rng.integers(0, 6, units)
    blob = np.zeros((units, 256 * 6 * 6), np.float32)  # Caffe: [outputs, C * H * W]
    blob[np.arange(units), (c * 6 + h) * 6 + w] = 1.0
    # The converter's layout, by hand: unit j's input row is (h_j * 6 + w_j) * 256 + c_j.
    npy_fc6 = caffe_fc6_to_npy(blob)
    assert np.array_equal(np.argmax(npy_fc6, axis=0), (h * 6 + w) * 256 + c)
    weights["fc6"] = [npy_fc6, np.zeros(units, np.float32)]
    np.save(tmp_path / "w.npy", weights, allow_pickle=True)
    model = caffe.import_weights(tmp_path / "w.npy")

    rgb = np.random.default_rng(3).integers(0, 256, (1, 256, 256, 3), dtype=np.uint8)
    net = model.net
    probe = keras.Model(net.input, [net.get_layer("pool5").output, net.get_layer("fc6").output])
    pool5, fc6 = (t.numpy()[0] for t in probe(model.preprocess(rgb, training=False)))
    assert pool5.shape == (6, 6, 256) and fc6.shape == (units,)
    assert (pool5 > 0).mean() > 0.3 and np.unique(pool5).size > 1000  # a live signal
    np.testing.assert_allclose(fc6, pool5[h, w, c], rtol=1e-6)
    # The raw Caffe order taken as is would read other positions: the layout matters.
    np.save(tmp_path / "raw.npy", {**weights, "fc6": [blob.T, weights["fc6"][1]]},
            allow_pickle=True)
    raw = caffe.import_weights(tmp_path / "raw.npy")
    raw_fc6 = keras.Model(raw.net.input, raw.net.get_layer("fc6").output)(
        raw.preprocess(rgb, training=False)).numpy()[0]
    assert np.mean(np.isclose(raw_fc6, pool5[h, w, c], rtol=1e-6)) < 0.5


def test_caffe_mean_is_ilsvrc_2012_mean_in_rgb():
    """Caffe's ilsvrc_2012_mean.npy averaged over pixels is B, G, R = 104.007, 116.669,
    122.679 (the values Caffe's examples print); our model takes RGB."""
    mean = np.asarray(caffe.caffe_model(num_classes=10).preprocess.mean)
    np.testing.assert_allclose(mean, [122.6789, 116.6688, 104.0070], atol=1e-3)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.npy"
    np.save(path, np.array({"conv1": Evil()}, dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="refusing to load (posix|os).system"):
        caffe.read_weights(path)


def test_wrong_shapes_are_named(tmp_path):
    weights = random_weights(classes=10)
    weights["conv2"][0] = weights["conv2"][0][:, :, :24]
    np.save(tmp_path / "w.npy", weights, allow_pickle=True)
    with pytest.raises(ValueError, match=r"layer conv2 has shapes \(5, 5, 24, 256\)"):
        caffe.import_weights(tmp_path / "w.npy")
    del weights["fc7"]
    np.save(tmp_path / "w.npy", weights, allow_pickle=True)
    with pytest.raises(ValueError, match=r"layers missing: \['fc7'\]"):
        caffe.import_weights(tmp_path / "w.npy")


def test_tool_writes_a_servable_model(tmp_path):
    np.save(tmp_path / "w.npy", random_weights(classes=10), allow_pickle=True)
    run = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "import_caffe.py"),
                          "--weights", str(tmp_path / "w.npy"), "--output", str(tmp_path / "m")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(os.listdir(tmp_path / "m")) == ["classes.txt", "model.keras", "saved_model"]
