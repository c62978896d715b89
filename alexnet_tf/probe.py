"""Why a run does or does not learn: per-layer scales on one fixed batch, step by step.

`LayerProbe` (config `probe_every_steps`) measures the network on one fixed batch of
validation images (centre crop, dropout off) at step 0 and every N training steps, and
writes the records to the workdir (`RunDir.probe`), one per measurement:

    step, learning_rate, loss, top1_error      the batch's loss and error at that step
    layers: {name: {...}} for conv1..conv5, fc6..fc8 (and lrn1, lrn2 when present):
        act_rms        root mean square of the layer's output (after its ReLU or tanh)
        dead           the share of its units (channels of a conv layer) that are 0 for
                       every image and position of the batch (ReLU only)
        grad_rms       root mean square of the loss's gradient with respect to its kernel
        weight_rms     root mean square of its kernel
        update_ratio   learning_rate * grad_rms / weight_rms: how far one plain SGD step
                       moves the kernel, relative to its size (momentum multiplies it by
                       up to 10 in steady state)
        init_corr      conv1 only: the correlation of its kernel with its initial kernel
                       (`RunDir.conv1_init`; 1: it has not moved)
        divisor        lrn1, lrn2 only: the median of d / k ** beta over the non-zero
                       activations (1: the layer is a constant factor, see
                       `LocalResponseNormalization.denominator`)

These are the quantities behind a stalled start: vanishing activations or gradients with
depth, dead ReLUs, a conv1 that never leaves its random start, LRN that does nothing.
`plateau_steps` reads the loss plateau's length from the records.
"""
import math
import os

import keras
import numpy as np
import tensorflow as tf

from alexnet_tf.files import read_json, write_json
from alexnet_tf.layers import LocalResponseNormalization
from alexnet_tf.rundir import RunDir

LAYERS = ("conv1", "lrn1", "conv2", "lrn2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")


def conv1_kernel(classifier):
    """conv1's kernel as one float32 array `[kh, kw, 3, n]`, the towers side by side."""
    return np.concatenate(classifier.conv1_kernels(), axis=-1).astype(np.float32)


def correlation(a, b):
    """Pearson's correlation of two arrays of the same shape, over all their entries."""
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / math.sqrt((a @ a) * (b @ b)))


def save_conv1_init(classifier, workdir):
    """Writes conv1's kernel, the towers' kernels side by side, to the workdir
    (`RunDir.conv1_init`; call at step 0, before training)."""
    path = RunDir(workdir).conv1_init
    tmp = path + ".tmp.npy"
    np.save(tmp, conv1_kernel(classifier))
    os.replace(tmp, path)


def load_conv1_init(workdir):
    """The kernel `save_conv1_init` wrote, or None if the run has none."""
    path = RunDir(workdir).conv1_init
    return np.load(path) if os.path.exists(path) else None


def plateau_steps(records, num_classes, margin=0.2):
    """The first probed step whose loss is below ln(num_classes) - `margin` (a net that
    gives every class the same probability has loss ln C), or None if no record is: how
    long the run sat on its starting plateau, to the probe's resolution."""
    for r in records:
        if r["loss"] < math.log(num_classes) - margin:
            return r["step"]
    return None


def _rms(x):
    return float(tf.sqrt(tf.reduce_mean(tf.square(tf.cast(x, tf.float32)))))


class LayerProbe(keras.callbacks.Callback):
    """Measures the model (a `Classifier`) on `images`, `labels` (one batch) at step 0 and
    every `every` steps, rewriting the workdir's `RunDir.probe` after each measurement (see the
    module docstring). On a resumed run the records after the restored step are
    dropped first, so the file matches an uninterrupted run's step for step."""

    def __init__(self, images, labels, every, workdir, first_step):
        super().__init__()
        self.images, self.labels, self.every = images, labels, int(every)
        self.path = RunDir(workdir).probe
        self.init = load_conv1_init(workdir)
        self.records = [r for r in read_json(self.path, []) if r["step"] <= first_step]
        self.first_step = first_step

    def on_train_begin(self, logs=None):
        net = self.model.net
        self.layers = [net.get_layer(n) for n in LAYERS if n in {l.name for l in net.layers}]
        # The net's output (the logits) last, whatever layers it has.
        self.outputs = keras.Model(net.input, [l.output for l in self.layers] + [net.output])
        self.loss_scale = 2.0 ** 15 if net.dtype_policy.compute_dtype == "float16" else 1.0
        self.lrn_inputs = {l.name: net.get_layer("conv" + l.name[-1]) for l in self.layers
                           if isinstance(l, LocalResponseNormalization)}
        if self.first_step == 0 and not self.records:
            self.measure(0)

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.every == 0:
            self.measure(step)

    def measure(self, step):
        x = self.model.preprocess(self.images, training=False)
        with tf.GradientTape() as tape:
            outs = self.outputs(x, training=False)
            logits = tf.cast(outs[-1], tf.float32)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                self.labels, logits, from_logits=True))
            scaled = loss * self.loss_scale  # float16: small gradients would flush to 0
        weighted = [l for l in self.layers if hasattr(l, "kernel") or hasattr(l, "kernels")]
        kernels = [self._kernels(l) for l in weighted]
        grads = [tf.cast(g, tf.float32) / self.loss_scale
                 for g in tape.gradient(scaled, [k for ks in kernels for k in ks])]
        lr = float(self.model.optimizer.learning_rate.numpy())
        layers, i = {}, 0
        by_name = dict(zip([l.name for l in self.layers], outs))
        for layer, out in zip(self.layers, outs[:len(self.layers)]):
            stats = {"act_rms": _rms(out)}
            if getattr(layer, "activation", None) is keras.activations.relu:
                alive = tf.reduce_any(tf.reshape(tf.cast(out, tf.float32) > 0,
                                                 [-1, out.shape[-1]]), axis=0)
                stats["dead"] = 1.0 - float(tf.reduce_mean(tf.cast(alive, tf.float32)))
            if isinstance(layer, LocalResponseNormalization):
                a = tf.cast(by_name[self.lrn_inputs[layer.name].name], tf.float32)
                d = tf.boolean_mask(layer.denominator(a) / layer.k ** layer.beta, a > 0)
                # None when every input is 0 (a dead layer): nothing is normalized
                stats["divisor"] = float(np.median(d.numpy())) if d.shape[0] else None
            layers[layer.name] = stats
        for layer, ks in zip(weighted, kernels):
            g = grads[i:i + len(ks)]
            i += len(ks)
            g_rms = math.sqrt(np.mean([_rms(t) ** 2 for t in g]))
            w_rms = math.sqrt(np.mean([_rms(k) ** 2 for k in ks]))
            layers[layer.name].update(grad_rms=g_rms, weight_rms=w_rms,
                                      update_ratio=lr * g_rms / w_rms)
        if self.init is not None and "conv1" in layers:
            layers["conv1"]["init_corr"] = correlation(conv1_kernel(self.model), self.init)
        top1 = float(tf.reduce_mean(tf.cast(
            tf.argmax(logits, -1) != tf.cast(self.labels, tf.int64), tf.float32)))
        self.records.append({"step": step, "learning_rate": lr, "loss": float(loss),
                             "top1_error": top1, "layers": layers})
        write_json(self.path, self.records)

    @staticmethod
    def _kernels(layer):
        return list(layer.kernels) if hasattr(layer, "kernels") else [layer.kernel]
