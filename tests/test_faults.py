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
