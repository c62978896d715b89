"""Test set-up: the CPU is split into two logical devices before TensorFlow starts, so
that two-tower placement and MirroredStrategy run on a machine without GPUs."""
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared"
IMAGENETTE = SHARED / "data" / "imagenette2-224"
IMAGENET_META = SHARED / "data" / "imagenet-meta"


@pytest.fixture
def imagenette():
    """The shared Imagenette tree; skips the test when `../shared` is absent."""
    if not IMAGENETTE.is_dir():
        pytest.skip(f"shared data not found at {IMAGENETTE}")
    return IMAGENETTE
