"""Where training runs: one device, the paper's two towers on two devices, data parallel
over local devices, or data parallel over several machines.

* `default`: one device (TF's default placement).
* `towers`: the paper's model parallelism (Sec. 3.2): tower a on `devices[0]`, tower b on
  `devices[1]`, through the `devices` argument of the layers; no `tf.distribute` strategy.
  XLA compiles a function for one device, so this strategy runs without `jit_compile`.
* `mirrored`: `tf.distribute.MirroredStrategy` over the local accelerators (or, on a
  machine without any, over two logical CPU devices, which is how it is tested here;
  there without XLA, which cannot compile replicas onto logical CPU devices).
* `multi_worker`: `tf.distribute.MultiWorkerMirroredStrategy` over several machines,
  configured by `TF_CONFIG` on each: `alexnet_tf.multiworker`, imported only for it.

Also the precision rule: `compute_path` picks the dtype policy and XLA of a machine.
"""
import dataclasses
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


def get_strategy(name, peer_timeout=None):
    """Returns `(strategy, tower_devices)` for a strategy name: the `tf.distribute` strategy
    to build and fit under, and the per-tower devices for the model (`towers` only).
    `peer_timeout` (seconds, default `multiworker.PEER_TIMEOUT`) is how long
    `multi_worker` waits for the other workers to join (`multi_worker_strategy`)."""
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
    elif name == "multi_worker":  # imported only for this strategy
        from alexnet_tf import multiworker
        return multiworker.multi_worker_strategy(multiworker.Cluster.from_env(),
                                                 peer_timeout), None
    raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


# ---------------------------------------------------------------------------- precision

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def _cpuinfo(field):
    """The first `field` line's value in Linux's `/proc/cpuinfo` ("" elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.split(":", 1)[0].strip() == field:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def cpu_flags():
    """The CPU's feature flags as Linux reports them (`/proc/cpuinfo`); empty elsewhere."""
    return set(_cpuinfo("flags").split())


def cpu_model():
    """The CPU's model name (`/proc/cpuinfo`), for benchmark records ("" if unknown)."""
    return _cpuinfo("model name")


def machine():
    """What a benchmark record says of the machine: `{"cpu": model name, "cpus": count}`."""
    return {"cpu": cpu_model(), "cpus": os.cpu_count()}


def gpu_compute_capabilities():
    """`(major, minor)` of each local GPU (empty on a CPU machine)."""
    return [tuple(tf.config.experimental.get_device_details(g).get("compute_capability")
                  or (0, 0)) for g in tf.config.list_physical_devices("GPU")]


@dataclasses.dataclass
class ComputePath:
    """How the training step runs: the Keras dtype policy, whether it is XLA-compiled,
    and why (one line for the log)."""
    precision: str
    jit_compile: bool
    reason: str


def _auto_or_bool(value, field):
    text = str(value).strip().lower()
    if text in ("auto", "true", "false", "1", "0"):
        return None if text == "auto" else text in ("true", "1")
    raise ValueError(f"config.{field} must be auto, True or False, got {value!r}")


def compute_path(precision="auto", jit_compile="auto", strategy="default", gpus=None,
                 flags=None):
    """Chooses the precision and XLA for a run; "auto" picks what is fastest here.

    * GPUs: XLA; mixed_bfloat16 if every GPU has compute capability >= 8.0 (A100, H100:
      bfloat16 tensor cores, no loss scaling), else mixed_float16 (Keras wraps the
      optimizer in a `LossScaleOptimizer`).
    * CPUs with bfloat16 instructions (`avx512_bf16` or `amx_bf16` in the CPU flags):
      mixed_bfloat16 without XLA: TF's oneDNN kernels use those instructions, XLA's CPU
      backend does not.
    * Other CPUs: float32 without XLA.

    Measured on this project's 2-core AMD EPYC (AVX512_BF16), `tools/benchmark_train.py`,
    paper's net, batch 128: see README "Performance"; on CPUs XLA was slower than TF's
    own kernels in both precisions, hence no XLA on CPUs.

    Whatever is asked, XLA is off where it cannot compile: the `towers` strategy (one XLA
    function cannot span two devices), and `mirrored`/`multi_worker` on CPUs (XLA cannot
    place replicas on logical CPU devices, and has no CPU collectives).

    Args:
        precision: "auto" or a Keras policy name in `PRECISIONS` (float32 is the paper's).
        jit_compile: "auto", True or False (also as the strings "True"/"False").
        strategy: the strategy name (`STRATEGIES`).
        gpus: compute capabilities of the local GPUs (default: this machine's).
        flags: CPU feature flags (default: this machine's).
    Returns:
        A `ComputePath`.
    """
    if precision not in ("auto",) + PRECISIONS:
        raise ValueError(f"config.precision must be auto or one of {', '.join(PRECISIONS)}, "
                         f"got {precision!r}")
    jit = _auto_or_bool(jit_compile, "jit_compile")
    gpus = gpu_compute_capabilities() if gpus is None else list(gpus)
    flags = cpu_flags() if flags is None else set(flags)
    bf16_cpu = bool(flags & {"avx512_bf16", "amx_bf16"})
    why = []
    if precision == "auto":
        if gpus:
            precision = "mixed_bfloat16" if all(c >= (8, 0) for c in gpus) else "mixed_float16"
            why.append(f"{len(gpus)} GPU(s) of compute capability "
                       f"{min(gpus)[0]}.{min(gpus)[1]}"
                       + (" (bfloat16 tensor cores)" if precision == "mixed_bfloat16"
                          else " (< 8.0: float16 with loss scaling)"))
        elif bf16_cpu:
            precision = "mixed_bfloat16"
            why.append("the CPU has " + " and ".join(sorted(flags & {"avx512_bf16",
                                                                     "amx_bf16"}))
                       + ", which TF's oneDNN kernels use")
        else:
            precision = "float32"
            why.append("the CPU has no bfloat16 instructions")
    if jit is None:
        jit = bool(gpus)
        if not gpus:
            why.append("XLA's CPU backend is slower than TF's oneDNN kernels here")
    if jit and strategy == "towers":
        jit = False
        why.append("XLA off: the towers strategy spans two devices")
    elif jit and strategy in ("mirrored", "multi_worker") and not gpus:
        jit = False
        why.append(f"XLA off: {strategy} on CPUs cannot be compiled")
    return ComputePath(precision, jit, "; ".join(why) or "as configured")
