"""TensorBoard logs of a configs/tiny.py run, read back with TensorBoard's own loader:
tags per plugin, their steps, image sizes, step-level scalars, HParams."""
import os

import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from alexnet_tf import monitor
from alexnet_tf import train as T
from test_train import tiny_config

EPOCHS, STEPS, EVERY = 2, 4, 2  # tiny: 32 images, batches of 8
EPOCH_ENDS = [STEPS * (e + 1) for e in range(EPOCHS)]
WEIGHTS = {f"weights/conv{i}/tower_{t}/{v}" for i in range(1, 6) for t in "ab"
           for v in ("kernel", "bias")} | {f"weights/fc{i}/{v}" for i in (6, 7, 8)
                                           for v in ("kernel", "bias")}


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """A 2-epoch tiny run's ({run: {plugin: {tag: [steps]}}}, {run: EventAccumulator},
    workdir)."""
    workdir = tmp_path_factory.mktemp("tb")
    T.train(tiny_config(epochs=EPOCHS, log_every_steps=EVERY), str(workdir))
    runs, accumulators = {}, {}
    for run in ("train", "validation"):
        acc = EventAccumulator(str(workdir / "logs" / run), size_guidance={"tensors": 0})
        acc.Reload()
        accumulators[run] = acc
        for tag in acc.Tags()["tensors"]:  # TF2 summaries are all tensors, by plugin
            plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
            runs.setdefault(run, {}).setdefault(plugin, {})[tag] = \
                [e.step for e in acc.Tensors(tag)]
    return runs, accumulators, workdir


def test_two_runs_only(logs):
    _, _, workdir = logs
    # No run of their own for the images or the hyperparameters.
    assert sorted(os.listdir(workdir / "logs")) == ["train", "validation"]


def test_scalars_per_epoch_and_every_n_steps_at_the_global_step(logs):
    runs, accumulators, _ = logs
    train, validation = runs["train"]["scalars"], runs["validation"]["scalars"]
    epoch = {"epoch/loss", "epoch/top1_error", "epoch/learning_rate"}
    step = {"step/loss", "step/top1_error", "step/learning_rate"}
    time = {"time/epoch_seconds", "time/validation_seconds", "time/images_per_second"}
    assert set(train) == epoch | step | time
    assert set(validation) == {"epoch/loss", "epoch/top1_error"}
    for tag in epoch | time:
        assert train[tag] == EPOCH_ENDS, tag
    for tag in validation:
        assert validation[tag] == EPOCH_ENDS, tag
    for tag in step:
        assert train[tag] == list(range(EVERY, STEPS * EPOCHS + 1, EVERY)), tag

    # A step-level point is the mean over its steps: two of them make an epoch's mean.
    def values(tag):
        return [float(tf.make_ndarray(e.tensor_proto)) for e in
                accumulators["train"].Tensors(tag)]
    step_loss, epoch_loss = values("step/loss"), values("epoch/loss")
    for e in range(EPOCHS):
        assert sum(step_loss[2 * e:2 * e + 2]) / 2 == pytest.approx(epoch_loss[e], rel=1e-5)
    seconds = zip(values("time/epoch_seconds"), values("time/validation_seconds"))
    assert all(0 < validation < epoch for epoch, validation in seconds)


def test_histograms_of_trained_weights_only_named_by_tower(logs):
    runs, _, _ = logs
    histograms = runs["train"]["histograms"]
    assert set(histograms) == WEIGHTS  # no augment/mean, eigvals, eigvecs, no RNG states
    assert all(steps == [0] + EPOCH_ENDS for steps in histograms.values())


def test_conv1_image_before_training_and_at_each_epoch_end_upscaled(logs):
    runs, accumulators, _ = logs
    assert runs["train"]["images"] == {"weights/conv1/kernels": [0] + EPOCH_ENDS}
    width, height, png = accumulators["train"].Tensors("weights/conv1/kernels")[0] \
        .tensor_proto.string_val
    image = tf.io.decode_png(png).numpy()
    # tiny: 4 kernels of 11x11 per tower in one row (1-pixel gaps: 13 x 49 pixels), tower a
    # above tower b with a 2-pixel separator, every pixel shown as 4x4.
    assert image.shape == (int(height), int(width), 3) == (4 * (13 + 2 + 13), 4 * 49, 3)
    kernel = image[4:4 + 44, 4:4 + 44]  # tower a's first kernel: 44x44, nearest neighbour
    assert (kernel == kernel[::4, ::4].repeat(4, axis=0).repeat(4, axis=1)).all()
    assert kernel.std() > 0


def test_graph_text_and_hparams(logs):
    runs, accumulators, _ = logs
    # The forward pass, layers as name scopes, each tower's convolution an op of its own.
    ops = {node.name: node.op for node in accumulators["train"].Graph().node}
    conv1 = sorted(name for name, op in ops.items() if op == "Conv2D" and "/conv1" in name)
    assert len(conv1) == 2, conv1
    assert runs["train"]["text"] == {"model": [0], "config": [0]}
    model = accumulators["train"].Tensors("model")[0].tensor_proto.string_val[0].decode()
    assert "conv1" in model and "fc8" in model and "total" in model

    # The HParams session is validation/, whose scalars are its metrics.
    assert runs["validation"]["hparams"] == {"_hparams_/session_start_info": [0]}
    content = accumulators["validation"].SummaryMetadata("_hparams_/session_start_info") \
        .plugin_data.content
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["batch_size"].number_value == 8
    assert hparams["data.source"].string_value == "generated"
    assert hparams["model.filters"].string_value == "(8, 16, 16, 16, 16)"
    assert "data.classes" not in hparams  # an unset placeholder


def test_weight_tags_name_towers_like_the_readme():
    model = T.training_model(tiny_config())
    tags = monitor.weight_tags(model.net)
    assert set(tags) == WEIGHTS
    assert tags["weights/conv2/tower_b/kernel"] is model.layer("conv2").kernels[1]
    one_tower = monitor.weight_tags(T.training_model(tiny_config(**{"model.towers": 1})).net)
    assert "weights/conv1/kernel" in one_tower and len(one_tower) == 16


def test_a_resumed_run_continues_at_the_global_step(tmp_path):
    T.train(tiny_config(epochs=1), str(tmp_path))
    T.train(tiny_config(epochs=2), str(tmp_path))  # resumes at step 4 for the second epoch
    train = EventAccumulator(str(tmp_path / "logs" / "train"), size_guidance={"tensors": 0})
    train.Reload()

    def steps(tag):
        return [e.step for e in train.Tensors(tag)]
    assert steps("epoch/loss") == [4, 8]
    assert steps("weights/conv1/kernels") == steps("weights/fc8/kernel") == [0, 4, 8]
    assert steps("config") == [0, 4]  # what the resumed run was given


def test_histogram_counts_in_one_pass_like_tf_summary_histogram(tmp_path):
    """`monitor.histogram` writes what `tf.summary.histogram` writes (a [30, 3] tensor of
    edges and counts, read by TensorBoard's histogram plugin), counted in one pass rather
    than through a [values, 30] one-hot matrix (gigabytes for fc6)."""
    import numpy as np
    values = np.random.default_rng(0).normal(size=(300, 7)).astype("float32")
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default(step=3):
        monitor.histogram("ours", values)
        tf.summary.histogram("tf", values)
        monitor.histogram("constant", np.full(5, 2.0))
        monitor.histogram("diverged", np.array([1.0, np.nan, np.inf, -np.inf, 3.0]))
        monitor.histogram("all nan", np.full(3, np.nan))
    writer.flush()
    acc = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    acc.Reload()
    ours, theirs = (tf.make_ndarray(acc.Tensors(t)[0].tensor_proto) for t in ("ours", "tf"))
    assert acc.SummaryMetadata("ours").plugin_data.plugin_name == "histograms"
    assert ours.shape == (30, 3) and ours[:, 2].sum() == values.size
    counts, edges = np.histogram(values.astype("float64"), 30)
    np.testing.assert_allclose(ours[:, 0], edges[:-1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours[:, 1], edges[1:], rtol=1e-12, atol=1e-12)
    # Values on a bucket edge may land on either side, so counts agree to one per bucket.
    assert np.abs(ours[:, 2] - counts).max() <= 1
    np.testing.assert_allclose(ours[:, :2], theirs[:, :2], rtol=1e-6)
    constant = tf.make_ndarray(acc.Tensors("constant")[0].tensor_proto)
    assert constant[:, 2].sum() == 5 and constant[0, 0] == 1.5 and constant[-1, 1] == 2.5
    diverged = tf.make_ndarray(acc.Tensors("diverged")[0].tensor_proto)
    assert diverged[:, 2].sum() == 2 and diverged[0, 0] == 1 and diverged[-1, 1] == 3
    assert tf.make_ndarray(acc.Tensors("all nan")[0].tensor_proto)[:, 2].sum() == 0
