"""Faults injected on purpose: damaged checkpoints and a full disk while saving."""
import glob
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf import checkpoint
from alexnet_tf import train as T
from test_train import tiny_config


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished tiny run that kept two checkpoints (steps 6 and 8)."""
    workdir = tmp_path_factory.mktemp("faults")
    T.train(tiny_config(epochs=2, checkpoint_every_steps=2), str(workdir))
    return workdir


def damage(path, how):
    data, index = glob.glob(path + ".data-*")[0], path + ".index"
    if how == "zeroed data":
        with open(data, "r+b") as f:
            f.write(b"\0" * 64)
    elif how == "truncated data":
        os.truncate(data, os.path.getsize(data) // 2)
    elif how == "missing index":
        os.remove(index)
    elif how == "garbage index":
        with open(index, "wb") as f:
            f.write(b"not a checkpoint index")


@pytest.mark.parametrize("how", ["zeroed data", "truncated data", "missing index",
                                 "garbage index"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(run, tmp_path, how):
    workdir = tmp_path / "w"
    os.makedirs(workdir)
    shutil.copytree(run / "checkpoints", workdir / "checkpoints")
    ckpts = sorted(glob.glob(str(workdir / "checkpoints" / "ckpt-*.index")))
    newest, previous = [p[:-len(".index")] for p in ckpts[::-1][:2]]
    damage(newest, how)
    model = T.training_model(tiny_config())
    T.compile_model(model, tiny_config(), jit_compile=False)
    warnings = []
    restored = checkpoint.Checkpoints(str(workdir / "checkpoints"), model).restore(
        log=warnings.append)
    assert restored[0].endswith(os.path.basename(previous))
    assert len(warnings) == 1 and os.path.basename(newest) in warnings[0]
    # What was restored is exactly the previous checkpoint, not a mix.
    saved, _ = checkpoint.read(previous)
    kernel = saved["model/alexnet.Sconv2.Skernel_1"]
    np.testing.assert_array_equal(model.layer("conv2").kernels[1].numpy(), kernel)


def test_a_full_disk_while_saving_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    real_save = tf.train.CheckpointManager.save
    calls = []

    def save(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the third save finds the disk full, half-way through
            open(os.path.join(self.directory, "ckpt-half.data-00000-of-00001"), "wb").close()
            raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")
        return real_save(self, *args, **kwargs)
    monkeypatch.setattr(tf.train.CheckpointManager, "save", save)
    with pytest.raises(checkpoint.CheckpointWriteError, match="No space left on device") as e:
        T.train(tiny_config(epochs=2, checkpoint_every_steps=2), str(tmp_path))
    assert "ckpt-4" in str(e.value) and "is intact" in str(e.value)
    latest = checkpoint.latest(str(tmp_path / "checkpoints"))
    assert latest.endswith("ckpt-4")
    _, state = checkpoint.read(latest)  # readable: the end of the first epoch (4 steps)
    assert (state["epoch"], state["step"]) == (1, 0)
    assert not (tmp_path / "model.keras").exists()


@pytest.mark.slow
def test_kill_9_at_twenty_random_moments_then_resume_is_bit_identical(tmp_path):
    """kill -9 tiny runs at seeded random moments (each uniform over a whole run's duration:
    start-up, steps, checkpoint writes, validation, the final export) until at least 20
    kills; rerunning the same command each time ends every run with the same weights,
    optimizer slots, random states and schedule as an uninterrupted run, and a complete
    model.keras and SavedModel."""
    import random
    import signal
    import subprocess
    import sys
    import time

    import keras
    from test_train import TRAIN, TINY
    args = [sys.executable, TRAIN, "--config", TINY, "--config.epochs=3",
            "--config.checkpoint_every_steps=1", "--config.op_determinism=True"]
    start = time.time()
    subprocess.run([*args, "--workdir", str(tmp_path / "whole")], check=True,
                   capture_output=True, timeout=600)
    whole_seconds = time.time() - start
    rng = random.Random(20)
    whole, whole_state = checkpoint.read(checkpoint.latest(str(tmp_path / "whole" / "checkpoints")))
    kills = starts = cycles = 0
    while kills < 20:  # each cycle: a fresh workdir, killed and rerun until it finishes
        killed = tmp_path / f"killed-{cycles}"
        while True:
            proc = subprocess.Popen([*args, "--workdir", str(killed)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            starts += 1
            try:
                proc.wait(timeout=rng.uniform(1.0, whole_seconds))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                continue
            assert proc.returncode == 0
            break
        cycles += 1
        got, got_state = checkpoint.read(checkpoint.latest(str(killed / "checkpoints")))
        assert whole_state == got_state and whole.keys() == got.keys()
        for key in whole:
            np.testing.assert_array_equal(whole[key], got[key], err_msg=key)
        keras.saving.load_model(killed / "model.keras", safe_mode=True)
        assert set(tf.saved_model.load(str(killed / "saved_model")).signatures) == {
            "serving_default", "serve_images"}
    print(f"{kills} kills over {starts} starts in {cycles} runs, every one bit-identical")


def corrupt_record(shard, index):
    """Rewrites `shard` with record `index`'s JPEG bytes broken (the framing stays valid)."""
    records = [r.numpy() for r in tf.data.TFRecordDataset(shard)]
    example = tf.train.Example.FromString(records[index])
    example.features.feature["image/encoded"].bytes_list.value[0] = b"\xff\xd8\xff broken"
    records[index] = example.SerializeToString()
    with tf.io.TFRecordWriter(shard) as w:
        for r in records:
            w.write(r)


def test_skip_bad_records_finishes_and_counts_the_dropped_records(run, tmp_path):
    """Tolerant reading (data.skip_bad_records): a broken record in a training shard and
    one in a validation shard; the run finishes every epoch's steps and its history says
    what was dropped."""
    shutil.copytree(run / "data", tmp_path / "data")
    corrupt_record(sorted(glob.glob(str(tmp_path / "data" / "train-*")))[0], 2)
    corrupt_record(sorted(glob.glob(str(tmp_path / "data" / "validation-*")))[0], 1)
    config = tiny_config(**{"data.source": "tfrecord", "data.skip_bad_records": True,
                            "data.train": str(tmp_path / "data" / "train-*"),
                            "data.validation": str(tmp_path / "data" / "validation-*"),
                            "data.classes": str(tmp_path / "data" / "train.classes.txt")})
    history = T.train(config, str(tmp_path / "run"))
    assert [h["epoch"] for h in history] == [0, 1]
    # The validation pass reads every record once per epoch; training reads the bad
    # record at least once over the run (prefetching may count it in either epoch).
    assert [h["val_records_dropped"] for h in history] == [1, 1]
    assert sum(h["records_dropped"] for h in history) >= 1
    saved = T.load_history(str(tmp_path / "run" / "history.json"), 2)
    assert saved[-1]["val_records_dropped"] == 1


def test_fewer_steps_than_the_data_keep_epochs_apart(tmp_path):
    """With steps_per_epoch below the data's batches, epoch 2 starts at its own first
    batch: a run stopped after epoch 1 and resumed ends with the same weights as one
    that ran both epochs at once (before, the uninterrupted run's epoch 2 took up the
    batches epoch 1 left over)."""
    overrides = {"steps_per_epoch": 2, "op_determinism": True, "checkpoint_every_steps": 100}
    T.train(tiny_config(epochs=2, **overrides), str(tmp_path / "whole"))
    T.train(tiny_config(epochs=1, **overrides), str(tmp_path / "split"))
    T.train(tiny_config(epochs=2, **overrides), str(tmp_path / "split"))
    whole, whole_state = checkpoint.read(checkpoint.latest(str(tmp_path / "whole" / "checkpoints")))
    split, split_state = checkpoint.read(checkpoint.latest(str(tmp_path / "split" / "checkpoints")))
    assert whole_state == split_state
    for key in whole:
        np.testing.assert_array_equal(whole[key], split[key], err_msg=key)


def test_more_steps_than_the_data_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"steps_per_epoch is 9 but the 32 training images "
                                         r"make only 4 batches of 8"):
        T.train(tiny_config(steps_per_epoch=9), str(tmp_path))


def test_training_data_that_runs_out_is_an_error_not_a_shifted_epoch(tmp_path):
    """data.train_examples says 48 images (6 batches) where there are 32 (4): the first
    epoch runs out of data, which stops the run with one clear error instead of Keras
    going on into the next epoch's batches."""
    with pytest.raises(T.BadData, match=r"the training data ran out in epoch 1: an epoch "
                                        r"needs 6 batches of 8"):
        T.train(tiny_config(**{"data.train_examples": 48, "epochs": 2}), str(tmp_path))


def test_a_checkpoint_past_the_end_of_a_shorter_epoch_is_refused(tmp_path):
    """A mid-epoch checkpoint at step 3, resumed with 2 steps per epoch: refused."""
    T.train(tiny_config(epochs=1, checkpoint_every_steps=3), str(tmp_path))
    for f in glob.glob(str(tmp_path / "checkpoints" / "ckpt-4.*")):
        os.remove(f)  # the end-of-epoch checkpoint: ckpt-3 (epoch 1, step 3) is the newest
    with pytest.raises(ValueError, match=r"ckpt-3 is at step 3 of epoch 1, but an epoch now "
                                         r"has 2 steps"):
        T.train(tiny_config(epochs=1, steps_per_epoch=2), str(tmp_path))
