"""Portable exports (`alexnet_tf.portable`, `tools/export.py --format`): each artifact is
loaded in a fresh process by its consumers' own runtime (TF's SavedModel signature, the
LiteRT interpreter, onnxruntime; neither of the last two imports TensorFlow or
alexnet_tf) and its probabilities are compared with the Keras model's on real images
(Imagenette's validation images when ../shared has them, else generated ones).

Tolerances, absolute, on probabilities (float32 throughout; kernels differ in summation
order only): the float32 SavedModel 1e-5 (TF's own kernels), LiteRT and ONNX 1e-4.

A format's tests skip, with one line, when the `export` extra is not installed."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf import data, export, portable, rundir
from alexnet_tf.layers import LocalResponseNormalization
from alexnet_tf.recipe import training_model
from configs import tiny
from conftest import IMAGENETTE
from images import image_array

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLERANCE = {"tf_saved_model": 1e-5, "litert": 1e-4, "onnx": 1e-4}
WNIDS = ["disc", "ring", "square", "triangle"]


def needs(fmt):
    absent = portable.missing(fmt)
    if absent:
        pytest.skip(f"{fmt}: {', '.join(absent)} not installed ({portable.EXTRA})")


def tool(name, *args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", name), *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def real_images(count=8):
    """uint8 [count, 256, 256, 3]: Imagenette validation images, one per class, decoded,
    resized and cropped as the input pipeline does; generated ones without ../shared."""
    val = IMAGENETTE / "val"
    if not val.is_dir():
        return np.stack([image_array(seed, 256, 256) for seed in range(count)])
    files = [sorted(d.iterdir())[0] for d in sorted(val.iterdir()) if d.is_dir()][:count]
    return np.stack([data.resize_and_crop(tf.io.decode_image(
        f.read_bytes(), channels=3, expand_animations=False)).numpy() for f in files])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder (`export.save_run`: model, classes, float32 SavedModel) of configs/tiny's
    net, untrained, its fc8 scaled so that the softmax is confident (logits of std 3 on
    the test images), and the images."""
    model = training_model(tiny.get_config())
    images = real_images()
    fc8 = model.layer("fc8")
    kernel, bias = fc8.get_weights()
    factor = 3.0 / model.predict(images, verbose=0).std()
    fc8.set_weights([kernel * factor, bias * factor])
    folder = tmp_path_factory.mktemp("portable")
    export.save_run(folder, model, WNIDS)
    return folder, model, images


RUNTIME_SCRIPT = """
import io, sys
import numpy as np
fmt, path, images_file, out_file = sys.argv[1:]
images = np.load(images_file)
if fmt == "tf_saved_model":  # TF Serving's way in: encoded image bytes (here PNG, lossless)
    import tensorflow as tf
    from PIL import Image
    def png(image):
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "PNG")
        return buf.getvalue()
    serve = tf.saved_model.load(path).signatures["serving_default"]
    probs = serve(images=tf.constant([png(im) for im in images]))["probabilities"].numpy()
elif fmt == "litert":
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=path)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert inp["dtype"] == np.uint8 and list(inp["shape_signature"]) == [-1, 256, 256, 3]
    interpreter.resize_tensor_input(inp["index"], images.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], images)
    interpreter.invoke()
    probs = interpreter.get_tensor(out["index"])
else:
    import onnxruntime
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.type, inp.shape[1:]) == ("images", "tensor(uint8)", [256, 256, 3])
    assert out.name == "probabilities"
    probs = session.run(None, {"images": images})[0]
assert not any(m.startswith("alexnet_tf") for m in sys.modules), "alexnet_tf was imported"
assert fmt == "tf_saved_model" or "tensorflow" not in sys.modules, "TensorFlow was imported"
np.save(out_file, probs)
"""


def runtime_probabilities(fmt, path, images, tmp_path):
    """`images`' probabilities from the artifact at `path`, in a fresh process."""
    np.save(tmp_path / "images.npy", images)
    done = subprocess.run([sys.executable, "-c", RUNTIME_SCRIPT, fmt, str(path),
                           str(tmp_path / "images.npy"), str(tmp_path / "probs.npy")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return np.load(tmp_path / "probs.npy")


def test_the_test_is_sensitive_to_lrn(run):
    """The model is confident and its LRN layers matter far beyond every tolerance: without
    them (alpha 0) the probabilities move by more than 100 x the largest."""
    _, model, images = run
    probs = model.probabilities(images).numpy()
    assert probs.max(axis=1).mean() > 0.5
    lrns = [layer for layer in model.net.layers if isinstance(layer, LocalResponseNormalization)]
    assert len(lrns) == 2
    alphas = [layer.alpha for layer in lrns]
    try:
        for layer in lrns:
            layer.alpha = 0.0
        without = model.probabilities(images).numpy()
    finally:
        for layer, alpha in zip(lrns, alphas):
            layer.alpha = alpha
    assert np.abs(without - probs).max() > 100 * max(TOLERANCE.values())


@pytest.mark.parametrize("fmt", portable.FORMATS)
def test_export_matches_keras_in_its_own_runtime(run, fmt, tmp_path):
    """tools/export.py --format FMT, loaded in a fresh process by the format's runtime:
    the Keras model's probabilities within TOLERANCE[fmt], the same top-1."""
    needs(fmt)
    folder, model, images = run
    done = tool("export.py", "--model", folder, "--format", fmt, "--precision", "float32",
                "--output", tmp_path / fmt)
    assert done.returncode == 0, done.stderr[-3000:]
    found, path = portable.artifact(tmp_path / fmt)
    assert found == fmt
    if fmt != "tf_saved_model":
        assert data.read_classes(str(tmp_path / fmt / rundir.CLASSES_FILE))[0] == WNIDS
    want = model.probabilities(images).numpy()
    got = runtime_probabilities(fmt, path, images, tmp_path)
    assert got.shape == want.shape == (len(images), len(WNIDS))
    diff = np.abs(got - want).max()
    print(f"{fmt}: max |probability difference| {diff:.2e} (tolerance {TOLERANCE[fmt]:g})")
    assert diff <= TOLERANCE[fmt], diff
    np.testing.assert_array_equal(got.argmax(1), want.argmax(1))


def test_litert_uses_its_builtin_lrn_op(run, tmp_path):
    """lrn1 and lrn2, two towers each: four LOCAL_RESPONSE_NORMALIZATION ops with TF's
    arguments (n=5 -> radius 2), built-in ops only (no TF "flex" op), no band product."""
    needs("litert")
    _, model, _ = run
    path = portable.export_portable(model, tmp_path, "litert", WNIDS)
    from ai_edge_litert.interpreter import Interpreter
    ops = [op["op_name"] for op in Interpreter(model_path=path)._get_ops_details()]
    assert ops.count("LOCAL_RESPONSE_NORMALIZATION") == 4
    assert ops.count("FULLY_CONNECTED") == 3  # fc6..fc8: the only products
    assert not [op for op in ops if "FLEX" in op.upper() or "MATMUL" in op.upper()], ops


def test_onnx_uses_its_lrn_op_with_alpha_times_size(run, tmp_path):
    """ONNX's LRN divides alpha by its size: the file holds size 5 and the layer's alpha
    times 5, bias k, beta; the band product is gone (3 MatMuls: fc6..fc8)."""
    needs("onnx")
    import onnx
    _, model, _ = run
    path = portable.export_portable(model, tmp_path, "onnx", WNIDS)
    nodes = onnx.load(path).graph.node
    lrns = [{a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            for n in nodes if n.op_type == "LRN"]
    layer = model.layer("lrn1")
    assert len(lrns) == 4
    for attributes in lrns:
        assert attributes["size"] == 5
        assert attributes["alpha"] == pytest.approx(layer.alpha * 5, rel=1e-6)
        assert (attributes["bias"], attributes["beta"]) == (2.0, 0.75)
    assert [n.op_type for n in nodes].count("MatMul") == 3


def test_onnx_ten_crop_export(run, tmp_path):
    needs("onnx")
    import onnxruntime
    _, model, images = run
    path = portable.export_portable(model, tmp_path, "onnx", WNIDS, ten_crop=True)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": images[:3]})[0]
    want = model.probabilities(images[:3], ten_crop=True).numpy()
    assert np.abs(got - want).max() <= TOLERANCE["onnx"]
    assert np.abs(want - model.probabilities(images[:3]).numpy()).max() > 1e-3


def test_export_tool_errors_are_one_line(run, tmp_path, monkeypatch):
    folder, model, _ = run
    for args, expected in (
            (["--format", "tflite"], "--format"),
            (["--format", "onnx", "--precision", "mixed_bfloat16"], "--precision"),
    ):
        done = tool("export.py", "--model", folder, "--output", tmp_path / "x", *args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
        assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    # Without the extra: one line naming what is missing and how to install it.
    monkeypatch.setitem(portable.NEEDS, "onnx", ("onnx", "no_such_module_here"))
    with pytest.raises(ImportError, match=r"^the onnx format needs (.*, )?no_such_module_here "
                                          r"\(not installed\): pip install -e \"\.\[export\]\""):
        portable.export_portable(model, tmp_path, "onnx", WNIDS)
    with pytest.raises(ValueError, match="4 classes but 2"):
        portable.export_portable(model, tmp_path, "litert", WNIDS[:2])


@pytest.mark.parametrize("fmt", ["litert", "onnx"])
@pytest.mark.parametrize("content", [b"", b"not a model at all" * 10])
def test_a_damaged_export_is_one_error_naming_it(fmt, content, tmp_path):
    needs(fmt)
    (tmp_path / portable.FILES[fmt]).write_bytes(content)
    with pytest.raises(ValueError, match=f"^--model {tmp_path}: {portable.FILES[fmt]} does "
                                         f"not load in its runtime \\({fmt}\\): "):
        portable.load(str(tmp_path))


def test_a_keras_file_that_is_not_one_is_named(tmp_path):
    from alexnet_tf import classifier
    path = tmp_path / "model.keras"
    path.write_text("hello")
    with pytest.raises(ValueError, match=f"^{path}: not a .keras file"):
        classifier.load(str(path))


def test_benchmark_serve_compares_every_format_in_one_run(run, tmp_path):
    """One call, a row per format (in turns), and the SavedModel's JPEG-bytes figures."""
    for fmt in ("litert", "onnx"):
        needs(fmt)
    folder, model, _ = run
    for fmt in ("litert", "onnx"):
        portable.export_portable(model, tmp_path / fmt, fmt, WNIDS)
    done = tool("benchmark_serve.py", "--model", folder, "--model", tmp_path / "litert",
                "--model", tmp_path / "onnx", "--batch_size", 4, "--requests", 2,
                "--batches", 2, "--json", tmp_path / "b.json")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "b.json").read_text())
    rows = result["side_by_side"]
    assert [r["format"] for r in rows] == ["tf_saved_model", "litert", "onnx"]
    assert all(r["latency_ms_median"] > 0 and r["throughput_images_per_second"] > 0
               and r["batch_size"] == 4 for r in rows)
    assert [r["model"] for r in result["jpeg_bytes"]] == [str(folder)]
    assert "| onnx |" in done.stdout and "| litert |" in done.stdout
    done = tool("benchmark_serve.py", "--model", folder, "--model", tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and lines[-1].startswith("error: --model "), done.stderr[-2000:]
    assert "not a SavedModel folder" in lines[-1] and len(lines) == 1
