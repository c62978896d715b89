"""Where training runs: one device, the paper's two towers on two devices, data parallel
over local devices, or data parallel over several machines.

* `default`: one device (TF's default placement).
* `towers`: the paper's model parallelism (Sec. 3.2): tower a on `devices[0]`, tower b on
  `devices[1]`, through the `devices` argument of the layers; no `tf.distribute` strategy.
  XLA compiles a function for one device, so this strategy runs without `jit_compile`.
* `mirrored`: `tf.distribute.MirroredStrategy` over the local accelerators (or, on a
  machine without any, over two logical CPU devices, which is how it is tested here;
  there without XLA, which cannot compile replicas onto logical CPU devices).
* `multi_worker`: `tf.distribute.MultiWorkerMirroredStrategy`, configured by the
  `TF_CONFIG` environment variable on each machine (see README).
"""
import json
import os

import tensorflow as tf

STRATEGIES = ("default", "towers", "mirrored", "multi_worker")


def split_cpu(n=2):
    """On a machine without GPUs, splits the CPU into `n` logical devices (so `towers` and
    `mirrored` run there, as in the tests). Only possible before TensorFlow's runtime
    starts; returns whether the CPU is now split."""
    if tf.config.list_physical_devices("GPU"):
        return False
    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.get_logical_device_configuration(cpu) or []) >= n:
        return True
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError:  # the runtime has started
        return False
    return True


def local_devices():
    """The local accelerators, or the logical CPU devices when there are none."""
    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]


def get_strategy(name):
    """Returns `(strategy, tower_devices)` for a strategy name: the `tf.distribute` strategy
    to build and fit under, and the per-tower devices for the model (`towers` only)."""
    if name == "default":
        return tf.distribute.get_strategy(), None
    elif name == "towers":
        split_cpu()
        devices = local_devices()
        if len(devices) < 2:
            raise ValueError(f"strategy 'towers' needs two devices, found {devices}; on a CPU "
                             f"machine split the CPU with "
                             f"tf.config.set_logical_device_configuration")
        return tf.distribute.get_strategy(), tuple(devices[:2])
    elif name == "mirrored":
        split_cpu()
        return tf.distribute.MirroredStrategy(local_devices()), None
    elif name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("strategy 'multi_worker' needs the TF_CONFIG environment variable "
                             "(see README: 'Several machines')")
        return tf.distribute.MultiWorkerMirroredStrategy(), None
    raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


def is_chief(strategy):
    """True on the worker that writes checkpoints, logs and exports: the only worker,
    or worker 0 (or the "chief" task) of a multi-worker cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy,
                                          tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    has_chief = "chief" in json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    return task_type == "worker" and task_id == 0 and not has_chief


def worker_id(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver.task_id if resolver is not None and resolver.task_id is not None else 0
