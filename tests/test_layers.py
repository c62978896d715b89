import inspect
import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf.layers import LRN_DEFAULTS, LocalResponseNormalization, TowerConv2D
from alexnet_tf.model import alexnet
from layer_harness import run_layer_test


PAPER = dict(size=5, k=2.0, alpha=1e-4, beta=0.75)  # Sec. 3.3
IMPLEMENTATIONS = ["tf", "matmul"]


def lrn_layer(**kwargs):
    """A LocalResponseNormalization with the paper's constants, some overridden."""
    return LocalResponseNormalization(**{**PAPER, **kwargs})


def paper_lrn(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    """The paper's Sec. 3.3 formula, written out map by map in NumPy."""
    big_n = a.shape[-1]
    b = np.empty_like(a, dtype=np.float64)
    for i in range(big_n):
        lo, hi = max(0, i - n // 2), min(big_n - 1, i + n // 2)
        b[..., i] = a[..., i] / (k + alpha * np.sum(a[..., lo:hi + 1] ** 2, axis=-1)) ** beta
    return b


def activations(shape, seed=0):
    # Magnitudes of tens make alpha * sum(a^2) comparable to k, so the test is sensitive.
    return (np.random.default_rng(seed).normal(0, 40, shape)).astype("float32")


def test_lrn_defaults_are_the_papers_and_alexnet_takes_them_from_the_layer():
    """`LocalResponseNormalization()` is the paper's layer; `alexnet()`'s LRN defaults are
    the layer's (one owner), and its `lrn_alpha` still overrides alpha."""
    layer = LocalResponseNormalization()
    assert (layer.size, layer.k, layer.alpha, layer.beta, layer.alpha_over_size) == (
        5, 2.0, 1e-4, 0.75, False)
    assert layer.implementation == "auto"
    assert LRN_DEFAULTS == {**PAPER, "alpha_over_size": False}
    a = activations((2, 3, 3, 16))
    np.testing.assert_allclose(layer(a).numpy(), paper_lrn(a), rtol=1e-5)
    defaults = inspect.signature(alexnet).parameters
    assert {name: defaults[f"lrn_{name}"].default for name in LRN_DEFAULTS} == LRN_DEFAULTS
    small = dict(filters=(8, 8, 8, 8, 8), fc_units=8, num_classes=3, image_size=67)
    net = alexnet(**small, lrn_alpha=0.05)
    assert [net.get_layer(n).alpha for n in ("lrn1", "lrn2")] == [0.05, 0.05]
    assert net.get_layer("lrn1").k == 2.0 and net.get_layer("lrn1").size == 5


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("alpha_over_size", [False, True])
@pytest.mark.parametrize("size", [5, 3])
def test_lrn_matches_paper_formula(alpha_over_size, size, implementation):
    a = activations((2, 3, 3, 16))
    out = lrn_layer(size=size, alpha_over_size=alpha_over_size,
                    implementation=implementation)(a).numpy()
    alpha = 1e-4 / size if alpha_over_size else 1e-4
    want = paper_lrn(a, n=size, alpha=alpha)
    np.testing.assert_allclose(out, want, rtol=1e-5)
    # The normalization does something: output differs from a / k^beta by far more than
    # the tolerance, at the edge maps (fewer neighbours) and in the middle.
    assert np.abs(out - a / 2.0 ** 0.75).max() > 1e-2


@pytest.mark.parametrize("towers", [1, 2])
def test_lrn_denominator_is_what_the_layer_divides_by(towers):
    a = activations((2, 3, 3, 16))
    layer = lrn_layer(towers=towers)
    d = layer.denominator(a).numpy()
    assert d.dtype == np.float32
    np.testing.assert_allclose(a / d, layer(a).numpy(), rtol=1e-5, atol=1e-6)
    if towers == 1:  # the paper's formula: a / b
        np.testing.assert_allclose(d, a / paper_lrn(a), rtol=1e-5)
    # No activity: the constant k ** beta everywhere.
    np.testing.assert_allclose(layer.denominator(np.zeros((1, 2, 2, 16), "float32")),
                               2.0 ** 0.75, rtol=1e-6)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_lrn_edge_maps_sum_over_fewer_neighbours(implementation):
    a = np.zeros((1, 1, 1, 8), "float32")
    a[..., 0] = 100.0
    a[..., 3] = 100.0
    b = lrn_layer(implementation=implementation)(a).numpy()[0, 0, 0]
    # Map 0 sees maps 0..2 only (the window is clipped, not wrapped or zero-padded
    # differently): denominator (2 + 1e-4 * 100^2)^0.75 = 3^0.75.
    np.testing.assert_allclose(b[0], 100.0 / 3.0 ** 0.75, rtol=1e-6)
    # Map 3 sees maps 1..5, which include map 3 itself but not map 0.
    np.testing.assert_allclose(b[3], 100.0 / 3.0 ** 0.75, rtol=1e-6)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_lrn_towers_normalize_each_tower_alone(implementation):
    a = activations((2, 4, 4, 16), seed=1)
    out = lrn_layer(towers=2, implementation=implementation)(a).numpy()
    want = np.concatenate([paper_lrn(a[..., :8]), paper_lrn(a[..., 8:])], axis=-1)
    np.testing.assert_allclose(out, want, rtol=1e-5)
    # Across the tower boundary (maps 7 and 8) the result differs from one-tower LRN.
    whole = paper_lrn(a)
    assert np.abs(out[..., 6:10] - whole[..., 6:10]).max() > 1e-3


@pytest.mark.parametrize("towers", [1, 2])
@pytest.mark.parametrize("size,beta", [(5, 0.75), (3, 0.6)])
def test_lrn_equals_tf_op_values_and_gradients(towers, size, beta):
    """Our matrix form with its written-out gradient against TF's LRN op and LRNGrad,
    called directly (depth_radius = n // 2, alpha not divided by n)."""
    a = tf.constant(activations((2, 5, 5, 16), seed=2))
    weights = tf.constant(np.random.default_rng(3).normal(size=(2, 5, 5, 16)), tf.float32)
    layer = lrn_layer(size=size, beta=beta, towers=towers, implementation="matmul")

    def tf_op(x):
        return tf.concat([tf.nn.local_response_normalization(
            part, depth_radius=size // 2, bias=2.0, alpha=1e-4, beta=beta)
            for part in tf.split(x, towers, axis=-1)], axis=-1)

    results = []
    for fn in (layer, tf_op):
        with tf.GradientTape() as tape:
            tape.watch(a)
            out = fn(a)
            loss = tf.reduce_sum(out * weights)  # a non-uniform upstream gradient
        results.append((out.numpy(), tape.gradient(loss, a).numpy()))
    (ours, our_grad), (theirs, their_grad) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-4, atol=1e-6)
    # The normalization's own term in the gradient matters: it is not just g * r.
    assert np.abs(their_grad - weights.numpy() * theirs / a.numpy()).max() > 1e-3


def values_and_gradients(layer, a, weights):
    """The layer's output on `a` and the gradient of `sum(output * weights)` (a non-uniform
    upstream gradient) with respect to `a`, both as float32 NumPy arrays."""
    with tf.GradientTape() as tape:
        tape.watch(a)
        out = layer(a)
        loss = tf.reduce_sum(tf.cast(out, tf.float32) * weights)
    return out.numpy().astype("float32"), tape.gradient(loss, a).numpy().astype("float32")


@pytest.mark.parametrize("towers", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_lrn_implementations_agree_in_values_and_gradients(dtype, towers):
    """implementation="tf" (TF's op, float32 inside) against "matmul" (squares and window
    sums in the compute dtype). float32: rtol 1e-5 on values, 1e-4 on gradients.
    bfloat16 (8 significant bits, rounding 2^-9): values within 3 roundings (rtol
    3 * 2^-8 = 1.2 %); each gradient is a difference of two terms rounded apart, so it
    is held to 4 * 2^-8 (1.6 %) of the largest gradient (measured: 0.4 %)."""
    a = tf.constant(activations((4, 7, 7, 32), seed=4), dtype)
    weights = tf.constant(np.random.default_rng(5).normal(size=(4, 7, 7, 32)), tf.float32)
    policy = "mixed_bfloat16" if dtype == "bfloat16" else "float32"
    (tf_out, tf_grad), (mm_out, mm_grad) = (
        values_and_gradients(lrn_layer(towers=towers, implementation=impl, dtype=policy),
                             a, weights) for impl in IMPLEMENTATIONS)
    if dtype == "float32":
        np.testing.assert_allclose(mm_out, tf_out, rtol=1e-5)
        np.testing.assert_allclose(mm_grad, tf_grad, rtol=1e-4, atol=1e-6)
    else:
        np.testing.assert_allclose(mm_out, tf_out, rtol=3 * 2 ** -8)
        np.testing.assert_allclose(mm_grad, tf_grad, rtol=0,
                                   atol=4 * 2 ** -8 * np.abs(tf_grad).max())
    # The normalization does something at these magnitudes (the test is sensitive).
    assert np.abs(tf_out - a.numpy().astype("float32") / 2 ** 0.75).max() > 0.1


def graph_ops(layer, shape):
    """The LRN and MatMul ops of `layer` traced on float32 inputs of `shape`."""
    graph = tf.function(layer).get_concrete_function(tf.TensorSpec(shape)).graph
    return [op for op in graph.get_operations() if op.type in ("LRN", "MatMul")]


@pytest.mark.parametrize("towers", [1, 2])
def test_lrn_implementation_tf_calls_tfs_op_and_auto_picks_by_device(towers):
    """"tf" is `tf.nn.local_response_normalization` (op LRN, one per tower), "matmul" a
    MatMul; "auto" is the matrix form on CPUs and TF's op on a GPU (traced only: this
    machine has none)."""
    shape = (2, 5, 5, 16)
    assert [op.type for op in graph_ops(lrn_layer(towers=towers, implementation="tf"),
                                        shape)] == ["LRN"] * towers
    assert [op.type for op in graph_ops(lrn_layer(towers=towers, implementation="matmul"),
                                        shape)] == ["MatMul"]
    assert not tf.config.list_logical_devices("GPU")
    auto = lrn_layer(towers=towers)
    assert auto.implementation_on() == "matmul"
    assert [op.type for op in graph_ops(auto, shape)] == ["MatMul"]
    on_gpus = lrn_layer(towers=towers, devices=[f"/GPU:{t}" for t in range(towers)])
    assert on_gpus.implementation_on("/GPU:0") == "tf"
    ops = graph_ops(on_gpus, shape)
    assert [(op.type, op.device.split("device:")[-1]) for op in ops] == [
        ("LRN", f"GPU:{t}") for t in range(towers)]
    on_cpus = lrn_layer(towers=towers, devices=[f"/CPU:{t}" for t in range(towers)])
    assert [op.type for op in graph_ops(on_cpus, shape)] == ["MatMul"] * towers


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_lrn_keeps_dtype_and_runs_in_bfloat16(implementation):
    a = tf.constant(activations((2, 6, 6, 32)), tf.bfloat16)
    out = lrn_layer(dtype="mixed_bfloat16", implementation=implementation)(a)
    assert out.dtype == tf.bfloat16
    want = paper_lrn(a.numpy().astype("float32"))
    # bfloat16 keeps 8 significant bits (relative rounding 2^-9 = 0.2 %): the input, the
    # float32 scale and the product are each rounded once, so 3 roundings at most.
    np.testing.assert_allclose(out.numpy().astype("float32"), want, rtol=3 * 2 ** -8)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_lrn_in_float16_does_not_overflow(implementation):
    """Activations of a few hundred (0..255 pixels minus the mean) square past float16's
    65504: the layer must compute those in float32."""
    a = activations((1, 3, 3, 16)) * 10  # std 400
    out = lrn_layer(dtype="mixed_float16", implementation=implementation)(
        tf.constant(a, tf.float16))
    assert out.dtype == tf.float16 and np.all(np.isfinite(out.numpy()))
    np.testing.assert_allclose(out.numpy().astype("float32"), paper_lrn(a), rtol=3e-3,
                               atol=1e-2)


@pytest.mark.parametrize("kwargs", [dict(size=4), dict(size=0), dict(towers=0),
                                    dict(towers=2, devices=("/CPU:0",)),
                                    dict(implementation="cudnn")])
def test_lrn_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="LocalResponseNormalization"):
        lrn_layer(**kwargs)


def test_lrn_rejects_channels_that_do_not_split():
    with pytest.raises(ValueError, match="divide evenly into 2 towers"):
        lrn_layer(towers=2)(np.ones((1, 2, 2, 5), "float32"))


@pytest.mark.parametrize("implementation", ["auto", *IMPLEMENTATIONS])
def test_lrn_layer_harness(tmp_path, implementation):
    run_layer_test(LocalResponseNormalization, dict(towers=2, name="lrn",
                                                    implementation=implementation),
                   activations((2, 5, 5, 16)), (2, 5, 5, 16), tmp_path)


def test_lrn_saved_before_implementation_existed_loads_as_auto(tmp_path):
    """A `.keras` file written before `implementation` was in the layer's config (its
    config.json edited back to that) loads in safe mode, as "auto", with the same
    outputs."""
    inputs = keras.Input((5, 5, 16))
    model = keras.Model(inputs, lrn_layer(towers=2, implementation="tf", name="lrn")(inputs))
    new, old = tmp_path / "new.keras", tmp_path / "old.keras"
    model.save(new)
    with zipfile.ZipFile(new) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            payload = src.read(item)
            if item.filename == "config.json":
                config = json.loads(payload)
                layer = next(l for l in config["config"]["layers"] if l["name"] == "lrn")
                assert layer["config"].pop("implementation") == "tf"
                payload = json.dumps(config).encode()
            dst.writestr(item, payload)
    loaded = keras.saving.load_model(old, safe_mode=True)
    assert loaded.get_layer("lrn").implementation == "auto"
    a = activations((2, 5, 5, 16))
    np.testing.assert_allclose(loaded(a).numpy(), model(a).numpy(), rtol=1e-5)
    config = lrn_layer().get_config()
    del config["implementation"]
    assert LocalResponseNormalization.from_config(config).implementation == "auto"


def tower_kernels(layer):
    return [k.numpy() for k in layer.kernels], [b.numpy() for b in layer.biases]


def test_tower_conv_equals_grouped_conv_and_split_convs():
    x = activations((2, 9, 9, 8), seed=2) / 40
    layer = TowerConv2D(6, 3, padding="same", towers=2, bias_initializer="random_normal")
    out = layer(x).numpy()
    kernels, biases = tower_kernels(layer)
    assert kernels[0].shape == (3, 3, 4, 3)

    grouped = keras.layers.Conv2D(6, 3, padding="same", groups=2)
    grouped.build(x.shape)
    grouped.set_weights([np.concatenate(kernels, -1), np.concatenate(biases)])
    np.testing.assert_allclose(out, grouped(x).numpy(), atol=1e-5)

    halves = []
    for t, part in enumerate(np.split(x, 2, axis=-1)):
        conv = keras.layers.Conv2D(3, 3, padding="same")
        conv.build(part.shape)
        conv.set_weights([kernels[t], biases[t]])
        halves.append(conv(part).numpy())
    np.testing.assert_allclose(out, np.concatenate(halves, -1), atol=1e-5)


def test_connected_tower_conv_is_one_convolution():
    x = activations((2, 11, 11, 3), seed=3) / 40
    layer = TowerConv2D(8, 5, strides=2, padding=2, towers=2, connected=True,
                        activation="relu", bias_initializer="random_normal")
    out = layer(x).numpy()
    kernels, biases = tower_kernels(layer)
    assert kernels[0].shape == (5, 5, 3, 4)
    conv = keras.layers.Conv2D(8, 5, strides=2, activation="relu")
    padded = np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)])
    conv.build(padded.shape)
    conv.set_weights([np.concatenate(kernels, -1), np.concatenate(biases)])
    np.testing.assert_allclose(out, conv(padded).numpy(), atol=1e-5)
    assert out.shape == (2, 6, 6, 8) == layer.compute_output_shape(x.shape)


def test_tower_conv_places_variables_and_ops_on_its_devices():
    layer = TowerConv2D(4, 3, towers=2, devices=("/CPU:0", "/CPU:1"))
    x = activations((1, 5, 5, 4))
    layer(x)
    assert layer.kernels[0].value.device.endswith("CPU:0")
    assert layer.kernels[1].value.device.endswith("CPU:1")
    assert layer.biases[1].value.device.endswith("CPU:1")

    # In a traced graph (what model.fit runs), each tower's conv asks for its device ...
    fn = tf.function(layer)
    graph = fn.get_concrete_function(tf.TensorSpec((None, 5, 5, 4))).graph
    requested = sorted(op.device[-5:] for op in graph.get_operations() if op.type == "Conv2D")
    assert requested == ["CPU:0", "CPU:1"]


PLACEMENT_SCRIPT = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
tf.debugging.set_log_device_placement(True)  # must precede the runtime's start
from alexnet_tf.layers import TowerConv2D, LocalResponseNormalization
conv = TowerConv2D(4, 3, towers=2, devices=("/CPU:0", "/CPU:1"), name="tconv")
lrn = LocalResponseNormalization(5, 2.0, 1e-4, 0.75, towers=2, devices=("/CPU:1", "/CPU:0"),
                                 name="tlrn")
tf.function(lambda x: lrn(conv(x)))(tf.ones((1, 5, 5, 4)))
"""


def test_tf_placer_puts_each_tower_on_its_device():
    """Runs a traced function (what model.fit runs) and reads where TF's placer put each
    tower's ops."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    run = subprocess.run([sys.executable, "-c", PLACEMENT_SCRIPT], capture_output=True,
                         text=True, env=env, timeout=300)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    # Placer lines look like "tconv_1/Conv2D_1: (Conv2D): /job:localhost/.../device:CPU:1".
    placed = sorted((line.split(": ")[1], line.split("device:")[-1])
                    for line in log.splitlines()
                    if line.startswith(("tconv", "tlrn"))
                    and line.split(": ")[1] in ("(Conv2D)", "(MatMul)"))
    # Each LRN tower's window sum is one MatMul (see `layers.lrn`).
    assert placed == [("(Conv2D)", "CPU:0"), ("(Conv2D)", "CPU:1"),
                      ("(MatMul)", "CPU:0"), ("(MatMul)", "CPU:1")], log[-3000:]


def test_tower_conv_without_devices_places_nothing():
    layer = TowerConv2D(4, 3, towers=2)
    graph = tf.function(layer).get_concrete_function(tf.TensorSpec((None, 5, 5, 4))).graph
    assert [op.device for op in graph.get_operations() if op.type == "Conv2D"] == ["", ""]


@pytest.mark.parametrize("kwargs,match", [
    (dict(filters=5, kernel_size=3, towers=2), "divide evenly"),
    (dict(filters=4, kernel_size=3, padding="full"), "padding"),
    (dict(filters=4, kernel_size=(3, 3, 3)), "kernel_size"),
    (dict(filters=4, kernel_size=3, devices=("/CPU:0",)), "one device per tower"),
])
def test_tower_conv_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TowerConv2D(**kwargs)


def test_tower_conv_rejects_input_that_does_not_split():
    with pytest.raises(ValueError, match="divide evenly into 2 towers"):
        TowerConv2D(4, 3, towers=2)(np.ones((1, 5, 5, 3), "float32"))


@pytest.mark.parametrize("kwargs,shape", [
    (dict(filters=8, kernel_size=3, padding="same", towers=2, activation="relu",
          name="conv"), (2, 7, 7, 8)),
    (dict(filters=8, kernel_size=5, strides=2, padding=2, towers=2, connected=True,
          devices=("/CPU:0", "/CPU:1"), name="conv"), (2, 4, 4, 8)),
    (dict(filters=6, kernel_size=3, towers=1, activation="tanh", name="conv"), (2, 5, 5, 6)),
])
def test_tower_conv_layer_harness(kwargs, shape, tmp_path):
    # XLA compiles a function for one device, so a layer whose towers live on two devices
    # cannot be inside a jit_compile'd function (see the TowerConv2D docstring).
    run_layer_test(TowerConv2D, kwargs, activations((2, 7, 7, 4)) / 40, shape, tmp_path,
                   jit_compile="devices" not in kwargs)
