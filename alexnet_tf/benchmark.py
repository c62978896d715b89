"""Benchmarks behind `tools/benchmark_*.py`. Each prints what it measured; none is a test."""
import os
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from alexnet_tf import data, distribute
from alexnet_tf.build import build
from alexnet_tf.train import compile_model, training_model


def _rate(ds, n_images, threads=None, repeats=1):
    """Images/s for one pass over `ds` (after one warm-up pass), best of `repeats`."""
    if threads:
        options = tf.data.Options()
        options.threading.private_threadpool_size = threads
        options.threading.max_intra_op_parallelism = 1
        ds = ds.with_options(options)
    for _ in ds:  # warm up: file cache, thread pools, tracing
        pass
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        count = 0
        for x in ds:
            count += int(tf.shape(x[0] if isinstance(x, tuple) else x)[0])
        best = max(best, count / (time.perf_counter() - start))
    assert count == n_images, (count, n_images)
    return best


def input_benchmark(image_dir=None, records=None, classes=None, batch_size=128, repeats=2,
                    log=print):
    """Measures the input pipeline against raw JPEG decoding, on the same bytes.

    Uses `records` (a TFRecord glob) or builds two sets of TFRecords from `image_dir` (a
    class-folder tree) in a temporary folder: one keeping the original JPEG bytes, one
    at the builder's default 256x256. Reports images/s for `data.tfrecord_dataset`
    (read, parse, decode, resize/crop to 256, batch) on each, and for `tf.io.decode_jpeg`
    alone on the original encoded images held in memory; each on one core (a one-thread
    tf.data pool) and on all cores. Returns the figures as a dict.
    """
    with tempfile.TemporaryDirectory() as tmp:
        sets = {}
        if records is None:
            for name, resize in (("original", False), ("256x256", True)):
                log(f"building TFRecords ({name}) from {image_dir} ...")
                out = os.path.join(tmp, name)
                manifest = build(image_dir, out, "bench", classes=classes, resize=resize,
                                 progress=False)
                sets[name] = os.path.join(out, "bench-*")
            classes = manifest["classes"]
        elif classes is None:
            raise ValueError("--classes is needed with --records")
        else:
            sets["given"] = records
        first = next(iter(sets.values()))
        encoded = [tf.io.parse_single_example(r, data.FEATURES)["image/encoded"]
                   for r in tf.data.TFRecordDataset(tf.io.gfile.glob(first))]
        n = len(encoded)
        mb = sum(len(e.numpy()) for e in encoded) / 1e6
        log(f"{n} images, {mb:.1f} MB of JPEG, batch {batch_size}, {os.cpu_count()} CPUs")

        # Raw decoding yields each image's shape (images may differ in size), so
        # nothing but the decode itself is timed.
        raw = tf.data.Dataset.from_tensor_slices(tf.stack(encoded)).map(
            lambda e: tf.shape(tf.io.decode_jpeg(e, channels=3)),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=False
        ).batch(batch_size).prefetch(tf.data.AUTOTUNE)
        runs = [(f"decode_jpeg ({next(iter(sets))})", raw)]
        runs += [(f"pipeline ({name})", data.tfrecord_dataset(pattern, classes, batch_size,
                                                             training=False))
                 for name, pattern in sets.items()]
        results = {}
        for name, ds in runs:
            for cores, threads in (("1 core", 1), ("all cores", None)):
                results[(name, cores)] = rate = _rate(ds, n, threads, repeats)
                log(f"  {name:24s} {cores:9s} {rate:8.0f} img/s")
    raw_name = runs[0][0]
    for name, _ in runs[1:]:
        for cores in ("1 core", "all cores"):
            ratio = results[(name, cores)] / results[(raw_name, cores)]
            log(f"  {name} / {raw_name}, {cores}: {ratio:.2f}")
    return results


def matmul_peak(n=2048, repeats=5):
    """This machine's float32 matmul rate (GFLOP/s): the best of `repeats` n x n products
    in NumPy (its BLAS) and in TensorFlow, whichever is higher."""
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    best = 0.0
    for fn in (lambda: a @ a, lambda: tf.linalg.matmul(a, a).numpy()):
        fn()
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            best = max(best, 2 * n ** 3 / (time.perf_counter() - start) / 1e9)
    return best


# Forward + backward FLOPs of one 224x224 image through the paper's net: 3 x forward
# multiply-adds x 2 (the reference figure for AlexNet is 4.35 GFLOP).
GFLOP_PER_IMAGE = 4.35


def train_benchmark(config, placements=("default", "towers"), batch_size=128, steps=5,
                    log=print):
    """Times the compiled train step of `config`'s model (e.g. configs/paper.py) at
    `batch_size` on synthetic uint8 256x256 batches (augmentation included), for each
    placement, and this machine's matmul peak in the same run. Returns
    {placement: images/s}."""
    if "towers" in placements:
        distribute.split_cpu()  # before the runtime starts (on machines without GPUs)
    peak = matmul_peak()
    log(f"float32 matmul peak: {peak:.1f} GFLOP/s ({os.cpu_count()} CPUs)")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (batch_size, 256, 256, 3), dtype=np.uint8)
    y = rng.integers(0, config.model.num_classes, (batch_size,))
    ds = tf.data.Dataset.from_tensors((x, y)).repeat()
    results = {}
    for placement in placements:
        keras.utils.set_random_seed(0)
        _, devices = distribute.get_strategy(placement)
        model = training_model(config, devices)
        compile_model(model, config, jit_compile=placement != "towers")
        model.fit(ds, steps_per_epoch=2, epochs=1, verbose=0)  # compile, warm up
        start = time.perf_counter()
        model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
        rate = steps * batch_size / (time.perf_counter() - start)
        gflops = rate * GFLOP_PER_IMAGE
        results[placement] = rate
        log(f"  {placement:8s} {rate:6.1f} img/s  {gflops:6.1f} GFLOP/s  "
            f"{100 * gflops / peak:4.0f}% of peak"
            + ("  (no XLA: towers span two devices)" if placement == "towers" else ""))
        del model
        keras.backend.clear_session()
    return results
