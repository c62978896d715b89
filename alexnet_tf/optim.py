"""The paper's optimizer, learning-rate schedule and error measure (Sec. 5, Sec. 1).

* `PaperSGD`: SGD with momentum 0.9 and weight decay 5e-4 inside the momentum update.
* `LearningRateSchedule`: divide the learning rate by 10 when the validation error stops
  improving (or at fixed epochs).
* `TopKError`: the top-1 / top-5 error rates the paper reports.
"""
import keras
import tensorflow as tf

from alexnet_tf.config import STOPPED, STOPPED_AT_PLATEAU


@keras.saving.register_keras_serializable(package="alexnet_tf")
class PaperSGD(keras.optimizers.SGD):
    """SGD with momentum and the paper's weight decay (Sec. 5):

        v <- momentum * v - weight_decay * lr * w - lr * grad
        w <- w + v

    The decay enters the momentum (it is added to the gradient), unlike Keras'
    `weight_decay`, which is decoupled. Kernels (variables named `kernel*`) are decayed;
    biases are not, as in cuda-convnet's ImageNet layer definitions, whose weight-cost
    applies to weights only.

    `lr_multipliers` (not in the paper; fine-tuning, `alexnet_tf.finetune`): `{layer name:
    m}` multiplies the learning rate of that layer's variables by m, decay included, as
    Caffe's `lr_mult` does.
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, paper_weight_decay=5e-4,
                 lr_multipliers=None, **kwargs):
        super().__init__(learning_rate=learning_rate, momentum=momentum, **kwargs)
        self.paper_weight_decay = float(paper_weight_decay)
        self.lr_multipliers = dict(lr_multipliers or {})

    def build(self, var_list):
        super().build(var_list)
        self._decayed = [v.path.split("/")[-1].startswith("kernel") for v in var_list]
        # A variable's path starts with its layer's name ("fc8/kernel").
        self._multipliers = [self.lr_multipliers.get(v.path.split("/")[0], 1.0)
                             for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        # `_get_variable_index` is how Keras' own SGD finds a variable's slot; no public
        # API maps a variable to its position in `build`'s list.
        index = self._get_variable_index(variable)
        if self.paper_weight_decay and self._decayed[index]:
            gradient = gradient + tf.cast(self.paper_weight_decay, gradient.dtype) * \
                tf.cast(variable, gradient.dtype)
        if self._multipliers[index] != 1.0:
            gradient = gradient * tf.cast(self._multipliers[index], gradient.dtype)
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "paper_weight_decay": self.paper_weight_decay,
                "lr_multipliers": self.lr_multipliers}


@keras.saving.register_keras_serializable(package="alexnet_tf")
class TopKError(keras.metrics.SparseTopKCategoricalAccuracy):
    """Top-k error rate (1 - top-k accuracy), the paper's measure (Sec. 1, Table 1)."""

    def result(self):
        return 1.0 - super().result()


def top_k(num_classes):
    """The k of the error reported beside the top-1 error: the paper's 5 (Table 1), or the
    number of classes when there are fewer (every label is then among the top k)."""
    return min(5, num_classes)


def top_k_key(num_classes):
    """The name of that error in metrics and results: "top5_error" ("top4_error" ...)."""
    return f"top{top_k(num_classes)}_error"


def _set_lr(optimizer, value):
    optimizer.learning_rate.assign(value)


class LearningRateSchedule(keras.callbacks.Callback):
    """Multiplies the learning rate by `factor` (0.1: the paper divides it by 10) when the
    validation top-1 error stops improving
    (Sec. 5: "when the validation error rate stopped improving with the current learning
    rate"), after `patience` epochs without improvement; or, with `boundaries`, at fixed
    epochs. With `warmup_steps` (not in the paper), the rate ramps up linearly over the
    first steps. With `window` > 1 (not in the paper, which does not say how it judged
    "stopped improving"), the plateau rule watches the mean of the last `window` epochs'
    validation error instead of the last one's, so that validation noise cannot trip it:
    a cut needs `patience` epochs in which that mean did not beat its best by `min_delta`.
    Epochs that end during the warm-up are averaged but not judged. With `end_at_plateau`,
    the first plateau after the last of `max_reductions` cuts ends the run (Sec. 5: the
    rate was "reduced three times prior to termination"): it sets the model's
    `stop_training` and `config.STOPPED` = `STOPPED_AT_PLATEAU` in the epoch's logs (so in
    the run's history, where `config.stopped_early` reads it). Its state is saved in
    our checkpoints, unlike Keras' ReduceLROnPlateau.
    The plateau schedule raises `ValueError` at the end of an epoch whose logs lack
    `monitor` (e.g. no validation data), rather than never reducing the rate."""

    def __init__(self, base_lr, factor=0.1, patience=5, min_delta=0.0, max_reductions=None,
                 boundaries=None, monitor="val_top1_error", warmup_steps=0, window=1,
                 end_at_plateau=False):
        super().__init__()
        self.end_at_plateau = end_at_plateau
        self.base_lr, self.factor, self.patience = base_lr, factor, patience
        self.min_delta, self.max_reductions, self.monitor = min_delta, max_reductions, monitor
        self.boundaries = sorted(boundaries) if boundaries else None
        self.warmup_steps, self.window = int(warmup_steps), int(window)
        self.state = {"best": None, "wait": 0, "reductions": 0, "recent": []}

    def scheduled_lr(self, epoch):
        """The rate of `epoch` before any warm-up: the base rate times `factor` once per
        boundary passed (step schedule) or per reduction made (plateau)."""
        if self.boundaries is not None:
            return self.base_lr * self.factor ** sum(epoch >= b for b in self.boundaries)
        return self.base_lr * self.factor ** self.state["reductions"]

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if self.boundaries is not None:  # step schedule
            _set_lr(self.model.optimizer, self.scheduled_lr(epoch))

    def on_train_batch_begin(self, batch, logs=None):
        # Warm-up (not in the paper): the rate of step t (0-based) is the scheduled rate
        # times (t + 1) / warmup_steps until t = warmup_steps, a function of the step alone,
        # so a resumed run takes the same rates. Read from the optimizer only in warm-up.
        if self.warmup_steps and not getattr(self, "warm", False):
            step = int(self.model.optimizer.iterations.numpy())
            self.warm = step >= self.warmup_steps
            _set_lr(self.model.optimizer, self.scheduled_lr(self.epoch)
                    * min(1.0, (step + 1) / self.warmup_steps))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())
        if self.boundaries is not None:
            return
        if self.monitor not in logs:
            raise ValueError(
                f"LearningRateSchedule: the plateau schedule monitors {self.monitor!r}, which "
                f"is not in the epoch's logs (keys: {', '.join(sorted(logs)) or 'none'}); "
                f"it needs validation data and a metric of that name")
        s = self.state
        # The mean of the last `window` epochs (fewer at the start): one lucky epoch moves
        # it by 1/window of its luck, so it cannot set a best that the next epochs miss.
        s["recent"] = (s.get("recent", []) + [float(logs[self.monitor])])[-self.window:]
        if self.warmup_steps and not getattr(self, "warm", False):
            return  # still warming up: the rate has not reached the one being judged
        value = sum(s["recent"]) / len(s["recent"])
        if s["best"] is None or value < s["best"] - self.min_delta:
            s["best"], s["wait"] = value, 0
            return
        s["wait"] += 1
        last_cut_made = (self.max_reductions is not None
                         and s["reductions"] >= self.max_reductions)
        if s["wait"] >= self.patience and last_cut_made and self.end_at_plateau:
            logs[STOPPED] = STOPPED_AT_PLATEAU
            self.model.stop_training = True
            print(f"\nEpoch {epoch + 1}: {self.monitor} has not improved for "
                  f"{self.patience} epochs after the last of {self.max_reductions} "
                  f"learning-rate cuts: the run ends here")
        elif s["wait"] >= self.patience and not last_cut_made:
            s["wait"], s["reductions"] = 0, s["reductions"] + 1
            new_lr = self.scheduled_lr(epoch)
            _set_lr(self.model.optimizer, new_lr)
            print(f"\nEpoch {epoch + 1}: {self.monitor} has not improved for "
                  f"{self.patience} epochs; learning rate -> {new_lr:.3g}")


def paper_schedule(o, steps_per_epoch):
    """The `LearningRateSchedule` of a config's `optimizer` fields `o`, for epochs of
    `steps_per_epoch` steps."""
    return LearningRateSchedule(
        o.learning_rate, factor=o.lr_factor, patience=o.plateau_patience,
        min_delta=o.plateau_min_delta, window=o.plateau_window, max_reductions=o.max_reductions,
        boundaries=list(o.step_epochs) if o.schedule == "step" else None,
        warmup_steps=round(o.warmup_epochs * steps_per_epoch),
        end_at_plateau=o.get("end_at_plateau", False))
