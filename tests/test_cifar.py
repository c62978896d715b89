"""CIFAR-10 at its own size through the project's tools (issue 22): build, train, evaluate
32x32 images with no resizing to 256, cuda-convnet's nets and augmentation, the training
error in inference mode (`alexnet_tf.train_eval`)."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf import classifier, config as C, data as D, evaluate as E
from alexnet_tf.augment import PaperAugmentation
from alexnet_tf.classifier import Classifier
from alexnet_tf.model import cifar_net
from alexnet_tf.rundir import RunDir
from alexnet_tf.stats import PUBLISHED
from alexnet_tf.train_eval import KEY, TrainEval
from configs import cifar as cifar_config
from conftest import SHARED

CIFAR10 = SHARED / "data" / "cifar10"


def small_classifier(pad=0, crop=24, mean=None):
    net = cifar_net(image_size=crop)
    augment = PaperAugmentation(PUBLISHED["mean_rgb"] if mean is None else mean,
                                PUBLISHED["eigvals"], PUBLISHED["eigvecs"], crop=crop,
                                pad=pad, lighting_std=0.0, seed=0)
    return Classifier(net, augment, image_size=32)


def test_a_classifier_keeps_its_stored_size(tmp_path):
    mean_image = np.random.default_rng(0).uniform(0, 255, (32, 32, 3))
    model = small_classifier(pad=4, crop=32, mean=mean_image)
    assert model.image_size == 32
    x = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = classifier.load(path)
    assert loaded.image_size == 32 and loaded.preprocess.pad == 4
    np.testing.assert_allclose(loaded.probabilities(x, ten_crop=True),
                               model.probabilities(x, ten_crop=True), rtol=1e-5, atol=1e-6)
    copy = model.with_precision("mixed_bfloat16")
    assert copy.image_size == 32
    # A model saved before the stored size was recorded is a 256 one.
    config = small_classifier().get_config()
    del config["image_size"]
    assert Classifier.from_config(config).image_size == 256
    with pytest.raises(ValueError, match="the mean image is \\(32, 32\\) but images are "
                                         "256x256"):
        Classifier(cifar_net(image_size=32), PaperAugmentation(
            mean_image, PUBLISHED["eigvals"], PUBLISHED["eigvecs"], crop=32))


def test_train_eval_is_the_error_in_inference_mode():
    """The callback's error is the model's own on the sample with training=False (the
    centre crop), the same images every epoch."""
    keras.utils.set_random_seed(0)
    model = small_classifier()
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 40).astype("int32")
    callback = TrainEval(tf.data.Dataset.from_tensor_slices((images, labels)).batch(16))
    callback.set_model(model)
    logs = {}
    callback.on_epoch_end(0, logs)
    predicted = np.argmax(model(images, training=False).numpy(), -1)
    assert logs[KEY] == pytest.approx(np.mean(predicted != labels))
    assert callback.error() == (pytest.approx(logs[KEY]), 40)
    # train_eval_stop: training ends after the first epoch at or below it, not before.
    for stop, stops in ((logs[KEY], True), (logs[KEY] - 1e-6, False)):
        model.stop_training = False
        callback = TrainEval(callback.sample, stop=stop)
        callback.set_model(model)
        callback.on_epoch_end(0, {})
        assert callback.stopped == model.stop_training == stops
    assert C.stopped_early({"train_eval_stop": 0.25}, [{KEY: 0.3}, {KEY: 0.25}])
    assert not C.stopped_early({"train_eval_stop": 0.25}, [{KEY: 0.2}, {KEY: 0.26}])
    assert not C.stopped_early({"train_eval_stop": 0.0}, [{KEY: 0.0}])
    config = cifar_config.get_config()
    config.train_eval_stop = 0.25
    with pytest.raises(ValueError, match="train_eval_stop=0.25 needs config.train_eval_examples"):
        C.check_together(config)


def cifar_subset(root, per_class, split):
    """A `root/<class>/` tree of links to the first images of each CIFAR-10 class."""
    for cls in sorted(os.listdir(CIFAR10 / split)):
        os.makedirs(root / cls)
        for name in sorted(os.listdir(CIFAR10 / split / cls))[:per_class]:
            os.symlink(CIFAR10 / split / cls / name, root / cls / name)
    return root


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    """300 training and 100 test images of the shared CIFAR-10 (30 and 10 a class), as
    trees of links; skips when `../shared` is absent."""
    if not (CIFAR10 / "train").is_dir():
        pytest.skip(f"shared data not found at {CIFAR10}")
    base = tmp_path_factory.mktemp("cifar")
    return cifar_subset(base / "train", 30, "train"), cifar_subset(base / "test", 10, "test")


@pytest.mark.parametrize("config_file, flags", [
    ("cifar_fig1.py", ["--config.epochs=3",   # Fig. 1: whole images, the training error,
                       "--config.train_eval_stop=0.999"]),  # stopped after the first epoch
    ("cifar_lrn.py", ["--config.epochs=1", "--config.model.lrn=true",  # Sec. 3.3,
                      "--config.augment.pad=4", "--config.model.image_size=32"]),  # padded crops
])
def test_cifar_end_to_end(cifar, tmp_path, config_file, flags):
    """Built at 32x32 (bytes kept), trained one epoch through `train` (Fig. 1's config
    asked for 3 and stopped by train_eval_stop), evaluated (centre and 10 crops) from the
    run's files, all at the stored size."""
    from alexnet_tf.train import train
    train_tree, test_tree = cifar
    workdir = str(tmp_path / "run")
    config, _ = C.parse(["--config", os.path.join(C.CONFIGS, config_file), "--workdir",
                         workdir, f"--config.data.train={train_tree}",
                         f"--config.data.validation={test_tree}", "--config.batch_size=50", "--config.train_eval_examples=200",
                         "--config.precision=float32", "--config.verbose=0", *flags])
    history = train(config, workdir)
    run = RunDir(workdir)
    pattern = os.path.join(run.data, "train-*")
    assert D.stored_size(pattern) == 32
    with np.load(os.path.join(run.data, "train.stats.npz")) as stats:
        assert stats["mean_image"].shape == (32, 32, 3) and int(stats["count"]) == 300
    assert len(history) == 1 and 0 <= history[0][KEY] <= 1
    assert C.stopped_early(run.read_config(), history) == (config_file == "cifar_fig1.py")
    assert 0 <= history[0]["val_top1_error"] <= 1
    model = classifier.load(run.model)
    assert model.image_size == 32
    validation = os.path.join(run.data, "validation-*")
    for ten_crop in (False, True):
        result = E.evaluate_paths([workdir], validation, ten_crop=ten_crop)
        assert result["images"] == 100 and 0 <= result["top1_error"] <= 1
    # The run's own validation pass is the centre crop at the stored size.
    centre = E.evaluate_paths([workdir], validation)
    assert centre["top1_error"] == pytest.approx(history[0]["val_top1_error"], abs=1e-6)
