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
