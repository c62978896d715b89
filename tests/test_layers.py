import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf.layers import LocalResponseNormalization, TowerConv2D
from layer_harness import run_layer_test


PAPER = dict(size=5, k=2.0, alpha=1e-4, beta=0.75)  # Sec. 3.3 (alexnet()'s defaults)


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


@pytest.mark.parametrize("alpha_over_size", [False, True])
@pytest.mark.parametrize("size", [5, 3])
def test_lrn_matches_paper_formula(alpha_over_size, size):
    a = activations((2, 3, 3, 16))
    out = lrn_layer(size=size, alpha_over_size=alpha_over_size)(a).numpy()
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


def test_lrn_edge_maps_sum_over_fewer_neighbours():
    a = np.zeros((1, 1, 1, 8), "float32")
    a[..., 0] = 100.0
    a[..., 3] = 100.0
    b = lrn_layer()(a).numpy()[0, 0, 0]
    # Map 0 sees maps 0..2 only (the window is clipped, not wrapped or zero-padded
    # differently): denominator (2 + 1e-4 * 100^2)^0.75 = 3^0.75.
    np.testing.assert_allclose(b[0], 100.0 / 3.0 ** 0.75, rtol=1e-6)
    # Map 3 sees maps 1..5, which include map 3 itself but not map 0.
    np.testing.assert_allclose(b[3], 100.0 / 3.0 ** 0.75, rtol=1e-6)


def test_lrn_towers_normalize_each_tower_alone():
    a = activations((2, 4, 4, 16), seed=1)
    out = lrn_layer(towers=2)(a).numpy()
    want = np.concatenate([paper_lrn(a[..., :8]), paper_lrn(a[..., 8:])], axis=-1)
    np.testing.assert_allclose(out, want, rtol=1e-5)
    # Across the tower boundary (maps 7 and 8) the result differs from one-tower LRN.
    whole = paper_lrn(a)
    assert np.abs(out[..., 6:10] - whole[..., 6:10]).max() > 1e-3


@pytest.mark.parametrize("towers", [1, 2])
@pytest.mark.parametrize("size,beta", [(5, 0.75), (3, 0.6)])
def test_lrn_equals_tf_op_values_and_gradients(towers, size, beta):
    """Our matrix form with its written-out gradient against TF's LRN op and LRNGrad."""
    a = tf.constant(activations((2, 5, 5, 16), seed=2))
    weights = tf.constant(np.random.default_rng(3).normal(size=(2, 5, 5, 16)), tf.float32)
    layer = lrn_layer(size=size, beta=beta, towers=towers)

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


def test_lrn_keeps_dtype_and_runs_in_bfloat16():
    a = tf.constant(activations((2, 6, 6, 32)), tf.bfloat16)
    out = lrn_layer(dtype="mixed_bfloat16")(a)
    assert out.dtype == tf.bfloat16
    want = paper_lrn(a.numpy().astype("float32"))
    # bfloat16 keeps 8 significant bits (relative rounding 2^-9 = 0.2 %): the input, the
    # float32 scale and the product are each rounded once, so 3 roundings at most.
    np.testing.assert_allclose(out.numpy().astype("float32"), want, rtol=3 * 2 ** -8)


def test_lrn_in_float16_does_not_overflow():
    """Activations of a few hundred (0..255 pixels minus the mean) square past float16's
    65504: the layer must compute those in float32."""
    a = activations((1, 3, 3, 16)) * 10  # std 400
    out = lrn_layer(dtype="mixed_float16")(tf.constant(a, tf.float16))
    assert out.dtype == tf.float16 and np.all(np.isfinite(out.numpy()))
    np.testing.assert_allclose(out.numpy().astype("float32"), paper_lrn(a), rtol=3e-3,
                               atol=1e-2)


@pytest.mark.parametrize("kwargs", [dict(size=4), dict(size=0), dict(towers=0),
                                    dict(towers=2, devices=("/CPU:0",))])
def test_lrn_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="LocalResponseNormalization"):
        lrn_layer(**kwargs)


def test_lrn_rejects_channels_that_do_not_split():
    with pytest.raises(ValueError, match="divide evenly into 2 towers"):
        lrn_layer(towers=2)(np.ones((1, 2, 2, 5), "float32"))


def test_lrn_layer_harness(tmp_path):
    run_layer_test(LocalResponseNormalization, dict(**PAPER, towers=2, name="lrn"),
                   activations((2, 5, 5, 16)), (2, 5, 5, 16), tmp_path)


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
