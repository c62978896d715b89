"""Fine-tuning (alexnet_tf.finetune): a run that starts from a trained model, with a new
fc8, frozen layers and per-layer learning-rate multipliers; its errors in one line."""
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf import classifier, finetune
from alexnet_tf.optim import PaperSGD
from alexnet_tf.rundir import RunDir
from alexnet_tf.train import train
from configs import tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A trained tiny run (4 classes), the source of the fine-tuning runs."""
    workdir = str(tmp_path_factory.mktemp("source"))
    config = tiny.get_config()
    config.epochs = 1
    train(config, workdir)
    return workdir


def finetune_config(source, **fields):
    config = tiny.get_config()
    config.epochs = 1
    config.data.generated.update(dict(classes=3, seed=1))  # other images, 3 classes
    config.model.num_classes = 3
    config.finetune.init_from = source
    for key, value in fields.items():
        config.finetune[key] = value
    return config


def weights(model, name):
    return [w.copy() for w in model.layer(name).get_weights()]


def test_a_finetuned_run_keeps_frozen_layers_and_starts_a_new_fc8(source, tmp_path):
    src = classifier.load(RunDir(source).model)
    train(finetune_config(source, trainable="fc7", lr_mult="fc8=10"), str(tmp_path))
    tuned = classifier.load(RunDir(str(tmp_path)).model)
    for name in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6"):  # frozen: the source's
        for a, b in zip(weights(tuned, name), weights(src, name)):
            np.testing.assert_array_equal(a, b, err_msg=name)
    assert not np.array_equal(weights(tuned, "fc7")[0], weights(src, "fc7")[0])  # trained
    assert tuned.num_classes == 3 and src.num_classes == 4  # fc8 new, for 3 classes
    # the statistics are the source's (finetune.stats="source")
    np.testing.assert_array_equal(tuned.preprocess.weights[0].numpy(),
                                  src.preprocess.weights[0].numpy())


def test_a_resumed_finetuning_run_restores_its_own_checkpoint(source, tmp_path):
    """The source is read at the first start only: more epochs continue the run."""
    config = finetune_config(source, trainable="fc8")
    train(config, str(tmp_path))
    after_one = weights(classifier.load(RunDir(str(tmp_path)).model), "fc8")
    config.epochs = 2
    history = train(config, str(tmp_path))
    assert [h["epoch"] for h in history] == [0, 1]
    after_two = weights(classifier.load(RunDir(str(tmp_path)).model), "fc8")
    assert not np.array_equal(after_one[0], after_two[0])


def test_the_same_classes_keep_the_sources_fc8(source, tmp_path):
    config = tiny.get_config()
    config.epochs = 1
    config.finetune.init_from = source
    config.finetune.trainable = "fc6,fc7"  # fc8 frozen: it must be the source's own
    train(config, str(tmp_path))
    np.testing.assert_array_equal(
        weights(classifier.load(RunDir(str(tmp_path)).model), "fc8")[0],
        weights(classifier.load(RunDir(source).model), "fc8")[0])


@pytest.mark.parametrize("fields, message", [
    ({"trainable": "fc9"}, r"^config.finetune.trainable=fc9: no layer fc9 in the net "
                           r"\(its layers with weights: conv1, conv2"),
    ({"lr_mult": "fc8=ten"}, r"^config.finetune.lr_mult=fc8=ten: fc8=ten needs a finite "
                             r"multiplier >= 0"),
    ({"lr_mult": "pool1=2"}, r"^config.finetune.lr_mult=pool1: no layer pool1"),
])
def test_bad_layer_names_and_multipliers_are_named(source, tmp_path, fields, message):
    with pytest.raises(finetune.FinetuneError, match=message):
        train(finetune_config(source, **fields), str(tmp_path))


def test_a_source_of_another_architecture_is_refused(source, tmp_path):
    config = finetune_config(source)
    config.model.fc_units = 48
    with pytest.raises(finetune.FinetuneError, match=r"belongs to another architecture: its "
                                                     r"fc6 has weights of shapes"):
        train(config, str(tmp_path))


def test_a_missing_source_is_one_line_from_the_command(tmp_path):
    run = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "train.py"), "--config",
         os.path.join(ROOT, "configs", "tiny.py"), "--workdir", str(tmp_path / "w"),
         f"--config.finetune.init_from={tmp_path / 'nothing'}"],
        capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [
        f"error: --config.finetune.init_from={tmp_path / 'nothing'} does not exist"], run.stderr


def test_lr_multipliers_scale_a_layers_step():
    """A multiplier of 10 makes layer b's first step (no momentum yet) 10 times larger,
    weight decay included, as Caffe's lr_mult; layer a's step is the plain one."""
    start = np.array([[1.0], [2.0]], np.float32)
    grad = tf.constant([[0.5], [-1.0]])
    plain = 0.1 * (np.array([[0.5], [-1.0]]) + 0.01 * start)
    steps = []
    for mult in (1.0, 10.0):
        layers = [keras.layers.Dense(1, use_bias=False, name=n) for n in "ab"]
        for layer in layers:
            layer.build((None, 2))
            layer.kernel.assign(start)
        opt = PaperSGD(0.1, momentum=0.9, paper_weight_decay=0.01, lr_multipliers={"b": mult})
        variables = [layer.kernel for layer in layers]
        opt.build(variables)
        opt.apply_gradients(zip([grad, grad], variables))
        np.testing.assert_allclose(start - variables[0].numpy(), plain, rtol=1e-5)
        steps.append(start - variables[1].numpy())
    np.testing.assert_allclose(steps[0], plain, rtol=1e-5)
    np.testing.assert_allclose(steps[1], 10 * plain, rtol=1e-5)
