"""The paper's optimizer, learning-rate schedule and error metric."""
import json

import keras
import numpy as np
import pytest

from alexnet_tf import config as C
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


def test_the_plateau_after_the_last_cut_ends_the_run():
    """end_at_plateau (Sec. 5: "reduced three times prior to termination"): after its
    max_reductions cuts the next plateau ends the run (stop_training, `stopped` in the
    logs); without it the run goes on at the last rate."""
    errors = [0.9, 0.8, 0.8, 0.81, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
    for end, stops_at in ((True, 8), (False, None)):
        schedule = LearningRateSchedule(0.01, patience=2, max_reductions=2, end_at_plateau=end)
        schedule.set_model(FakeModel(0.01))
        schedule.model.stop_training = False
        stopped = None
        for epoch, error in enumerate(errors):
            schedule.on_epoch_begin(epoch)
            logs = {"val_top1_error": error}
            schedule.on_epoch_end(epoch, logs)
            if schedule.model.stop_training:
                assert logs[C.STOPPED] == C.STOPPED_AT_PLATEAU
                on, off = ({"optimizer": {"end_at_plateau": v}} for v in (True, False))
                assert C.stopped_early(on, [logs]) and not C.stopped_early(off, [logs])
                stopped = epoch
                break
        # cuts after epochs 3 and 6 (as above), then 2 epochs without improvement: 8
        assert stopped == stops_at and schedule.state["reductions"] == 2


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


def test_plateau_window_ignores_one_lucky_epoch():
    """A synthetic validation curve like Study B's: falling fast to 0.32 by epoch 8, then
    slowly (0.35 points an epoch) to 0.26 at epoch 26, then flat, with noise of +-0.5
    points and one lucky epoch (11) 4 points below the trend (about 2 standard deviations
    of Study B's epoch-to-epoch noise). Watching the last epoch alone (window 1,
    patience 3) cuts the rate three epochs after the lucky one, while the error is still
    falling; the mean of 5 epochs with patience 5 and a minimum improvement of 0.5
    points (configs/imagenette.py's rule) does not cut before the fall ends, and cuts on
    the plateau after it."""
    rng = np.random.default_rng(0)
    trend = list(np.linspace(0.8, 0.32, 8)) + list(np.linspace(0.32, 0.26, 18)) + [0.26] * 14
    errors = [e + rng.uniform(-0.005, 0.005) for e in trend]
    errors[10] -= 0.04
    single = run_schedule(LearningRateSchedule(0.01, patience=3), errors)
    assert single.index(0.001) == 13  # 3 epochs after the lucky one, mid-fall
    windowed = run_schedule(LearningRateSchedule(0.01, patience=5, window=5, min_delta=0.005),
                            errors)
    assert 0.001 in windowed and windowed.index(0.001) >= 26


def test_plateau_window_state_resumes():
    """The window's recent values are part of the schedule's state (saved in the
    checkpoint as JSON): a schedule given the state of another continues it exactly."""
    errors = [0.9, 0.7, 0.6, 0.6, 0.61, 0.6, 0.62, 0.6, 0.6, 0.6]
    whole = LearningRateSchedule(0.01, patience=2, window=3)
    whole_lrs = run_schedule(whole, errors)
    first = LearningRateSchedule(0.01, patience=2, window=3)
    run_schedule(first, errors[:5])
    second = LearningRateSchedule(0.01, patience=2, window=3)
    second.state = json.loads(json.dumps(first.state))
    second.set_model(FakeModel(0.01))
    second.model.optimizer.learning_rate.assign(first.scheduled_lr(4))
    lrs = []
    for epoch, error in enumerate(errors[5:], start=5):
        second.on_epoch_begin(epoch)
        second.on_epoch_end(epoch, {"val_top1_error": error})
        lrs.append(round(float(second.model.optimizer.learning_rate.numpy()), 8))
    assert lrs == whole_lrs[5:]


def test_warmup_ramps_by_step_and_resumes_the_same():
    """Warm-up over 4 steps: steps 0..3 take 1/4..4/4 of the rate, later steps the
    scheduled rate; a schedule made afresh at step 2 (a resume) gives the same rates."""
    def rates(start, n):
        schedule = LearningRateSchedule(0.01, boundaries=[100], warmup_steps=4)
        schedule.set_model(FakeModel(0.01))
        opt = schedule.model.optimizer
        opt.iterations.assign(start)
        schedule.on_epoch_begin(0)
        out = []
        for batch in range(n):
            schedule.on_train_batch_begin(batch)
            out.append(round(float(opt.learning_rate.numpy()), 8))
            opt.iterations.assign_add(1)
        return out
    assert rates(0, 6) == [0.0025, 0.005, 0.0075, 0.01, 0.01, 0.01]
    assert rates(2, 4) == [0.0075, 0.01, 0.01, 0.01]
