"""Benchmarks behind `tools/benchmark_*.py`. Each prints what it measured; none is a test."""
import os
import tempfile
import time

import tensorflow as tf

from alexnet_tf import data


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
    from alexnet_tf.build import build

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
