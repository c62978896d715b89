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


def eight_class_config(seed):
    """configs/tiny.py with 8 classes (more than top-5's k) and 64 validation images; the
    generated data does not depend on `seed`, the training does."""
    config = tiny.get_config()
    config.data.generated.update(dict(classes=8, val_per_class=8))
    config.model.num_classes = 8
    config.seed = seed
    return config


@pytest.fixture(scope="module")
def eight_class_runs(tmp_path_factory):
    """Two tiny 8-class runs on the same data with different seeds: two different models."""
    runs = []
    for seed in (0, 1):
        workdir = tmp_path_factory.mktemp(f"tiny8-seed{seed}")
        T.train(eight_class_config(seed), str(workdir))
        runs.append(workdir)
    return runs


def all_of(dataset):
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in dataset])
    return np.concatenate(images), np.concatenate(labels)


def softmax(logits):
    logits = np.asarray(logits, np.float64)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def top_k_error(scores, labels, k):
    """By hand: the fraction of images whose label is not among the k highest scores."""
    top = np.argsort(-scores, axis=1)[:, :k]
    return np.mean([label not in row for label, row in zip(labels, top)])


def test_evaluate_top1_and_top5_error_with_eight_classes(eight_class_runs):
    """With 8 classes top-5 is a real check: computed by hand from the logits, it is
    neither 0 nor the top-4 or top-6 error, so evaluate must use exactly k=5."""
    workdir = eight_class_runs[0]
    clf = E.load_classifier(workdir)
    assert clf.num_classes == 8 and len(clf.wnids) == 8
    result = E.evaluate([clf], val_data(workdir), 8)
    images, labels = all_of(val_data(workdir))
    logits = clf.model.predict(images, verbose=0)
    assert result["images"] == len(labels) == 64
    assert set(labels) == set(range(8))
    top1, top5 = top_k_error(logits, labels, 1), top_k_error(logits, labels, 5)
    assert 0 < top5 < top1  # the model is neither perfect nor useless within top-5
    assert top5 not in (top_k_error(logits, labels, 4), top_k_error(logits, labels, 6))
    assert result["top1_error"] == pytest.approx(top1)
    assert result["top5_error"] == pytest.approx(top5)
    assert [m["top5_error"] for m in result["models"]] == [pytest.approx(top5)]
    assert "top-5 error" in E.table(result)


def sharpened(workdir, images, logit_std=3.0):
    """The run's classifier with fc8 scaled so that its logits on `images` have standard
    deviation `logit_std`: a softmax temperature, which keeps the model's ranking of the
    classes (so its own errors) but makes it confident. Tiny runs' logits are ~0.1, where
    softmax is nearly linear and averaging probabilities or logits hardly ever differs."""
    run = E.load_classifier(workdir)
    fc8 = run.model.layer("fc8")
    factor = logit_std / run.model.predict(images, verbose=0).std()
    kernel, bias = fc8.get_weights()
    fc8.set_weights([kernel * factor, bias * factor])
    return run


def test_ensemble_of_two_models_averages_probabilities_not_logits(eight_class_runs):
    """Table 2's ensembles average the softmax outputs of different models: checked by
    hand on the validation set, and on the images where averaging logits would pick
    another class, labelled with the probability average's class: there the ensemble's
    top-1 error must be 0 (averaging logits would give 1)."""
    images, labels = all_of(val_data(eight_class_runs[0]))
    images_b, labels_b = all_of(val_data(eight_class_runs[1]))
    np.testing.assert_array_equal(images_b, images)  # the same data, different models
    np.testing.assert_array_equal(labels_b, labels)
    raw = [E.load_classifier(w).model.predict(images, verbose=0) for w in eight_class_runs]
    a, b = (sharpened(w, images) for w in eight_class_runs)
    logits = [c.model.predict(images, verbose=0) for c in (a, b)]
    for before, after in zip(raw, logits):
        np.testing.assert_array_equal(after.argmax(1), before.argmax(1))
    assert np.mean(logits[0].argmax(1) != logits[1].argmax(1)) > 0.5  # different models
    probs = (softmax(logits[0]) + softmax(logits[1])) / 2

    result = E.evaluate([a, b], val_data(eight_class_runs[0]), 8)
    assert result["images"] == 64
    assert result["top1_error"] == pytest.approx(top_k_error(probs, labels, 1))
    assert result["top5_error"] == pytest.approx(top_k_error(probs, labels, 5))
    for model, lg in zip(result["models"], logits):
        assert model["top1_error"] == pytest.approx(top_k_error(lg, labels, 1))
        assert model["top5_error"] == pytest.approx(top_k_error(lg, labels, 5))
    assert len(result["models"]) == 2 and "ensemble of 2" in E.table(result)

    by_probs, by_logits = probs.argmax(1), ((logits[0] + logits[1]) / 2).argmax(1)
    differ = np.flatnonzero(by_probs != by_logits)
    assert len(differ) >= 5, "the two averages should disagree on several images"
    chosen = tf.data.Dataset.from_tensor_slices(
        (images[differ], by_probs[differ].astype(np.int32))).batch(5)
    result = E.evaluate([a, b], chosen, 8)
    assert result["images"] == len(differ)
    assert result["top1_error"] == 0.0  # averaging logits instead: 1.0


def test_fewer_than_five_classes_reports_top_k(trained):
    """With 4 classes, evaluate reports top-4 (every class: error 0), not a "top-5"."""
    clf = E.load_classifier(trained)
    assert clf.wnids == ["disc", "ring", "square", "triangle"]  # tiny: the first 4 kinds
    result = E.evaluate([clf], val_data(trained), 4)
    assert result["images"] == 16 and "top5_error" not in result
    assert result["top4_error"] == 0.0


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


UNDECODABLE = "could not be decoded (corrupt or truncated image data)"


def good_and_bad_images():
    """[good JPEG, empty, text, good PNG, truncated JPEG] and the `error` each should get."""
    rng = np.random.default_rng(1)
    good_jpeg = jpeg(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    good_png = jpeg(rng.integers(0, 256, (90, 70, 3), dtype=np.uint8), "PNG")
    truncated = good_jpeg[:len(good_jpeg) // 2]  # its JPEG signature intact
    return ([good_jpeg, b"", b"hello there", good_png, truncated],
            ["", "image bytes are empty", "not a JPEG, PNG, GIF or BMP image", "", UNDECODABLE])


def test_bad_images_get_a_status_and_do_not_fail_the_batch(trained):
    serve = tf.saved_model.load(str(trained / "saved_model")).signatures["serving_default"]
    images, errors = good_and_bad_images()
    out = {k: v.numpy() for k, v in serve(images=tf.constant(images)).items()}
    assert out["status"].tolist() == [0, 1, 2, 0, 3]
    assert [e.decode() for e in out["error"]] == errors
    for i in (0, 3):  # the good ones: what they get when served alone
        alone = serve(images=tf.constant([images[i]]))
        assert alone["status"].numpy().tolist() == [0]
        np.testing.assert_allclose(out["probabilities"][i], alone["probabilities"][0],
                                   rtol=1e-5, atol=1e-6)
        assert out["probabilities"][i].sum() == pytest.approx(1, abs=1e-5)
        np.testing.assert_array_equal(out["top5_indices"][i], alone["top5_indices"][0])
        np.testing.assert_array_equal(out["top5_wnids"][i], alone["top5_wnids"][0])
    for i in (1, 2, 4):  # the bad ones: marked as not served
        assert not out["probabilities"][i].any() and not out["top5_probabilities"][i].any()
        assert out["top5_indices"][i].tolist() == [-1] * 4
        assert set(out["top5_wnids"][i]) == set(out["top5_names"][i]) == {b""}
    # Nothing to serve: statuses still, no error.
    assert serve(images=tf.constant(images[1:3] + images[4:]))["status"].numpy().tolist() == [
        1, 2, 3]
    assert serve(images=tf.constant([], tf.string))["status"].shape == (0,)


def test_predict_reports_bad_files_and_prints_the_good_ones(trained, tmp_path):
    images, _ = good_and_bad_images()
    files = {name: tmp_path / name for name in ("a.jpg", "trunc.jpg", "empty.png", "missing.jpg",
                                                "b.png")}
    for name, payload in (("a.jpg", images[0]), ("trunc.jpg", images[4]), ("empty.png", b""),
                          ("b.png", images[3])):
        files[name].write_bytes(payload)
    run = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "predict.py"), "--model",
                          str(trained), *map(str, files.values())], capture_output=True,
                         text=True)
    assert run.returncode == 1, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert [lines[0], lines[5]] == [str(files["a.jpg"]), str(files["b.png"])] and len(lines) == 10
    assert all("%" in line for line in lines[1:5] + lines[6:])  # 4 classes each
    assert [line for line in run.stderr.splitlines() if ": error: " in line] == [
        f"{files['trunc.jpg']}: error: {UNDECODABLE}",
        f"{files['empty.png']}: error: image bytes are empty",
        f"{files['missing.jpg']}: error: cannot read: No such file or directory"]


def test_predict_sends_batches_and_still_reads_older_saved_models(trained, tmp_path):
    """One call for a batch of images (files go `batch_size` at a time); a SavedModel
    exported before `status` (there a bad image fails the whole batch) gets one call per
    image instead."""
    from alexnet_tf import export
    serve = tf.saved_model.load(str(trained / "saved_model")).signatures["serving_default"]
    images, errors = good_and_bad_images()
    calls = []

    class Counted:
        structured_outputs = serve.structured_outputs

        def __call__(self, images):
            calls.append(len(images))
            return serve(images=images)

    class Older:
        structured_outputs = {k: v for k, v in serve.structured_outputs.items()
                              if k not in ("status", "error")}

        def __call__(self, images):
            calls.append(len(images))
            if any(len(e) == 0 for e in images.numpy()):
                raise tf.errors.InvalidArgumentError(
                    None, None, "assertion failed: [image bytes are empty]")
            return {k: v for k, v in serve(images=images).items()
                    if k in self.structured_outputs}

    got = export.classify_encoded(Counted(), images)
    assert calls == [5] and [e or "" for e, _ in got] == errors
    assert [len(rows) for _, rows in got] == [4, 0, 0, 4, 0]
    calls.clear()
    older = export.classify_encoded(Older(), images[:2] + images[3:4])
    assert calls == [1, 1, 1] and [e for e, _ in older] == [None, "image bytes are empty", None]
    for (_, alone), (_, batched) in ((older[0], got[0]), (older[2], got[3])):
        assert [row[1:] for row in alone] == [row[1:] for row in batched]  # wnid, name
        np.testing.assert_allclose([row[0] for row in alone], [row[0] for row in batched],
                                   rtol=1e-5, atol=1e-6)
    calls.clear()
    files = []
    for i, encoded in enumerate(images):
        files.append(str(tmp_path / f"{i}.img"))
        with open(files[-1], "wb") as f:
            f.write(encoded)
    files.insert(2, str(tmp_path / "missing.jpg"))
    predicted = list(export.predict_files(Counted(), files, batch_size=2))
    assert calls == [2, 1, 2]  # the missing file is left out of its batch
    assert [p[0] for p in predicted] == files
    assert [p[1] for p in predicted] == [
        errors[0] or None, errors[1], "cannot read: No such file or directory",
        *[e or None for e in errors[2:]]]


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
    assert out["status"].numpy().tolist() == [0, 0]  # serving_default's outputs
    assert out["error"].numpy().tolist() == [b"", b""]


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


def test_lrn_denominators_are_the_papers_divisor_over_k_beta(trained):
    from alexnet_tf import features
    from alexnet_tf.layers import LocalResponseNormalization
    clf = E.load_classifier(trained).model
    lrns = [l for l in clf.net.layers if isinstance(l, LocalResponseNormalization)]
    assert [l.name for l in lrns] == ["lrn1", "lrn2"] and lrns[0].towers == 2
    for layer in lrns:  # tiny's activations are too small for the paper's alpha to show
        layer.alpha = 0.05
    # 12 of the 16 validation images, batches of 5: the last batch is cut to 2.
    stats = features.lrn_denominators(clf, val_data(trained), max_images=12,
                                      samples_per_image=10 ** 9)
    sampled = features.lrn_denominators(clf, val_data(trained), max_images=12,
                                        samples_per_image=3_000)
    images = np.concatenate([b[0].numpy() for b in val_data(trained)])[:12]
    x = clf.preprocess(images, training=False)
    for layer in clf.net.layers[1:]:
        if isinstance(layer, LocalResponseNormalization):
            a = x.numpy().astype(np.float64)
            d = np.concatenate([  # the paper's formula, tower by tower (n=5, k=2, beta=0.75)
                (2 + 0.05 * np.stack([np.sum(t[..., max(0, i - 2):i + 3] ** 2, axis=-1)
                                      for i in range(t.shape[-1])], -1)) ** 0.75
                for t in np.split(a, 2, axis=-1)], -1) / 2 ** 0.75
            d = d[a != 0]  # a ReLU's zeros are not divided by anything
            s = stats[layer.name]
            assert s["images"] == 12 and s["activations"] == d.size < a.size
            assert s["k_beta"] == pytest.approx(2 ** 0.75)
            assert s["max"] == pytest.approx(d.max(), rel=1e-5) and d.max() > 1.05
            assert s["median"] == pytest.approx(np.median(d), rel=1e-5)
            assert s["p99"] == pytest.approx(np.percentile(d, 99), rel=1e-5)
            assert s["p999"] == pytest.approx(np.percentile(d, 99.9), rel=1e-5)
            assert s["above_1pct"] == pytest.approx(np.mean(d > 1.01), abs=1e-6)
            # A sample of 3,000 positions per image: the same exact counts, close quantiles.
            t = sampled[layer.name]
            assert (t["max"], t["activations"]) == (s["max"], s["activations"])
            assert t["median"] == pytest.approx(s["median"], rel=0.01)
            assert t["p99"] == pytest.approx(s["p99"], rel=0.03)
        x = layer(x, training=False)
        if layer.name == "lrn2":
            break


def test_figures_render(trained, tmp_path):
    from alexnet_tf.visualize import conv1_grid, make_figures
    grid = conv1_grid(E.load_classifier(trained).model)
    # tiny: 2 towers of 4 kernels 11x11 -> one row of 4 each (a row is no wider than a
    # tower's kernels), separated by a white band.
    assert grid.shape == (2 * (11 + 2) + 2, 4 * 12 + 1, 3) and grid.dtype == np.uint8
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
