"""The paper's optimizer, learning-rate schedule and error metric."""
import keras
import numpy as np
import pytest

from alexnet_tf.optim import LearningRateSchedule, PaperSGD, TopKError


def test_paper_sgd_two_steps_by_hand():
    """v <- 0.9 v - 0.0005 lr w - lr g;  w <- w + v  (Sec. 5), for kernels; biases are
    not decayed."""
    layer = keras.layers.Dense(2, name="fc")
    layer.build((None, 3))
    w0 = np.array([[0.5, -1.0], [2.0, 0.1], [-0.3, 0.7]], "float32")
    b0 = np.array([0.2, -0.4], "float32")
    layer.set_weights([w0, b0])
    opt = PaperSGD(learning_rate=0.1, momentum=0.9, paper_weight_decay=0.05)
    opt.build(layer.trainable_variables)
    grads = [(np.full((3, 2), 0.3, "float32"), np.array([1.0, -2.0], "float32")),
             (np.full((3, 2), -0.2, "float32"), np.array([0.5, 0.5], "float32"))]
    w, b, vw, vb = w0.astype(np.float64), b0.astype(np.float64), 0.0, 0.0
    for gw, gb in grads:
        opt.apply_gradients(zip([gw, gb], layer.trainable_variables))
        vw = 0.9 * vw - 0.05 * 0.1 * w - 0.1 * gw
        w = w + vw
        vb = 0.9 * vb - 0.1 * gb  # no decay on biases
        b = b + vb
        np.testing.assert_allclose(layer.kernel.numpy(), w, rtol=1e-6)
        np.testing.assert_allclose(layer.bias.numpy(), b, rtol=1e-6)
    # Unlike Keras' decoupled weight_decay, which would give a different kernel:
    keras_layer = keras.layers.Dense(2)
    keras_layer.build((None, 3))
    keras_layer.set_weights([w0, b0])
    keras_opt = keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=0.05)
    for gw, gb in grads:
        keras_opt.apply_gradients(zip([gw, gb], keras_layer.trainable_variables))
    assert np.abs(keras_layer.kernel.numpy() - w).max() > 1e-4


def test_paper_sgd_config_round_trip():
    opt = PaperSGD(0.02, momentum=0.8, paper_weight_decay=1e-3)
    again = PaperSGD.from_config(opt.get_config())
    assert again.paper_weight_decay == 1e-3 and again.momentum == 0.8


class FakeModel:
    def __init__(self, lr):
        self.optimizer = PaperSGD(lr)


def run_schedule(schedule, errors):
    schedule.set_model(FakeModel(schedule.base_lr))
    lrs = []
    for epoch, error in enumerate(errors):
        schedule.on_epoch_begin(epoch)
        logs = {"val_top1_error": error}
        schedule.on_epoch_end(epoch, logs)
        lrs.append(round(float(schedule.model.optimizer.learning_rate.numpy()), 8))
    return lrs


def test_plateau_divides_by_ten_after_patience():
    schedule = LearningRateSchedule(0.01, patience=2, max_reductions=2)
    lrs = run_schedule(schedule, [0.9, 0.8, 0.8, 0.81, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7])
    # Improvement at epochs 0, 1, 4; no improvement for 2 epochs after 1 (-> /10 at 3),
    # after 4 (-> /10 at 6); then max_reductions stops further cuts.
    assert lrs == [0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 0.0001, 0.0001, 0.0001, 0.0001]
    assert schedule.state["reductions"] == 2


def test_step_schedule():
    schedule = LearningRateSchedule(0.01, boundaries=[2, 4])
    assert run_schedule(schedule, [0.5] * 6) == [0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001]


def test_plateau_without_its_metric_raises_naming_the_keys():
    """A plateau schedule whose metric is missing from the logs (no validation data)
    cannot ever cut the rate: it raises instead of returning silently. The step
    schedule monitors nothing and needs no such key."""
    schedule = LearningRateSchedule(0.01, patience=2)
    schedule.set_model(FakeModel(0.01))
    with pytest.raises(ValueError, match=r"monitors 'val_top1_error', which is not in the "
                                         r"epoch's logs \(keys: learning_rate, loss, top1_error\)"):
        schedule.on_epoch_end(0, {"loss": 1.0, "top1_error": 0.5})
    step = LearningRateSchedule(0.01, boundaries=[1])
    assert run_schedule(step, [0.5, 0.5]) == [0.01, 0.001]
    step.on_epoch_end(2, {"loss": 1.0})


def test_top_k_error():
    metric = TopKError(k=2)
    metric.update_state([0, 1, 2], np.array([[0.5, 0.4, 0.1], [0.1, 0.2, 0.7],
                                             [0.3, 0.3, 0.4]], "float32"))
    # Sample 0: label 0 in top-2; 1: label 1 (0.2) in top-2 {2, 1}; 2: label 2 top-1.
    assert float(metric.result()) == pytest.approx(0.0)
    metric.update_state([0], np.array([[0.1, 0.5, 0.4]], "float32"))
    assert float(metric.result()) == pytest.approx(0.25)
