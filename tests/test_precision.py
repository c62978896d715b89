"""The "auto" precision/XLA rule (mocked CPU flags and GPUs) and the mixed_float16 path."""
import keras
import numpy as np
import pytest

from alexnet_tf import distribute
from alexnet_tf import train as T
from alexnet_tf.optim import PaperSGD
from test_train import tiny_config

AMD_BF16 = {"avx2", "avx512f", "avx512_bf16"}
INTEL_AMX = {"avx2", "avx512f", "amx_bf16", "amx_tile"}
PLAIN = {"avx2", "fma"}


@pytest.mark.parametrize("gpus,flags,precision,jit", [
    ([], AMD_BF16, "mixed_bfloat16", False),
    ([], INTEL_AMX, "mixed_bfloat16", False),
    ([], PLAIN, "float32", False),
    ([(8, 0), (9, 0)], PLAIN, "mixed_bfloat16", True),   # A100 + H100
    ([(7, 0)], AMD_BF16, "mixed_float16", True),          # V100: float16 tensor cores
    ([(8, 0), (7, 5)], PLAIN, "mixed_float16", True),     # the weakest GPU decides
])
def test_auto_picks_the_fastest_path(gpus, flags, precision, jit):
    path = distribute.compute_path("auto", "auto", "default", gpus=gpus, flags=flags)
    assert (path.precision, path.jit_compile) == (precision, jit)
    assert path.reason  # logged at the start of training


def test_explicit_choices_win_except_where_xla_cannot_compile():
    path = distribute.compute_path("float32", "True", gpus=[], flags=AMD_BF16)
    assert (path.precision, path.jit_compile) == ("float32", True)
    path = distribute.compute_path("auto", False, gpus=[(8, 0)], flags=PLAIN)
    assert (path.precision, path.jit_compile) == ("mixed_bfloat16", False)
    for strategy, gpus in (("towers", [(8, 0)]), ("mirrored", []), ("multi_worker", [])):
        path = distribute.compute_path("float32", True, strategy, gpus=gpus, flags=PLAIN)
        assert not path.jit_compile and "XLA off" in path.reason
    assert distribute.compute_path("float32", True, "mirrored", gpus=[(8, 0)],
                                   flags=PLAIN).jit_compile


@pytest.mark.parametrize("precision,jit,match", [
    ("bfloat16", "auto", "config.precision must be auto or one of"),
    ("auto", "maybe", "config.jit_compile must be auto, True or False"),
])
def test_bad_precision_values_are_named(precision, jit, match):
    with pytest.raises(ValueError, match=match):
        distribute.compute_path(precision, jit, gpus=[], flags=PLAIN)


def test_mixed_float16_trains_with_loss_scaling(tmp_path, monkeypatch):
    """The older-GPU path, run on the CPU: Keras wraps PaperSGD in a LossScaleOptimizer,
    the loss stays finite and every trainable weight moves."""
    seen = {}
    compile_model = T.compile_model

    def spy(model, config, jit_compile):
        compile_model(model, config, jit_compile)
        seen["model"] = model
        seen["start"] = [v.numpy().copy() for v in model.trainable_variables]
    monkeypatch.setattr(T, "compile_model", spy)
    try:
        history = T.train(tiny_config(precision="mixed_float16", epochs=1), str(tmp_path))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model = seen["model"]
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model.optimizer.inner_optimizer, PaperSGD)
    assert float(model.optimizer.dynamic_scale.numpy()) > 1  # scaling is active
    assert np.isfinite(history[0]["loss"]) and np.isfinite(history[0]["val_loss"])
    assert model.layer("conv2").compute_dtype == "float16"
    moved = [not np.array_equal(a, v.numpy())
             for a, v in zip(seen["start"], model.trainable_variables)]
    assert all(moved), [v.path for v, m in zip(model.trainable_variables, moved) if not m]
