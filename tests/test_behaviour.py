"""Behaviour across modules: the paper's weight decay reaching the two-tower network's
kernels, and the learning-rate schedule driven by a real `model.fit`."""
import keras
import numpy as np
import pytest

from alexnet_tf import TowerConv2D, alexnet
from alexnet_tf.optim import LearningRateSchedule, PaperSGD, TopKError


def model_kernels(model):
    """The weight matrices of `model`, found from the layers' attributes (not their
    names): every tower's kernel of each TowerConv2D, and each Dense kernel."""
    kernels = []
    for layer in model.layers:
        if isinstance(layer, TowerConv2D):
            kernels += list(layer.kernels)
        elif isinstance(layer, keras.layers.Dense):
            kernels.append(layer.kernel)
    return kernels


def test_weight_decay_reaches_every_kernel_tower_kernels_included():
    """Two PaperSGD steps with zero gradients follow the paper's update on every kernel
    (v <- 0.9 v - wd lr w; w <- w + v), conv1..conv5's per-tower `kernel_0`/`kernel_1`
    included, and leave every bias as it was: the decayed variables are exactly the
    kernels (decay that silently stopped, e.g. after a rename, fails here)."""
    model = alexnet(num_classes=4, filters=(8, 16, 16, 16, 16), fc_units=32, initializer="he")
    kernels = model_kernels(model)
    assert len(kernels) == 5 * 2 + 3  # two towers in conv1..conv5, then fc6, fc7, fc8
    for name in ("conv1", "conv2", "conv3", "conv4", "conv5"):
        tower_kernels = model.get_layer(name).kernels
        assert [v.path.split("/")[-1] for v in tower_kernels] == ["kernel_0", "kernel_1"]
    variables = model.trainable_variables
    rng = np.random.default_rng(0)
    for v in variables:  # nonzero biases too, so that decaying them would show
        v.assign(rng.normal(0, 0.5, v.shape).astype("float32"))
    before = {v.path: v.numpy().astype(np.float64) for v in variables}

    lr, wd, momentum = 0.1, 0.05, 0.9
    opt = PaperSGD(learning_rate=lr, momentum=momentum, paper_weight_decay=wd)
    opt.build(variables)
    zeros = [np.zeros(v.shape, "float32") for v in variables]
    opt.apply_gradients(zip(zeros, variables))
    opt.apply_gradients(zip(zeros, variables))

    kernel_paths = {v.path for v in kernels}
    changed = {v.path for v in variables if not np.array_equal(v.numpy(), before[v.path])}
    assert changed == kernel_paths
    for v in variables:
        w0 = before[v.path]
        if v.path in kernel_paths:
            v1 = -wd * lr * w0
            w1 = w0 + v1
            w2 = w1 + momentum * v1 - wd * lr * w1
            np.testing.assert_allclose(v.numpy(), w2, rtol=1e-5, err_msg=v.path)
        else:
            np.testing.assert_array_equal(v.numpy(), w0, err_msg=v.path)


def small_model(lr):
    """A linear classifier without bias: on all-zero inputs its logits are 0 whatever it
    learns, so a validation set of zeros has a top-1 error that never improves."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, use_bias=False)])
    model.compile(optimizer=PaperSGD(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[TopKError(k=1, name="top1_error")])
    return model


def training_data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(32, 4)).astype("float32"), rng.integers(0, 3, 32)


def test_plateau_schedule_divides_the_rate_by_ten_in_model_fit():
    """Patience 1 and a validation error that cannot improve: epoch 0 sets the best,
    every later epoch is a plateau, so the rate is cut at the end of epochs 1 and 2 and
    then no more (max_reductions=2)."""
    keras.utils.set_random_seed(0)
    model = small_model(0.1)
    x, y = training_data()
    schedule = LearningRateSchedule(0.1, patience=1, max_reductions=2)
    used = []  # the rate each epoch trains with
    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: used.append(
        float(model.optimizer.learning_rate.numpy())))
    history = model.fit(x, y, batch_size=8, epochs=5, verbose=0,
                        validation_data=(np.zeros((6, 4), "float32"), np.array([0, 1, 2] * 2)),
                        callbacks=[schedule, record]).history
    assert len(set(history["val_top1_error"])) == 1  # the premise: no improvement ever
    assert len(set(history["loss"])) == 5  # while the model does train
    np.testing.assert_allclose(used, [0.1, 0.1, 0.01, 0.001, 0.001], rtol=1e-6)
    np.testing.assert_allclose(history["learning_rate"], used, rtol=1e-6)
    assert schedule.state["reductions"] == 2


def test_plateau_schedule_without_its_metric_fails_loudly():
    """No validation data, so no val_top1_error: the first epoch's end raises, naming the
    key and the keys there are, instead of training on without ever cutting the rate."""
    model = small_model(0.1)
    x, y = training_data()
    epochs = []
    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: epochs.append(e))
    with pytest.raises(ValueError, match=r"monitors 'val_top1_error', which is not in the "
                                         r"epoch's logs \(keys: .*loss.*top1_error"):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0,
                  callbacks=[LearningRateSchedule(0.1, patience=1), record])
    assert epochs == [0]
    # The step schedule does not monitor anything: it needs no validation data.
    model = small_model(0.1)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0,
                        callbacks=[LearningRateSchedule(0.1, boundaries=[1, 2])]).history
    np.testing.assert_allclose(history["learning_rate"], [0.1, 0.01, 0.001], rtol=1e-6)


# ---------------------------------------------------------------------------- end to end

def test_training_with_the_mean_image_subtracts_it(tmp_path):
    """augment.per_pixel_mean=True with a tools/compute_stats.py-style stats file of the
    run's own records: the run trains, and its model subtracts exactly that mean image."""
    from alexnet_tf import stats as S
    from alexnet_tf import train as T
    from alexnet_tf.export import load_run
    from test_train import tiny_config
    first = tmp_path / "first"
    T.train(tiny_config(epochs=1), str(first))  # builds the generated records
    stats = S.compute_stats(str(first / "data" / "train-*"))
    S.save_stats(str(tmp_path / "stats.npz"), stats)
    history = T.train(tiny_config(**{"epochs": 1, "augment.per_pixel_mean": True,
                                     "augment.stats": str(tmp_path / "stats.npz")}),
                      str(tmp_path / "run"))
    assert np.isfinite(history[-1]["loss"])
    run = load_run(str(tmp_path / "run"))
    weights = {w.path.split("/")[-1]: w.numpy() for w in run.model.preprocess.weights}
    mean = next(v for k, v in weights.items() if k.startswith("mean"))
    np.testing.assert_allclose(mean, stats["mean_image"], rtol=1e-6)
    assert mean.shape == (256, 256, 3) and mean.std() > 0


def test_training_from_an_image_folder_with_a_class_list(tmp_path):
    """data.source="folder": images read as they are, the class indices from data.classes
    (here the reverse of the folders' order), which the run's classes.txt keeps."""
    from alexnet_tf import data as D
    from alexnet_tf import train as T
    from images import write_tree
    from test_train import tiny_config
    wnids = ["n00000001", "n00000002", "n00000003", "n00000004"]
    for split in ("train", "val"):
        write_tree(tmp_path / split, classes=wnids, per_class=8 if split == "train" else 2,
                   odd=False)
    classes = tmp_path / "classes.txt"
    D.write_classes(str(classes), wnids[::-1], [f"class {w}" for w in wnids[::-1]])
    history = T.train(tiny_config(**{"epochs": 1, "data.source": "folder",
                                     "data.train": str(tmp_path / "train"),
                                     "data.validation": str(tmp_path / "val"),
                                     "data.classes": str(classes)}), str(tmp_path / "run"))
    assert np.isfinite(history[-1]["val_loss"])
    assert D.read_classes(str(tmp_path / "run" / "classes.txt")) == (
        wnids[::-1], [f"class {w}" for w in wnids[::-1]])
