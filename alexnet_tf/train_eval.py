"""The training error of the paper's Fig. 1, measured as a test is: the net in inference
mode (no dropout, centre crop, no augmentation) on a fixed sample of training images,
after every epoch.

The running `top1_error` that `fit` logs is something else: the mean over an epoch's
steps of the error of a net that changes at every step, in training mode (random crops,
flips, dropout), and for Fig. 1's question, "when does the net reach 25 % training
error?", it lags by about half an epoch and mixes in the augmentation. `TrainEval` adds
`train_eval_top1_error` to each epoch's logs (so to the run's history and TensorBoard, when it
comes before `HistoryWriter` and the TensorBoard callbacks in the list `fit` is given):
the error of the weights at the epoch's end on the first `config.train_eval_examples`
training images in the built shards' order (which the builder shuffled, so a sample of
every class), the same images every epoch, decoded once and kept in memory.

    sample = d.train_sample(config.train_eval_examples, config.batch_size)
    callbacks = [..., TrainEval(sample), HistoryWriter(...), ...]
"""
import keras
import tensorflow as tf

from alexnet_tf.config import (STOPPED, STOPPED_BY_TRAIN_EVAL, TRAIN_EVAL_KEY as KEY,
                               stopped_early)


class TrainEval(keras.callbacks.Callback):
    """Adds `train_eval_top1_error` (a fraction) to each epoch's logs: the top-1 error of
    the model called with `training=False` on `sample`, a dataset of `(uint8 images, int
    labels)` batches, the same every epoch (cached in memory after its first pass). With
    `stop` > 0 (config.train_eval_stop), ends training after the first epoch whose error
    is at or below it (`stopped` then True)."""

    def __init__(self, sample, stop=0.0):
        super().__init__()
        self.sample = sample.cache()
        self.stop = stop
        self.stopped = False
        self._wrong = None

    def error(self):
        """The model's top-1 error on the sample now, and the number of images."""
        if self._wrong is None:
            model = self.model

            @tf.function(reduce_retracing=True)
            def wrong(images, labels):
                logits = model(images, training=False)
                predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
                return tf.reduce_sum(tf.cast(predicted != tf.cast(labels, tf.int32),
                                             tf.int64))
            self._wrong = wrong
        errors = images = 0
        for x, y in self.sample:
            errors += int(self._wrong(x, y))
            images += int(y.shape[0])
        if not images:
            raise ValueError("train_eval: the sample of training images is empty")
        return errors / images, images

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[KEY] = self.error()[0]
            if stopped_early({"train_eval_stop": self.stop}, [logs]):
                logs[STOPPED] = STOPPED_BY_TRAIN_EVAL
                self.stopped = self.model.stop_training = True
