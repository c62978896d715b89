import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf import build as B
from alexnet_tf import stats as S

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_png_records(path, arrays):
    """Records whose payload is lossless PNG, so the stats have an exact known answer."""
    with tf.io.TFRecordWriter(str(path)) as w:
        for i, a in enumerate(arrays):
            png = tf.io.encode_png(a).numpy()
            w.write(B.make_example(png, 0, "n0", "x", 256, 256, f"{i}.png").SerializeToString())


def test_two_solid_colours_known_answer(tmp_path):
    c1, c2 = np.array([200, 100, 50]), np.array([100, 120, 250])
    arrays = [np.broadcast_to(c, (256, 256, 3)).astype("uint8") for c in (c1, c2)]
    write_png_records(tmp_path / "train-0", arrays)
    stats = S.compute_stats(str(tmp_path / "train-*"))
    d = c1 - c2
    np.testing.assert_allclose(stats["mean_rgb"], (c1 + c2) / 2)
    np.testing.assert_allclose(stats["covariance"], np.outer(d, d) / 4, atol=1e-6)
    np.testing.assert_allclose(stats["eigvals"], [d @ d / 4, 0, 0], atol=1e-6)
    np.testing.assert_allclose(np.abs(stats["eigvecs"][:, 0]), np.abs(d) / np.linalg.norm(d))
    np.testing.assert_allclose(stats["mean_image"], np.broadcast_to((c1 + c2) / 2, (256, 256, 3)))
    assert stats["count"] == 2


def test_random_images_match_numpy_over_all_pixels(tmp_path):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(5)]
    arrays = [(a * [1.0, 0.6, 0.3] + 40).astype("uint8") for a in arrays]  # correlated RGB
    write_png_records(tmp_path / "train-0", arrays[:3])
    write_png_records(tmp_path / "train-1", arrays[3:])
    stats = S.compute_stats(str(tmp_path / "train-*"), batch_size=2)
    pixels = np.concatenate([a.reshape(-1, 3) for a in arrays]).astype(np.float64)
    np.testing.assert_allclose(stats["mean_rgb"], pixels.mean(0))
    np.testing.assert_allclose(stats["covariance"], np.cov(pixels, rowvar=False, bias=True),
                               rtol=1e-9)
    np.testing.assert_allclose(stats["mean_image"], np.mean(arrays, axis=0))
    vals, vecs = np.linalg.eigh(np.cov(pixels, rowvar=False, bias=True))
    np.testing.assert_allclose(stats["eigvals"], vals[::-1], rtol=1e-9)
    # Eigenvectors: unit columns, and each satisfies C v = lambda v.
    for i in range(3):
        v = stats["eigvecs"][:, i]
        np.testing.assert_allclose(stats["covariance"] @ v, stats["eigvals"][i] * v, atol=1e-6)
    # max_images takes a sample.
    assert S.compute_stats(str(tmp_path / "train-*"), max_images=2)["count"] == 2


def test_save_load_and_published(tmp_path):
    stats = S.stats_from_sums(np.ones((256, 256, 3)) * 5, np.eye(3) * 65536 * 30, 1, "test")
    S.save_stats(tmp_path / "s.npz", stats)
    loaded = S.load_stats(str(tmp_path / "s.npz"))
    for k in ("mean_image", "mean_rgb", "eigvals", "eigvecs"):
        np.testing.assert_array_equal(loaded[k], stats[k])
    assert loaded["source"] == "test"
    published = S.load_stats("published")
    assert published["eigvals"][0] == pytest.approx(255 ** 2 * 0.2175)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        S.load_stats(str(tmp_path / "missing.npz"))


def test_tool_runs(tmp_path):
    write_png_records(tmp_path / "train-0", [np.full((256, 256, 3), 7, np.uint8)])
    run = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "compute_stats.py"),
                          "--records", str(tmp_path / "train-*"), "--output",
                          str(tmp_path / "s.npz")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "mean RGB: 7.000, 7.000, 7.000" in run.stdout
    assert S.load_stats(str(tmp_path / "s.npz"))["count"] == 1
    run = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "compute_stats.py"),
                          "--records", str(tmp_path / "none-*"), "--output",
                          str(tmp_path / "t.npz")], capture_output=True, text=True)
    assert run.returncode != 0 and "no TFRecord files match it" in run.stderr
