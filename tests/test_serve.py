"""Evaluation (centre, 10-crop, ensembles), SavedModel export and serving, predict tool."""
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from alexnet_tf import augment, data
from alexnet_tf import evaluate as E
from alexnet_tf import train as T
from configs import tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    T.train(tiny.get_config(), str(workdir))
    return workdir


def val_data(workdir, batch=5):
    return data.tfrecord_dataset(str(workdir / "data" / "validation-*"),
                                 str(workdir / "classes.txt"), batch, training=False,
                                 deterministic=True)


def test_evaluate_centre_crop_and_ensemble(trained):
    clf = E.load_classifier(trained)
    assert clf.wnids == ["disc", "ring", "square", "triangle"]  # tiny: the first 4 kinds
    result = E.evaluate([clf], val_data(trained), 4)
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in val_data(trained)])
    images, labels = np.concatenate(images), np.concatenate(labels)
    logits = clf.model.predict(images, verbose=0)
    assert result["images"] == len(labels) == 16
    assert result["top1_error"] == pytest.approx(np.mean(logits.argmax(1) != labels))
    top4 = np.argsort(-logits, 1)[:, :4]  # 4 classes: top-k is top-4, always right
    assert result["top4_error"] == pytest.approx(np.mean([y not in t for y, t in zip(labels, top4)]))
    twice = E.evaluate([clf, clf], val_data(trained), 4)
    assert twice["top1_error"] == pytest.approx(result["top1_error"])
    assert len(twice["models"]) == 2 and "ensemble of 2" in E.table(twice)


def test_ten_crop_is_the_mean_over_the_ten_crops(trained):
    clf = E.load_classifier(trained)
    images = next(iter(val_data(trained)))[0]
    got = clf.probabilities(images, ten_crop=True).numpy()
    aug, net = clf.model.preprocess, clf.model.net
    x = (tf.cast(images, tf.float32) - aug.mean) * aug.scale
    crops = augment.ten_crops(x, aug.crop).numpy()
    want = np.mean([tf.nn.softmax(net(crops[:, i], training=False)).numpy()
                    for i in range(10)], axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    centre = clf.probabilities(images).numpy()
    np.testing.assert_allclose(centre, tf.nn.softmax(net(crops[:, 4])).numpy(), rtol=1e-5,
                               atol=1e-6)


def test_class_count_mismatch_is_an_error(trained):
    with pytest.raises(ValueError, match="predicts 4 classes but the dataset has 10"):
        E.evaluate([E.load_classifier(trained)], val_data(trained), 10)
    with pytest.raises(FileNotFoundError, match="not a .keras file"):
        E.load_classifier(trained / "nothing")


def jpeg(array, fmt="JPEG"):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, fmt)
    return buf.getvalue()


SERVE_SCRIPT = """
import json, sys
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
images = [open(p, "rb").read() for p in sys.argv[2:]]
out = serve(images=tf.constant(images))
assert not any(m.startswith("alexnet_tf") for m in sys.modules), "alexnet_tf was imported"
print(json.dumps({k: v.numpy().tolist() if v.dtype != tf.string else
                  [[s.decode() for s in row] for row in v.numpy()] for k, v in out.items()}))
"""


def test_saved_model_serves_image_bytes_in_a_fresh_process(trained, tmp_path):
    saved = trained / "saved_model"
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (300, 420, 3), dtype=np.uint8)
    (tmp_path / "a.jpg").write_bytes(jpeg(big))
    (tmp_path / "b.png").write_bytes(jpeg(big[:100, :90], "PNG"))
    run = subprocess.run([sys.executable, "-c", SERVE_SCRIPT, str(saved), str(tmp_path / "a.jpg"),
                          str(tmp_path / "b.png")], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout)
    # The same prediction as the Keras model on the decoded, resized, cropped image.
    clf = E.load_classifier(trained)
    for i, (name, arr) in enumerate((("a.jpg", big), ("b.png", big[:100, :90]))):
        decoded = tf.io.decode_image((tmp_path / name).read_bytes(), channels=3)
        probs = clf.probabilities(data.resize_and_crop(decoded)[None]).numpy()[0]
        np.testing.assert_allclose(out["probabilities"][i], probs, rtol=1e-4, atol=1e-5)
        assert out["top5_indices"][i] == list(np.argsort(-probs)[:4])
        assert out["top5_wnids"][i] == [clf.wnids[j] for j in out["top5_indices"][i]]


@pytest.mark.parametrize("payload,message", [(b"", "image bytes are empty"),
                                             (b"hello there", "not a JPEG, PNG, GIF or BMP")])
def test_bad_bytes_give_a_clear_error(trained, payload, message):
    serve = tf.saved_model.load(str(trained / "saved_model")).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serve(images=tf.constant([payload]))


def test_saved_model_cli_and_float_signature(trained, tmp_path):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    run = subprocess.run([cli, "show", "--dir", str(trained / "saved_model"), "--all"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "serving_default" in run.stdout and "serve_images" in run.stdout
    np.save(tmp_path / "x.npy", np.full((1, 90, 70, 3), 100, np.float32))
    run = subprocess.run([cli, "run", "--dir", str(trained / "saved_model"), "--tag_set",
                          "serve", "--signature_def", "serve_images", "--inputs",
                          f"images={tmp_path / 'x.npy'}"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Result for output key top5_wnids" in run.stdout
    serve = tf.saved_model.load(str(trained / "saved_model")).signatures["serve_images"]
    out = serve(images=tf.zeros((2, 200, 150, 3)))
    assert out["top5_probabilities"].shape == (2, 4)


def test_export_predict_and_evaluate_tools(trained, tmp_path):
    tool = lambda name, *a: subprocess.run(  # noqa: E731
        [sys.executable, os.path.join(ROOT, "tools", name), *a], capture_output=True, text=True)
    run = tool("export.py", "--model", str(trained), "--output", str(tmp_path / "ten"),
               "--ten_crop")
    assert run.returncode == 0, run.stderr[-2000:]
    image = tmp_path / "x.jpg"
    image.write_bytes(jpeg(np.full((64, 64, 3), 120, np.uint8)))
    (tmp_path / "notes.txt").write_text("not an image")
    run = tool("predict.py", "--model", str(tmp_path / "ten"), str(image),
               str(tmp_path / "notes.txt"))
    assert run.returncode == 1
    assert run.stdout.startswith(f"{image}\n") and len(run.stdout.splitlines()) == 5
    assert "notes.txt: error: " in run.stderr and "not a JPEG, PNG, GIF or BMP" in run.stderr
    run = tool("evaluate.py", "--model", str(trained), "--model", str(tmp_path / "ten"),
               "--data", str(trained / "data" / "validation-*"), "--json",
               str(tmp_path / "r.json"))
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.load(open(tmp_path / "r.json"))
    assert result["images"] == 16 and len(result["models"]) == 2
    assert "ensemble of 2" in run.stdout


def test_features_are_fc7_and_neighbours_are_euclidean(trained):
    from alexnet_tf import features
    clf = E.load_classifier(trained)
    feats, labels = features.extract(clf.model, val_data(trained))
    assert feats.shape == (16, 32) and labels.shape == (16,)  # tiny's fc7 has 32 units
    assert feats.min() >= 0  # after fc7's ReLU
    images = next(iter(val_data(trained)))[0]
    net = clf.model.net
    x = clf.model.preprocess(images, training=False)
    for layer in net.layers[1:]:
        x = layer(x, training=False)
        if layer.name == "fc7":
            break
    np.testing.assert_allclose(feats[:5], x.numpy(), rtol=1e-4, atol=1e-5)
    rng = np.random.default_rng(0)
    db, queries = rng.normal(size=(50, 8)), rng.normal(size=(3, 8))
    index, dist = features.nearest(db, queries, k=4, chunk=2)
    brute = np.linalg.norm(queries[:, None] - db[None], axis=-1)
    np.testing.assert_array_equal(index, np.argsort(brute, axis=1)[:, :4])
    np.testing.assert_allclose(dist, np.sort(brute, axis=1)[:, :4], rtol=1e-4)


def test_figures_render(trained, tmp_path):
    from alexnet_tf.visualize import conv1_grid, make_figures
    grid = conv1_grid(E.load_classifier(trained).model)
    # tiny: 2 towers of 4 kernels 11x11 -> one row each, separated by a white band.
    assert grid.shape == (2 * (11 + 2) + 2, 16 * 12 + 1, 3) and grid.dtype == np.uint8
    paths = make_figures(E.load_classifier(trained), str(trained / "data" / "validation-*"),
                         str(trained / "classes.txt"), tmp_path, str(trained / "data" / "train-*"),
                         num=4, neighbours=3)
    assert [os.path.basename(p) for p in paths] == ["conv1_kernels.png", "predictions.png",
                                                    "neighbours.png"]
    for p in paths:
        image = np.asarray(Image.open(p))
        assert image.ndim == 3 and min(image.shape[:2]) > 50
        assert image.std() > 5  # not blank


def test_export_in_bfloat16_matches_float32(trained, tmp_path):
    """The serving fast path on bfloat16 CPUs: the same weights computing in bfloat16 give
    the float32 model's probabilities up to rounding."""
    from alexnet_tf.export import export_saved_model, load_run
    run = load_run(trained)
    assert run.model.layer("conv2").compute_dtype == "float32"  # tiny trains in float32
    images = next(iter(val_data(trained, batch=8)))[0]
    probs = {}
    for precision in ("float32", "mixed_bfloat16"):
        export_saved_model(run.model, str(tmp_path / precision), run.wnids,
                           precision=precision)
        serve = tf.saved_model.load(str(tmp_path / precision)).signatures["serve_images"]
        probs[precision] = serve(images=tf.cast(images, tf.float32))["probabilities"].numpy()
    np.testing.assert_allclose(probs["float32"], run.probabilities(images).numpy(),
                               atol=1e-5)
    diff = np.abs(probs["mixed_bfloat16"] - probs["float32"]).max()
    assert 0 < diff < 0.02, diff  # it does compute in bfloat16, and only rounding differs
