import keras
import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf import alexnet, parameter_counts
from alexnet_tf.layers import LocalResponseNormalization, TowerConv2D

PAPER_SHAPES = {
    "conv1": (55, 55, 96), "lrn1": (55, 55, 96), "pool1": (27, 27, 96),
    "conv2": (27, 27, 256), "lrn2": (27, 27, 256), "pool2": (13, 13, 256),
    "conv3": (13, 13, 384), "conv4": (13, 13, 384), "conv5": (13, 13, 256),
    "pool5": (6, 6, 256), "fc6": (4096,), "fc7": (4096,), "fc8": (1000,),
}


@pytest.fixture(scope="module")
def paper_model():
    keras.utils.set_random_seed(0)
    return alexnet()


def test_paper_parameter_count(paper_model):
    assert paper_model.count_params() == 60_965_224
    # Each layer by hand: kernel volume x kernels + biases (Sec. 3.5, Fig. 2).
    assert dict(parameter_counts(paper_model)) == {
        "conv1": 11 * 11 * 3 * 96 + 96,
        "conv2": 5 * 5 * 48 * 256 + 256,      # each tower sees its own 48 maps
        "conv3": 3 * 3 * 256 * 384 + 384,     # sees both towers
        "conv4": 3 * 3 * 192 * 384 + 384,
        "conv5": 3 * 3 * 192 * 256 + 256,
        "fc6": 6 * 6 * 256 * 4096 + 4096,
        "fc7": 4096 * 4096 + 4096,
        "fc8": 4096 * 1000 + 1000,
    }


def test_one_tower_parameter_count():
    model = alexnet(towers=1)
    assert model.count_params() == 59_798_312
    assert model.get_layer("conv1").filters == 48
    assert model.get_layer("conv4").filters == 192
    assert model.get_layer("conv5").filters == 256
    assert model.get_layer("conv2").towers == 1


def test_layer_names_and_shapes(paper_model):
    names = [layer.name for layer in paper_model.layers]
    assert names == ["images", "conv1", "lrn1", "pool1", "conv2", "lrn2", "pool2", "conv3",
                     "conv4", "conv5", "pool5", "flatten", "fc6", "dropout6", "fc7",
                     "dropout7", "fc8"]
    for name, shape in PAPER_SHAPES.items():
        assert tuple(paper_model.get_layer(name).output.shape[1:]) == shape, name


def test_tower_wiring(paper_model):
    conv = {n: paper_model.get_layer(n) for n in ("conv1", "conv2", "conv3", "conv4", "conv5")}
    assert [c.connected for c in conv.values()] == [True, False, True, False, False]
    assert all(c.towers == 2 for c in conv.values())
    assert paper_model.get_layer("lrn1").towers == paper_model.get_layer("lrn2").towers == 2
    lrn = paper_model.get_layer("lrn1")
    assert (lrn.size, lrn.k, lrn.alpha, lrn.beta, lrn.alpha_over_size) == (5, 2.0, 1e-4, 0.75,
                                                                          False)
    assert paper_model.get_layer("pool1").pool_size == (3, 3)
    assert paper_model.get_layer("pool1").strides == (2, 2)
    assert paper_model.get_layer("dropout6").rate == paper_model.get_layer("dropout7").rate == 0.5


def test_caffe_input_size_gives_same_shapes():
    model = alexnet(image_size=227, conv1_padding=0)
    assert model.count_params() == 60_965_224
    assert tuple(model.get_layer("conv1").output.shape[1:]) == (55, 55, 96)
    # Unpadded 224 input: the 54x54 discrepancy the docstring explains.
    model = alexnet(conv1_padding=0)
    assert tuple(model.get_layer("conv1").output.shape[1:]) == (54, 54, 96)


def test_paper_initializer_statistics(paper_model):
    for name in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"):
        layer = paper_model.get_layer(name)
        kernels = [w.numpy() for w in layer.weights if "kernel" in w.path]
        biases = [w.numpy() for w in layer.weights if "bias" in w.path]
        k = np.concatenate([w.ravel() for w in kernels])
        assert abs(k.mean()) < 1e-3, name
        assert abs(k.std() - 0.01) < 5e-4, (name, k.std())
        want = 1.0 if name in ("conv2", "conv4", "conv5", "fc6", "fc7") else 0.0
        assert all(np.all(b == want) for b in biases), name


def test_he_initializer_statistics():
    keras.utils.set_random_seed(1)
    model = alexnet(initializer="he", num_classes=10, fc_units=256)
    conv3 = np.concatenate([k.numpy().ravel() for k in model.get_layer("conv3").kernels])
    # He-normal: std sqrt(2 / fan_in) (Keras rescales its truncated normal to keep it).
    sigma = np.sqrt(2 / (3 * 3 * 256))
    assert abs(conv3.std() - sigma) < 0.02 * sigma
    assert abs(conv3.std() - 0.01) > 0.01  # and clearly not the paper's N(0, 0.01)
    assert all(np.all(b.numpy() == 0) for b in model.get_layer("conv2").biases)


def small(**kwargs):
    """A paper-shaped net with a narrow classifier, for fast forward passes."""
    return alexnet(num_classes=10, fc_units=64, **kwargs)


@pytest.mark.parametrize("kwargs", [dict(activation="tanh"), dict(lrn=False),
                                    dict(pool_size=2, pool_stride=2), dict(dropout=0.0),
                                    dict(towers=1)])
def test_variants_build_and_run(kwargs):
    model = small(**kwargs)
    x = np.random.default_rng(0).normal(0, 50, (2, 224, 224, 3)).astype("float32")
    logits = model(x, training=True).numpy()
    assert logits.shape == (2, 10) and np.all(np.isfinite(logits))
    assert tuple(model.get_layer("pool5").output.shape[1:]) == (6, 6, 256)
    names = {layer.name for layer in model.layers}
    assert ("lrn1" in names) == kwargs.get("lrn", True)
    if "activation" in kwargs:
        assert model.get_layer("conv2").activation is keras.activations.tanh
        assert model.get_layer("fc6").activation is keras.activations.tanh


@pytest.mark.parametrize("kwargs,match", [
    (dict(towers=3), "towers"), (dict(activation="sigmoid"), "activation"),
    (dict(initializer="xavier"), "initializer"), (dict(filters=(96, 256)), "filters"),
    (dict(devices=("/CPU:0",)), "one device per tower"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        alexnet(**kwargs)


def test_devices_give_the_same_output():
    keras.utils.set_random_seed(2)
    plain = small()
    placed = small(devices=("/CPU:0", "/CPU:1"))
    placed.set_weights(plain.get_weights())
    assert placed.get_layer("conv2").kernels[1].value.device.endswith("CPU:1")
    x = np.random.default_rng(1).normal(0, 50, (2, 224, 224, 3)).astype("float32")
    np.testing.assert_allclose(placed.predict(x, verbose=0), plain.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)


def test_keras_round_trip_in_safe_mode(tmp_path):
    model = small(devices=("/CPU:0", "/CPU:1"))
    path = tmp_path / "alexnet.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded.get_layer("conv2"), TowerConv2D)
    assert isinstance(loaded.get_layer("lrn2"), LocalResponseNormalization)
    assert loaded.get_layer("conv2").devices == ("/CPU:0", "/CPU:1")
    x = np.random.default_rng(2).normal(0, 50, (2, 224, 224, 3)).astype("float32")
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


def test_describe_lists_every_layer_and_the_total(paper_model):
    from alexnet_tf import describe
    lines = describe(paper_model).splitlines()
    assert lines[0].split() == ["layer", "type", "output", "shape", "parameters"]
    conv2 = next(line for line in lines if line.startswith("conv2 "))
    assert conv2.split() == ["conv2", "TowerConv2D", "27x27x256", "307,456"]
    assert lines[-1].split() == ["total", "60,965,224"]


def test_fig1_net_is_the_four_layer_net_at_32_pixels():
    from alexnet_tf.model import fig1_net
    net = fig1_net()
    assert [n for n, _ in parameter_counts(net)] == ["conv1", "conv2", "conv3", "fc4"]
    assert net.count_params() == 89_578
    assert net.get_layer("pool3").output.shape[1:] == (4, 4, 64)
    # The 8x8 box average is area downsampling 256 -> 32.
    images = np.random.default_rng(0).uniform(-1, 1, (2, 256, 256, 3)).astype("float32")
    area = tf.image.resize(images, (32, 32), method="area")
    inner = keras.Model(net.input, net.get_layer("downsample").output)
    np.testing.assert_allclose(inner(images), area, atol=1e-6)
    assert fig1_net(activation="tanh").get_layer("conv2").activation.__name__ == "tanh"
    with pytest.raises(ValueError, match="`activation` must be 'relu' or 'tanh', got 'elu'"):
        fig1_net(activation="elu")


def test_input_downsample_gives_the_same_layers_a_smaller_image():
    net = alexnet(num_classes=10, input_downsample=2)
    assert net.get_layer("downsample").output.shape[1:] == (112, 112, 3)
    assert net.get_layer("conv1").output.shape[1:] == (27, 27, 96)
    assert net.get_layer("pool5").output.shape[1:] == (2, 2, 256)
    assert net.get_layer("fc6").kernel.shape == (1024, 4096)
    assert "downsample" not in [layer.name for layer in alexnet(num_classes=10).layers]
    with pytest.raises(ValueError, match="`input_downsample` must be 1, 2 or 3, got 4"):
        alexnet(input_downsample=4)


def test_conv1_init_std_sets_conv1_alone():
    keras.utils.set_random_seed(0)
    net = alexnet(num_classes=10, initializer="he", conv1_init_std=0.01)
    conv1 = np.concatenate([k.numpy().ravel() for k in net.get_layer("conv1").kernels])
    conv2 = np.concatenate([k.numpy().ravel() for k in net.get_layer("conv2").kernels])
    assert abs(conv1.std() - 0.01) < 0.0005  # 34,848 draws
    assert abs(conv2.std() - np.sqrt(2 / (5 * 5 * 48))) < 0.002  # He-normal, as before


def test_cifar_net_is_cuda_convnets_18pct_net_without_normalization():
    from alexnet_tf.model import cifar_net
    keras.utils.set_random_seed(0)
    net = cifar_net()
    assert [n for n, _ in parameter_counts(net)] == ["conv1", "conv2", "conv3", "fc4"]
    assert net.count_params() == 89_578
    assert net.input_shape == (None, 32, 32, 3)
    assert [type(net.get_layer(f"pool{i}")).__name__ for i in (1, 2, 3)] == [
        "MaxPooling2D", "AveragePooling2D", "AveragePooling2D"]
    assert [net.get_layer(f"pool{i}").output.shape[1] for i in (1, 2, 3)] == [16, 8, 4]
    assert not [layer for layer in net.layers if layer.name.startswith("lrn")]
    # cuda-convnet's initW: conv1 N(0, 1e-4), then N(0, 0.01); zero biases.
    conv1 = net.get_layer("conv1").kernels[0].numpy()
    conv3 = net.get_layer("conv3").kernels[0].numpy()
    assert abs(conv1.std() - 1e-4) < 1e-5 and abs(conv3.std() - 0.01) < 5e-4
    assert abs(net.get_layer("fc4").kernel.numpy().std() - 0.01) < 5e-4
    assert not any(np.any(w.numpy()) for layer in net.layers for w in layer.weights
                   if "bias" in w.path)
    tanh = cifar_net(activation="tanh", initializer="glorot")
    assert tanh.get_layer("conv2").activation.__name__ == "tanh"
    assert abs(tanh.get_layer("fc4").kernel.numpy().std()
               - np.sqrt(2 / (1024 + 10))) < 0.002  # Glorot-uniform: std sqrt(2/(in+out))


def test_cifar_net_conv_local_with_lrn():
    from alexnet_tf.model import CUDA_CONVNET, cifar_net
    net = cifar_net(image_size=24, lrn=True, **CUDA_CONVNET["conv-local"])
    assert [n for n, _ in parameter_counts(net)] == ["conv1", "conv2", "conv3", "conv4", "fc5"]
    assert net.count_params() == 146_570
    assert net.get_layer("conv3").output.shape[1:] == (6, 6, 32)
    lrn = net.get_layer("lrn1")
    assert (lrn.size, lrn.k, lrn.alpha, lrn.beta) == (5, 2.0, 1e-4, 0.75)  # Sec. 3.3
    assert [layer.name for layer in net.layers if layer.name.startswith("lrn")] == [
        "lrn1", "lrn2"]
    out = net(np.random.default_rng(0).normal(0, 60, (2, 24, 24, 3)).astype("float32"))
    assert out.shape == (2, 10) and np.all(np.isfinite(out))


@pytest.mark.parametrize("kwargs, match", [
    (dict(activation="elu"), "`activation` must be 'relu' or 'tanh'"),
    (dict(max_pools=4), "`max_pools` must be 0 to the number of conv layers \\(3\\)"),
    (dict(init_std=(0.01, 0.01)), "`init_std` must be a positive number or 4 of them"),
    (dict(initializer="he"), "`initializer` must be 'gaussian' or 'glorot'"),
])
def test_cifar_net_bad_arguments_are_named(kwargs, match):
    from alexnet_tf.model import cifar_net
    with pytest.raises(ValueError, match=match):
        cifar_net(**kwargs)
