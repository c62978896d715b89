"""The recipe's facts (issue 21): LRN at any input scale, the paper's initialization and its
departures, the layer probe, conv1's distance from its start, and committed results
without machine paths."""
import importlib
import json
import math
import os
import pathlib

import keras
import numpy as np
import pytest

from alexnet_tf import alexnet, probe
from alexnet_tf import report as R
from alexnet_tf.layers import LocalResponseNormalization
from alexnet_tf.rundir import RunDir
from alexnet_tf.recipe import net_lrn_alpha, training_model

CONFIGS = sorted(p.stem for p in (pathlib.Path(__file__).parents[1] / "configs").glob("*.py")
                 if p.stem != "__init__")
SMALL = dict(num_classes=5, filters=(16, 32, 32, 32, 32), fc_units=64, initializer="paper")


def layer_outputs(net, x):
    model = keras.Model(net.input, [l.output for l in net.layers[1:]])
    return {l.name: np.asarray(o) for l, o in zip(net.layers[1:], model(x, training=False))}


def test_lrn_scale_equivalence_layer_by_layer():
    """LRN is not scale-invariant, but LRN(s a; alpha / s**2) = s LRN(a; alpha). With every
    bias scaled by s too, the net fed s x with alpha / s**2 computes exactly s times the
    paper's activations at every layer, logits included (ReLU, max pooling and
    convolutions are positively homogeneous); with the paper's alpha unscaled it does not
    (the LRN layers then act differently)."""
    s = 1 / 64
    paper = alexnet(**SMALL, lrn_alpha=1e-4, image_size=99)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 60, (2, 99, 99, 3)).astype("float32")  # 0..255 pixels minus the mean
    # Make LRN act at scale 1 (divisor well above k**beta): larger conv1 kernels.
    paper.get_layer("conv1").set_weights([w * 20 if w.ndim == 4 else w
                                         for w in paper.get_layer("conv1").get_weights()])
    for alpha, expect_equal in ((1e-4 / s ** 2, True), (1e-4, False)):
        scaled = alexnet(**SMALL, lrn_alpha=alpha, image_size=99)
        scaled.set_weights([w * s if w.ndim == 1 else w for w in paper.get_weights()])
        a, b = layer_outputs(paper, x), layer_outputs(scaled, x * s)
        lrn1 = paper.get_layer("lrn1")
        assert float(np.median(lrn1.denominator(a["conv1"]) / lrn1.k ** lrn1.beta)) > 1.1
        for name in a:
            same = np.allclose(b[name], s * a[name], rtol=1e-4, atol=1e-6 * np.abs(a[name]).max())
            if expect_equal:
                assert same, name
        if not expect_equal:
            assert not np.allclose(b["lrn1"], s * a["lrn1"], rtol=1e-3)


@pytest.mark.parametrize("name", CONFIGS)
def test_shipped_configs_give_lrn_the_alpha_of_their_input_scale(name):
    """Every shipped AlexNet config's LRN layers get the paper's alpha over the square of
    the config's input scale: a config that scales its inputs by 1/64 cannot leave LRN a
    constant factor (issue 21)."""
    config = importlib.import_module(f"configs.{name}").get_config()
    if config.net != "alexnet" or not config.model.lrn:
        pytest.skip("no response normalization")
    config.model.num_classes = 4
    config.model.filters, config.model.fc_units = (8, 16, 16, 16, 16), 16
    model = training_model(config)
    layers = [l for l in model.net.layers if isinstance(l, LocalResponseNormalization)]
    assert layers
    expected = config.model.lrn_alpha / config.augment.input_scale ** 2
    assert net_lrn_alpha(config) == pytest.approx(expected)
    for layer in layers:
        assert layer.effective_alpha == pytest.approx(expected)


def test_paper_initializer_per_layer_std_and_bias():
    """The paper's N(0, 0.01) with biases 1 in conv2, conv4, conv5, fc6, fc7; per-layer
    scales (cuda-convnet2's 0.03 in conv3..5) and another bias value (Caffe's 0.1); a
    wrong `init_std` is refused in one line."""
    names = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")
    keras.utils.set_random_seed(0)
    paper = alexnet(**{**SMALL, "filters": (96, 64, 64, 64, 64)}, image_size=99)
    for name in names:
        w = paper.get_layer(name).get_weights()
        kernels = np.concatenate([v.ravel() for v in w if v.ndim > 1])
        biases = np.concatenate([v for v in w if v.ndim == 1])
        assert kernels.std() == pytest.approx(0.01, rel=0.1), name
        assert set(biases) == ({1.0} if name in ("conv2", "conv4", "conv5", "fc6", "fc7")
                               else {0.0}), name
    stds = (0.01, 0.01, 0.03, 0.03, 0.03, 0.01, 0.01, 0.01)
    other = alexnet(**{**SMALL, "filters": (96, 64, 64, 64, 64)}, image_size=99,
                    init_std=stds, init_bias=0.1)
    for name, std in zip(names, stds):
        w = other.get_layer(name).get_weights()
        kernels = np.concatenate([v.ravel() for v in w if v.ndim > 1])
        assert kernels.std() == pytest.approx(std, rel=0.1), name
    assert set(other.get_layer("fc6").get_weights()[1]) == {np.float32(0.1)}
    with pytest.raises(ValueError, match="`init_std` must be a positive number or 8"):
        alexnet(**SMALL, init_std=(0.01, 0.02))


def test_plateau_steps_and_correlation():
    records = [{"step": 0, "loss": 2.31}, {"step": 10, "loss": 2.30},
               {"step": 20, "loss": 2.11}, {"step": 30, "loss": 2.05}]
    assert probe.plateau_steps(records, 10) == 30  # first below ln 10 - 0.2 = 2.103
    assert probe.plateau_steps(records[:3], 10) is None
    a = np.random.default_rng(0).normal(size=(11, 11, 3, 8))
    assert probe.correlation(a, 3 * a + 1) == pytest.approx(1.0)
    assert probe.correlation(a, -a) == pytest.approx(-1.0)


def test_conv1_init_correlation_from_fixture_weights(tmp_path):
    """The report's conv1-vs-start correlation, from a saved model and conv1_init.npy with
    a known answer: the kernel k = init + e with e orthogonal to init (both centred) and
    |e| = |init| has correlation 1 / sqrt(2) with it."""
    from configs import tiny
    config = tiny.get_config()
    model = training_model(config)
    model.build((None, 256, 256, 3))
    probe.save_conv1_init(model, str(tmp_path))
    init = probe.load_conv1_init(str(tmp_path)).ravel().astype(np.float64)
    init -= init.mean()
    e = np.random.default_rng(1).normal(size=init.shape)
    e -= e.mean()
    e -= (e @ init) / (init @ init) * init  # orthogonal to init
    e *= np.linalg.norm(init) / np.linalg.norm(e)
    new = (probe.load_conv1_init(str(tmp_path)).ravel() + e).reshape(
        probe.load_conv1_init(str(tmp_path)).shape)
    conv1 = model.net.get_layer("conv1")
    per_tower = new.shape[-1] // len(conv1.kernels)
    for t, kernel in enumerate(conv1.kernels):
        kernel.assign(new[..., t * per_tower:(t + 1) * per_tower])
    model.save(str(tmp_path / "model.keras"))
    assert R.conv1_init_correlation(str(tmp_path)) == pytest.approx(1 / math.sqrt(2), abs=1e-5)
    os.remove(RunDir(str(tmp_path)).conv1_init)
    assert R.conv1_init_correlation(str(tmp_path)) is None


def test_probe_records_a_tiny_run(tmp_path):
    """A tiny run with the probe on writes probe.json at step 0 and every 2 steps, with
    every layer's scales; a resumed run (a second `train` call for one more epoch) keeps
    the records before its start and adds its own."""
    from configs import tiny
    from alexnet_tf.train import train
    config = tiny.get_config()
    config.probe_every_steps, config.epochs = 2, 1
    train(config, str(tmp_path))
    records = json.loads((tmp_path / "probe.json").read_text())
    assert [r["step"] for r in records] == [0, 2, 4]
    first = records[0]["layers"]
    assert set(first) == set(probe.LAYERS)
    assert first["conv1"]["init_corr"] == pytest.approx(1.0)
    assert 0 <= first["conv2"]["dead"] <= 1 and first["lrn1"]["divisor"] >= 1.0
    assert all(first[n]["grad_rms"] > 0 for n in ("conv1", "fc6", "fc8"))
    config.epochs = 2
    train(config, str(tmp_path))
    assert [r["step"] for r in json.loads((tmp_path / "probe.json").read_text())] == \
        [0, 2, 4, 6, 8]


def test_portable_results_hold_no_machine_path(tmp_path):
    workdir = str(tmp_path / "study")
    root = os.path.dirname(R.S.CONFIGS)
    value = {"data": os.path.join(workdir, "baseline", "seed-0", "data", "validation-*"),
             "train": os.path.join(os.path.dirname(root), "shared", "data", "x", "train"),
             "command": f"/usr/bin/python {root}/tools/train.py --workdir {workdir}/b "
                        f"--config.data.train={os.path.dirname(root)}/shared/t",
             "ratio": "1/64", "list": [os.path.join(root, "configs", "studies", "a.py")]}
    out = R.portable(value, workdir)
    assert out == {"data": "baseline/seed-0/data/validation-*",
                   "train": "../shared/data/x/train",
                   "command": "python tools/train.py --workdir b "
                              "--config.data.train=../shared/t",
                   "ratio": "1/64", "list": ["configs/studies/a.py"]}


def test_pooling_per_layer_keeps_fc6_fan_in():
    """At 112-pixel inputs, 2x2 pooling everywhere gives fc6 2,304 inputs against the
    overlapping net's 1,024; 2x2 in pool1 and pool2 with pool5 overlapping keeps 1,024.
    A wrong per-layer value is refused in one line."""
    def fan_in(**kwargs):
        return alexnet(num_classes=10, input_downsample=2, **kwargs).get_layer(
            "fc6").kernel.shape[0]
    assert fan_in() == 1024
    assert fan_in(pool_size=2, pool_stride=2) == 2304
    assert fan_in(pool_size=(2, 2, 3), pool_stride=2) == 1024
    with pytest.raises(ValueError, match="`pool_size` must be a positive int or 3"):
        alexnet(pool_size=(2, 3))


def test_probe_known_answers(tmp_path):
    """The probe against answers computed here: a conv2 whose biases are -1e6 is dead for
    every image (dead share 1), leaves lrn2 nothing to normalize (divisor None) and gives
    conv2's kernel a zero gradient; lrn1's median divisor is the paper's formula evaluated
    by hand on conv1's outputs (two towers of 4 maps, windows of 5 within a tower)."""
    from configs import tiny
    from alexnet_tf.recipe import compile_model
    config = tiny.get_config()
    model = training_model(config)
    compile_model(model, config, jit_compile=False)
    images = np.random.default_rng(0).integers(0, 256, (6, 256, 256, 3)).astype("uint8")
    labels = np.arange(6) % 4
    model(images)
    probe.save_conv1_init(model, str(tmp_path))
    conv2 = model.net.get_layer("conv2")
    for bias in conv2.biases:
        bias.assign(np.full(bias.shape, -1e6, "float32"))
    p = probe.LayerProbe(images, labels, every=1, workdir=str(tmp_path), first_step=0)
    p.set_model(model)
    p.on_train_begin()
    layers = json.loads((tmp_path / "probe.json").read_text())[0]["layers"]
    assert layers["conv2"]["dead"] == 1.0 and layers["conv2"]["grad_rms"] == 0.0
    assert layers["lrn2"]["divisor"] is None
    a = keras.Model(model.net.input, model.net.get_layer("conv1").output)(
        model.preprocess(images)).numpy().astype(np.float64)
    lrn1 = model.net.get_layer("lrn1")
    squares = np.square(a)
    window = np.zeros_like(a)
    for i in range(8):
        tower = i // 4
        js = [j for j in range(i - 2, i + 3) if 0 <= j < 8 and j // 4 == tower]
        window[..., i] = squares[..., js].sum(-1)
    d = (lrn1.k + lrn1.effective_alpha * window) ** lrn1.beta / lrn1.k ** lrn1.beta
    assert layers["lrn1"]["divisor"] == pytest.approx(float(np.median(d[a > 0])), rel=1e-4)
    assert layers["conv1"]["init_corr"] == pytest.approx(1.0)


def test_a_run_saved_before_the_alpha_rule_is_not_resumed_with_another_lrn():
    """A run whose config.json predates LRN's alpha following the input scale (no
    `model.init_bias`) and scaled its inputs would resume with an LRN 4096 times
    stronger: refused in one line; the same run at input scale 1 resumes."""
    from configs import tiny
    from alexnet_tf.checkpoint import check_resume_config
    config = tiny.get_config()
    old = json.loads(json.dumps(config.to_dict()))
    del old["model"]["init_bias"]
    with pytest.raises(ValueError, match=r"started before LRN's alpha followed "
                                         r"augment.input_scale \(0.015625\).*alpha 0.0001 -> "
                                         r"0.4096"):
        check_resume_config(old, config)
    config.augment.input_scale = 1.0
    old["augment"]["input_scale"] = 1.0
    check_resume_config(old, config)
