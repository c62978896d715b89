"""Caffe bvlc_alexnet import, checked against a forward pass written independently in
NumPy with Caffe's semantics (BGR input, grouped convolutions, cross-channel LRN with
alpha / n and k = 1, 227 input, no padding in conv1)."""
import os
import pickle
import subprocess
import sys

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
