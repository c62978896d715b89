"""Training end to end with configs/tiny.py: each strategy, TensorBoard, exact resume
after SIGKILL, divergence, and the saved models."""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf import checkpoint
from alexnet_tf import config as C
from alexnet_tf import train as T
from configs import tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, "tools", "train.py")
TINY = os.path.join(ROOT, "configs", "tiny.py")
# Augmentation and dropout draw random numbers per replica under tf.distribute, so
# strategies are compared with them off: the trajectories then differ only by the
# order of floating-point sums (XLA vs not, all-reduce vs one device).
# A small learning rate keeps the dynamics smooth, so those differences stay small.
DETERMINISTIC = {"augment.enabled": False, "model.dropout": 0.0, "optimizer.learning_rate": 1e-3}
TOLERANCE = dict(rtol=2e-3, atol=1e-4)


def tiny_config(**overrides):
    """configs/tiny.py with overrides given as {"field.subfield": value}."""
    config = tiny.get_config()
    for key, value in overrides.items():
        *parents, leaf = key.split(".")
        node = config
        for p in parents:
            node = node[p]
        node[leaf] = value
    return config


def run_tool(*args, env=None, check=True):
    run = subprocess.run([sys.executable, TRAIN, *args], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=600)
    if check:
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


def losses(history):
    return np.array([[h["loss"], h["val_loss"]] for h in history])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The single-device run every strategy is compared with (its data is reused)."""
    workdir = tmp_path_factory.mktemp("default")
    # With XLA, as on an accelerator: the strategies below run without it.
    history = T.train(tiny_config(jit_compile="true", **DETERMINISTIC), str(workdir))
    return workdir, history


def test_default_run_leaves_everything_a_user_needs(reference):
    workdir, history = reference
    assert [h["epoch"] for h in history] == [0, 1]
    for key in ("loss", "top1_error", "val_loss", "val_top1_error", "learning_rate",
                "images_per_second"):
        assert all(np.isfinite(h[key]) for h in history), key
    assert json.load(open(workdir / "history.json")) == history
    model = keras.saving.load_model(workdir / "model.keras", safe_mode=True)
    images = np.random.default_rng(0).integers(0, 256, (2, 256, 256, 3), dtype=np.uint8)
    assert model.predict(images, verbose=0).shape == (2, 4)
    served = tf.saved_model.load(str(workdir / "saved_model"))
    assert set(served.signatures) == {"serving_default", "serve_images"}
    # TensorBoard: train and validation runs only; scalars, weight histograms by tower, conv1 kernels.
    tags = {}
    for event_file in glob.glob(str(workdir / "logs" / "**" / "events.*"), recursive=True):
        kind = os.path.relpath(event_file, workdir / "logs").split(os.sep)[0]
        for event in tf.compat.v1.train.summary_iterator(event_file):
            for value in event.summary.value:
                tags.setdefault(kind, set()).add(value.tag)
    assert {"epoch/loss", "epoch/top1_error", "epoch/learning_rate",
            "time/images_per_second"} <= tags["train"]
    assert {"epoch/loss", "epoch/top1_error"} <= tags["validation"]
    assert "weights/conv1/tower_a/kernel" in tags["train"]
    assert "weights/conv1/kernels" in tags["train"] and set(tags) == {"train", "validation"}
    # Standard TF checkpoints: TF's own tools read them, variables named by model path.
    latest = checkpoint.latest(str(workdir / "checkpoints"))
    assert checkpoint.read(latest)[1]["epoch"] == 2
    names = dict(tf.train.list_variables(latest))
    conv2 = "model/alexnet.Sconv2.Skernel_1/.ATTRIBUTES/VARIABLE_VALUE"
    assert names[conv2] == [5, 5, 4, 8]
    assert "optimizer/momentum.Salexnet.Sconv2.Skernel_1/.ATTRIBUTES/VARIABLE_VALUE" in names
    assert "model/augment.Sseed_generator_state/.ATTRIBUTES/VARIABLE_VALUE" in names


def test_towers_strategy_matches_one_device(reference, tmp_path):
    history = T.train(tiny_config(strategy="towers", **DETERMINISTIC), str(tmp_path))
    np.testing.assert_allclose(losses(history), losses(reference[1]), **TOLERANCE)
    model = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    conv2 = model.layer("conv2")
    assert conv2.devices == ("/device:CPU:0", "/device:CPU:1")


def test_mirrored_strategy_matches_one_device(reference, tmp_path):
    history = T.train(tiny_config(strategy="mirrored", **DETERMINISTIC), str(tmp_path))
    np.testing.assert_allclose(losses(history), losses(reference[1]), **TOLERANCE)


def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_multi_worker_two_processes_match_one_device(reference, tmp_path):
    workdir, ref_history = reference
    ports = [free_port(), free_port()]
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    args = ["--config", TINY, "--workdir", str(tmp_path), "--config.strategy=multi_worker",
            "--config.augment.enabled=False", "--config.model.dropout=0.0",
            "--config.optimizer.learning_rate=1e-3",
            "--config.data.source=tfrecord", f"--config.data.train={workdir}/data/train-*",
            f"--config.data.validation={workdir}/data/validation-*"]
    procs = [subprocess.Popen([sys.executable, TRAIN, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "TF_CONFIG": json.dumps(
                                  {"cluster": cluster, "task": {"type": "worker", "index": i}})})
             for i in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
    # data.shard_policy "auto" (the default): one file, fewer than workers, is read by data.
    assert ("sharding over 2 workers (data.shard_policy auto): training by data (1 file for "
            "2 workers), validation by data") in outputs[0]
    history = json.load(open(tmp_path / "history.json"))
    np.testing.assert_allclose(losses(history), losses(ref_history), **TOLERANCE)
    # Only the chief writes the model, logs and checkpoints to the workdir.
    assert (tmp_path / "model.keras").exists() and (tmp_path / "logs").exists()
    assert not (tmp_path / ".worker-1" / "model.keras").exists()
    assert not (tmp_path / ".worker-1" / "checkpoints").exists()


def final_state(workdir):
    """Every saved variable and the run state of the newest checkpoint, with its global
    step (the number in its name)."""
    latest = checkpoint.latest(os.path.join(workdir, "checkpoints"))
    variables, state = checkpoint.read(latest)
    return variables, {**state, "global_step": int(latest.rsplit("-", 1)[1])}


def test_sigkill_and_rerun_resumes_exactly(tmp_path):
    """Kill -9 a run mid-epoch; the same command continues it to the same final weights,
    optimizer slots, random states and schedule as an uninterrupted run (op determinism on,
    augmentation and dropout on)."""
    args = ["--config", TINY, "--config.epochs=4", "--config.checkpoint_every_steps=1",
            "--config.op_determinism=True"]
    run_tool(*args, "--workdir", str(tmp_path / "whole"))

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, TRAIN, *args, "--workdir", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:
        latest = checkpoint.latest(str(killed / "checkpoints"))
        if latest and int(latest.rsplit("-", 1)[1]) >= 6:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, meta = final_state(killed)
    assert meta["global_step"] < 16 and not (killed / "model.keras").exists(), \
        "the kill should land before the run ends"
    run = run_tool(*args, "--workdir", str(killed))
    assert "resuming from" in run.stdout

    whole, whole_meta = final_state(tmp_path / "whole")
    resumed, resumed_meta = final_state(killed)
    assert whole_meta["global_step"] == resumed_meta["global_step"] == 16
    assert whole_meta["schedule"] == resumed_meta["schedule"]
    assert whole.keys() == resumed.keys()
    for key in whole:
        np.testing.assert_array_equal(whole[key], resumed[key], err_msg=key)
    history = json.load(open(killed / "history.json"))
    assert [h["epoch"] for h in history] == [0, 1, 2, 3]


def test_divergence_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tmp_path):
    run = run_tool("--config", TINY, "--workdir", str(tmp_path), "--config.epochs=3",
                   "--config.optimizer.learning_rate=1e4", check=False)
    assert run.returncode != 0
    assert "error: training diverged: the loss became NaN or infinite" in run.stderr
    assert not (tmp_path / "model.keras").exists()
    latest = checkpoint.latest(str(tmp_path / "checkpoints"))
    if latest:  # a checkpoint from before the divergence: all finite
        state, _ = final_state(str(tmp_path))
        assert all(np.all(np.isfinite(v)) for v in state.values() if v.dtype.kind == "f")


def test_resume_refuses_a_checkpoint_of_another_model(reference, tmp_path):
    workdir, _ = reference
    run = run_tool("--config", TINY, "--workdir", str(workdir), "--config.model.fc_units=48",
                   check=False)
    assert run.returncode != 0 and "written for a different model" in run.stderr
    assert "fc6" in run.stderr.splitlines()[-1] and "Traceback" not in run.stderr


def test_bad_config_values_are_named(tmp_path):
    run = run_tool("--config", TINY, "--workdir", str(tmp_path), "--config.strategy=gpus",
                   check=False)
    assert run.returncode != 0 and "--config.strategy=gpus must be one of default" in run.stderr
    run = run_tool("--config", TINY, "--workdir", str(tmp_path), "--config.model.num_classes=7",
                   check=False)
    assert run.returncode != 0 and "num_classes is 7 but the data has 4 classes" in run.stderr


def test_a_corrupt_record_is_named(reference, tmp_path):
    """Strict reading: a record whose JPEG is broken stops training with the shard named."""
    workdir, _ = reference
    shutil.copytree(workdir / "data", tmp_path / "data")
    shard = sorted(glob.glob(str(tmp_path / "data" / "train-*")))[0]
    records = [r.numpy() for r in tf.data.TFRecordDataset(shard)]
    example = tf.train.Example.FromString(records[3])
    example.features.feature["image/encoded"].bytes_list.value[0] = b"\xff\xd8\xff broken"
    records[3] = example.SerializeToString()
    with tf.io.TFRecordWriter(shard) as w:
        for r in records:
            w.write(r)
    run = run_tool("--config", TINY, "--workdir", str(tmp_path / "run"),
                   "--config.data.source=tfrecord", f"--config.data.train={tmp_path}/data/train-*",
                   f"--config.data.validation={tmp_path}/data/validation-*", check=False)
    assert run.returncode != 0
    assert f"{shard}: record 3: cannot parse or decode" in run.stderr, run.stderr[-2000:]


def test_mixed_precision_trains(tmp_path):
    try:
        history = T.train(tiny_config(precision="mixed_bfloat16", epochs=1), str(tmp_path))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(history[0]["loss"]) and np.isfinite(history[0]["val_loss"])
    model = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert model.layer("conv2").compute_dtype == "bfloat16"
    images = np.zeros((1, 256, 256, 3), np.uint8)
    assert model(images).dtype == "float32"  # logits in float32 whatever the precision


def test_per_pixel_mean_without_a_mean_image_is_explained():
    with pytest.raises(ValueError, match="per_pixel_mean needs a stats file with a mean image"):
        T.training_model(tiny_config(**{"augment.per_pixel_mean": True}))  # published stats


def test_a_changed_config_is_refused_on_resume(tmp_path):
    """The run keeps the config it started with: a rerun of the workdir with another
    learning rate is refused in one line naming the field, before any step, and the
    saved config.json is left as it was; more epochs (a field that may change) resume."""
    from configs import tiny
    from alexnet_tf.train import train
    config = tiny.get_config()
    config.epochs = 1
    train(config, str(tmp_path))
    saved = (tmp_path / "config.json").read_text()
    changed = tiny.get_config()
    changed.epochs, changed.optimizer.learning_rate = 2, 0.5
    with pytest.raises(ValueError, match=r"^the workdir's run started with another config "
                                         r"\(optimizer.learning_rate 0.01 -> 0.5\)"):
        train(changed, str(tmp_path))
    assert (tmp_path / "config.json").read_text() == saved
    more = tiny.get_config()
    more.epochs = 2
    assert len(train(more, str(tmp_path))) == 2


def test_validation_every_few_epochs(tmp_path):
    """validation_every=2 over 3 epochs: epochs 2 and 3 (the last) are validated, the first
    is not; with the plateau rule it is refused in one line."""
    history = T.train(tiny_config(epochs=3, validation_every=2,
                                  **{"optimizer.schedule": "step"}), str(tmp_path))
    assert ["val_loss" in h for h in history] == [False, True, True]
    assert C.validation_epochs(tiny_config(epochs=7, validation_every=3)) == [3, 6, 7]
    with pytest.raises(ValueError, match="needs optimizer.schedule=step"):
        T.train(tiny_config(validation_every=2, **{"optimizer.schedule": "plateau"}),
                str(tmp_path / "x"))


def test_a_run_stops_at_its_training_error_and_stays_stopped(tmp_path, capsys):
    """train_eval_stop: 3 epochs asked, the first comes down to the threshold, so the run
    ends there (checkpointed, not validated: validation_every=3); run again, it trains
    nothing. Under multi_worker it is refused."""
    config = tiny_config(epochs=3, train_eval_examples=16, train_eval_stop=0.999,
                         validation_every=3, **{"optimizer.schedule": "step"})
    history = T.train(config, str(tmp_path))
    assert len(history) == 1 and "val_loss" not in history[0]
    assert C.stopped_early(config, history)
    capsys.readouterr()
    assert len(T.train(config, str(tmp_path))) == 1
    out = capsys.readouterr().out
    assert "resuming from" in out and "epoch 2, step 0" in out and "nothing to train" in out
    with pytest.raises(ValueError, match="works on one machine only"):
        C.check_together(tiny_config(train_eval_examples=16, train_eval_stop=0.5,
                                     strategy="multi_worker"))


def test_the_plateau_after_the_last_cut_ends_a_run_until_the_rule_is_off(tmp_path, capsys):
    """optimizer.end_at_plateau with no cut to make (max_reductions 0) and a plateau after
    one epoch: 3 epochs asked, 2 trained, the end recorded; run again, nothing; run with
    the rule off, the third epoch."""
    plateau = {"optimizer.schedule": "plateau", "optimizer.plateau_patience": 1,
               "optimizer.max_reductions": 0, "optimizer.plateau_min_delta": 0.99}
    config = tiny_config(epochs=3, **plateau)
    history = T.train(config, str(tmp_path))
    assert len(history) == 2 and history[-1][C.STOPPED] == C.STOPPED_AT_PLATEAU
    assert C.stopped_early(config, history)
    capsys.readouterr()
    assert len(T.train(config, str(tmp_path))) == 2
    assert "nothing to train" in capsys.readouterr().out
    history = T.train(tiny_config(epochs=3, **plateau, **{"optimizer.end_at_plateau": False}),
                      str(tmp_path))
    assert len(history) == 3 and C.STOPPED not in history[-1]


def test_class_selection_needs_image_folders(tmp_path):
    with pytest.raises(ValueError, match="work with data.source=images"):
        T.train(tiny_config(**{"data.select_classes": True}), str(tmp_path))


def test_short_epochs_are_checkpointed_every_few_steps_and_at_the_end():
    """Epochs of 1 step with a checkpoint every 3 steps: saved after epochs 3 and 6 and
    the last (7); epochs at least as long as every_steps are saved at each end."""
    from types import SimpleNamespace

    from alexnet_tf.callbacks import Checkpointer

    def saved_epochs(steps_per_epoch, every_steps, epochs, stop_after=None):
        saves = []
        fake = SimpleNamespace(save=lambda epoch, step, *_: saves.append((epoch, step)))
        c = Checkpointer(fake, SimpleNamespace(state={}), SimpleNamespace(diverged=False),
                         every_steps, steps_per_epoch, first_step=0)
        c.set_params({"epochs": epochs})
        c.set_model(SimpleNamespace(stop_training=False))
        for epoch in range(epochs):
            c.on_epoch_begin(epoch)
            for batch in range(steps_per_epoch):
                c.on_train_batch_end(batch)
            if epoch + 1 == stop_after:  # train_eval_stop, before the checkpointer
                c.model.stop_training = True
            c.on_epoch_end(epoch)
            if c.model.stop_training:
                break
        return saves

    assert saved_epochs(1, 3, 7) == [(3, 0), (6, 0), (7, 0)]
    assert saved_epochs(4, 3, 2) == [(0, 3), (1, 0), (1, 3), (2, 0)]
    assert saved_epochs(1, 0, 2) == [(1, 0), (2, 0)]
    assert saved_epochs(1, 3, 7, stop_after=5) == [(3, 0), (5, 0)]  # the stop is saved
