"""Benchmarks behind `tools/benchmark_*.py`. Each prints what it measured; none is a test."""
import dataclasses
import os
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from alexnet_tf import data, distribute
from alexnet_tf.build import build
from alexnet_tf.recipe import compile_model, training_model


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


def matmul_peak(dtype="float32", n=2048, repeats=5):
    """This machine's matmul rate (GFLOP/s) in `dtype`: the best of `repeats` n x n
    products in TensorFlow (oneDNN), and for float32 also in NumPy (its BLAS), whichever
    is higher. The reference for "% of peak": what this machine's best dense kernel
    reaches in that precision."""
    a = tf.constant(np.random.default_rng(0).random((n, n), dtype=np.float32), dtype)
    fns = [lambda: tf.linalg.matmul(a, a).numpy()]
    if dtype == "float32":
        fns.append(lambda: a.numpy() @ a.numpy())
    best = 0.0
    for fn in fns:
        fn()
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            best = max(best, 2 * n ** 3 / (time.perf_counter() - start) / 1e9)
    return best


# The paper's LRN layers, two towers: lrn1 normalizes conv1's 55x55x96 maps, lrn2 conv2's
# 27x27x256.
LRN_SHAPES = {"lrn1": (55, 55, 96), "lrn2": (27, 27, 256)}


def lrn_benchmark(batch_size=128, rounds=7, repeats=3, log=print):
    """Forward + backward time (ms) of the paper's two LRN layers (two towers) with
    `implementation="tf"` and `"matmul"`, in float32 and bfloat16 (a `mixed_bfloat16`
    layer on bfloat16 maps), at `batch_size`: every case traced and warmed up, then all
    cases timed in turns, `rounds` times (each the mean of `repeats` calls); the medians.
    Returns one row per layer and dtype: `{"layer", "dtype", "tf_ms", "matmul_ms"}`."""
    from alexnet_tf.layers import LocalResponseNormalization
    rng = np.random.default_rng(0)
    cases = []
    for layer_name, shape in LRN_SHAPES.items():
        shape = (batch_size, *shape)
        # ReLU outputs at the scale of the paper's raw-pixel net
        x32 = tf.constant(np.abs(rng.normal(0, 40, shape)).astype("float32"))
        g32 = tf.constant(rng.normal(size=shape).astype("float32"))
        for dtype in ("float32", "bfloat16"):
            x, g = tf.cast(x32, dtype), tf.cast(g32, dtype)
            policy = "mixed_bfloat16" if dtype == "bfloat16" else "float32"
            for impl in ("tf", "matmul"):
                layer = LocalResponseNormalization(towers=2, implementation=impl, dtype=policy)

                @tf.function
                def step(x, g, layer=layer):
                    with tf.GradientTape() as tape:
                        tape.watch(x)
                        y = layer(x)
                    return tape.gradient(y, x, output_gradients=g)
                step(x, g).numpy()
                cases.append(((layer_name, dtype, impl), step, x, g))
    times = {key: [] for key, *_ in cases}
    for r in range(rounds):
        for key, step, x, g in cases:
            start = time.perf_counter()
            for _ in range(repeats):
                step(x, g).numpy()
            times[key].append((time.perf_counter() - start) / repeats * 1e3)
        log(f"round {r + 1} of {rounds} done")
    rows = [{"layer": layer_name, "dtype": dtype,
             **{f"{impl}_ms": round(float(np.median(times[(layer_name, dtype, impl)])), 1)
                for impl in ("tf", "matmul")}}
            for layer_name in LRN_SHAPES for dtype in ("float32", "bfloat16")]
    log(f"\nbatch {batch_size}, two towers, forward + backward, ms per call, median of "
        f"{rounds} rounds")
    log("| layer | dtype | tf | matmul | tf / matmul |\n| --- | --- | --- | --- | --- |")
    for row in rows:
        log(f"| {row['layer']} | {row['dtype']} | {row['tf_ms']:.0f} | {row['matmul_ms']:.0f} "
            f"| {row['tf_ms'] / row['matmul_ms']:.2f} |")
    return rows


# Forward + backward FLOPs of one 224x224 image through the paper's net: 3 x forward
# multiply-adds x 2 (the reference figure for AlexNet is 4.35 GFLOP); a forward
# pass alone is a third of it.
GFLOP_PER_IMAGE = 4.35
FORWARD_GFLOP_PER_IMAGE = GFLOP_PER_IMAGE / 3


@dataclasses.dataclass
class Path:
    """One way of running the step: precision, XLA or not, placement."""
    precision: str
    jit_compile: bool
    placement: str

    @property
    def name(self):
        return (f"{'bfloat16' if 'bfloat16' in self.precision else self.precision}"
                f"{' + XLA' if self.jit_compile else ''}, {self.placement}")


def train_benchmark(config, precisions=("float32", "mixed_bfloat16"), xla=(True, False),
                    placements=("default", "towers"), batch_size=128, steps=3, rounds=3,
                    log=print):
    """Times `config`'s training step (e.g. configs/paper.py: the paper's net) and its
    forward pass for every path in {precisions} x {XLA, no XLA} x {placements} (towers
    without XLA only: XLA compiles for one device), on synthetic uint8 256x256 batches
    (augmentation included), through `model.fit`.

    The machines this runs on are shared and noisy, so the paths are timed in turns:
    `rounds` rounds, each timing `steps` training steps and `steps` forward passes of
    every path; each path's figure is its median over rounds. The matmul peak of each
    precision is measured in the same run. Returns a list of dicts (one per path) with
    the rates, GFLOP/s and fraction of peak, and logs a table and the path "auto" picks.
    """
    if "towers" in placements:
        distribute.split_cpu()  # before the runtime starts (on machines without GPUs)
    auto = distribute.compute_path()
    peaks = {p: matmul_peak(p.replace("mixed_", "")) for p in precisions}
    log(f"{os.cpu_count()} CPUs; matmul peak: " + ", ".join(
        f"{p.replace('mixed_', '')} {v:.0f} GFLOP/s" for p, v in peaks.items()))
    log(f"auto picks: {auto.precision}, XLA {'on' if auto.jit_compile else 'off'} "
        f"({auto.reason})")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (batch_size, data.IMAGE_SIZE, data.IMAGE_SIZE, 3), dtype=np.uint8)
    y = rng.integers(0, config.model.num_classes, (batch_size,))
    ds = tf.data.Dataset.from_tensors((x, y)).repeat()
    paths = [Path(prec, jit, place) for place in placements for prec in precisions
             for jit in xla if not (jit and place == "towers")]
    runners = []
    try:
        for path in paths:
            log(f"  building and compiling: {path.name}")
            keras.mixed_precision.set_global_policy(path.precision)
            keras.utils.set_random_seed(0)
            _, devices = distribute.get_strategy(path.placement)
            model = training_model(config, devices)
            compile_model(model, config, jit_compile=path.jit_compile)
            model.fit(ds, steps_per_epoch=2, epochs=1, verbose=0)  # compile, warm up
            forward = tf.function(lambda images, m=model: m(images, training=False),
                                  jit_compile=path.jit_compile)
            forward(x).numpy()
            runners.append((model, forward))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    train_rates, infer_rates = [[] for _ in paths], [[] for _ in paths]
    for r in range(rounds):
        for i, (model, forward) in enumerate(runners):
            start = time.perf_counter()
            model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
            train_rates[i].append(steps * batch_size / (time.perf_counter() - start))
            start = time.perf_counter()
            for _ in range(steps):
                forward(x).numpy()
            infer_rates[i].append(steps * batch_size / (time.perf_counter() - start))
        log(f"  round {r + 1} of {rounds} done")
    results = []
    for path, tr, ir in zip(paths, train_rates, infer_rates):
        train, infer = float(np.median(tr)), float(np.median(ir))
        peak = peaks[path.precision]
        results.append(dict(path=path.name, precision=path.precision,
                            jit_compile=path.jit_compile, placement=path.placement,
                            train_images_per_second=train,
                            train_gflops=train * GFLOP_PER_IMAGE,
                            train_fraction_of_peak=train * GFLOP_PER_IMAGE / peak,
                            inference_images_per_second=infer,
                            inference_gflops=infer * FORWARD_GFLOP_PER_IMAGE,
                            peak_gflops=peak, train_samples=tr, inference_samples=ir,
                            auto=(path.precision, path.jit_compile, path.placement)
                            == (auto.precision, auto.jit_compile, "default")))
    log(f"\nbatch {batch_size}; median of {rounds} rounds of {steps} steps; "
        f"{GFLOP_PER_IMAGE} GFLOP per training image, {FORWARD_GFLOP_PER_IMAGE:.2f} per "
        f"forward pass")
    log("| path | train img/s | train GFLOP/s | % of peak | inference img/s |")
    log("| --- | --- | --- | --- | --- |")
    for r in results:
        log(f"| {r['path']}{' (auto)' if r['auto'] else ''} | "
            f"{r['train_images_per_second']:.1f} | {r['train_gflops']:.0f} | "
            f"{100 * r['train_fraction_of_peak']:.0f} % of {r['peak_gflops']:.0f} | "
            f"{r['inference_images_per_second']:.1f} |")
    return results


def _jpegs(image_dir, count, size=(375, 500), seed=0):
    """`count` encoded images: the files of `image_dir` (any image format, recursively),
    else the package's procedural images at `size` (ImageNet's typical 375x500) as JPEG."""
    if image_dir:
        files = sorted(os.path.join(root, f) for root, _, names in os.walk(image_dir)
                       for f in names if not f.startswith("."))
        if not files:
            raise ValueError(f"--images {image_dir}: no files found")
        return [tf.io.read_file(files[i % len(files)]).numpy() for i in range(count)]
    from alexnet_tf.synthetic import KINDS, render
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        image = render(KINDS[i % len(KINDS)], rng, max(size))[:size[0], :size[1]]
        out.append(tf.io.encode_jpeg(image, quality=90).numpy())
    return out


def serve_benchmark(model_dir, image_dir=None, batch_size=64, single_requests=50,
                    batches=5, log=print):
    """Loads a serving SavedModel (`alexnet_tf.export`) with `tf.saved_model.load`, as a
    server would, and measures its `serving_default` signature on encoded images (JPEG
    bytes in; `formats_benchmark` compares exports of every format on decoded images):
    latency of single-image requests (median and 95th percentile over
    `single_requests`), throughput at `batch_size` (median over `batches`), and the
    share of a batch's time spent decoding and resizing (the export's decoding step,
    `export.decode_batch`, timed alone). Returns the figures as a dict."""
    from alexnet_tf.export import decode_batch
    from alexnet_tf.rundir import saved_model_folder
    folder = saved_model_folder(model_dir)
    if folder is None:
        raise FileNotFoundError(f"--model {model_dir}: not a SavedModel folder or a "
                                f"training workdir")
    start = time.perf_counter()
    loaded = tf.saved_model.load(folder)
    load_seconds = time.perf_counter() - start
    if "serving_default" not in loaded.signatures:
        raise ValueError(f"--model {folder}: no serving_default signature")
    serve = loaded.signatures["serving_default"]
    encoded = _jpegs(image_dir, max(batch_size, single_requests))
    log(f"loaded {folder} in {load_seconds:.1f} s; {len(encoded)} images, "
        f"{sum(map(len, encoded)) / len(encoded) / 1e3:.0f} kB each on average")

    one = [tf.constant([e]) for e in encoded[:single_requests]]
    serve(images=one[0])  # first call: graph warm-up
    latencies = []
    for request in one:
        start = time.perf_counter()
        serve(images=request)["top5_indices"].numpy()
        latencies.append(time.perf_counter() - start)
    batch = tf.constant(encoded[:batch_size])
    serve(images=batch)
    # The serving function's own decoding step (`export.decode_batch`), timed alone.
    decode = tf.function(lambda images: decode_batch(images)[0])
    decode(batch)
    batch_times, decode_times = [], []
    for _ in range(batches):
        start = time.perf_counter()
        serve(images=batch)["top5_indices"].numpy()
        batch_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        decode(batch).numpy()
        decode_times.append(time.perf_counter() - start)
    result = dict(
        latency_ms_median=1e3 * float(np.median(latencies)),
        latency_ms_p95=1e3 * float(np.percentile(latencies, 95)),
        batch_size=batch_size,
        throughput_images_per_second=batch_size / float(np.median(batch_times)),
        decode_share=float(np.median(decode_times) / np.median(batch_times)),
        load_seconds=load_seconds)
    log(f"batch 1: median {result['latency_ms_median']:.1f} ms, p95 "
        f"{result['latency_ms_p95']:.1f} ms ({single_requests} requests)")
    log(f"batch {batch_size}: {result['throughput_images_per_second']:.1f} images/s; "
        f"decode and resize {100 * result['decode_share']:.0f} % of the time")
    return result


def formats_benchmark(folders, image_dir=None, batch_size=64, single_requests=50, rounds=5,
                      log=print):
    """Exports of any format side by side, in one process and in turns: each folder of
    `folders` (a serving SavedModel or training workdir, or a LiteRT/ONNX export of
    `tools/export.py --format`) loaded by its own runtime (`portable.load`: the
    SavedModel's `serve_images` signature, the LiteRT interpreter, onnxruntime), all fed
    the same uint8 256x256 images (decoded and resized beforehand: what a LiteRT or ONNX
    client sends). Each of `rounds` rounds times, model after model,
    `single_requests // rounds` one-image calls and one call of `batch_size` images; a
    model's figures are the median and 95th percentile of its one-image latencies and
    its images/s at the median batch time; `ready_seconds` is the time from loading to
    the first answer. Returns one dict per folder."""
    from alexnet_tf import portable
    images = np.stack([data.resize_and_crop(tf.io.decode_image(
        e, channels=3, expand_animations=False)).numpy()
        for e in _jpegs(image_dir, max(batch_size, single_requests))])
    batch = images[:batch_size]
    models = []
    for folder in folders:
        start = time.perf_counter()
        fmt, predict = portable.load(folder)
        predict(images[:1])  # LiteRT builds its interpreter here, the others trace or plan
        models.append(dict(model=folder, format=fmt, predict=predict,
                           ready_seconds=time.perf_counter() - start))
    for m in models:  # warm up the batch size too
        m["predict"](batch)
        m["latencies"], m["batch_times"] = [], []
    per_round = max(1, single_requests // rounds)
    for r in range(rounds):
        for m in models:
            for j in range(per_round):
                one = images[(r * per_round + j) % len(images)][None]
                start = time.perf_counter()
                m["predict"](one)
                m["latencies"].append(time.perf_counter() - start)
            start = time.perf_counter()
            m["predict"](batch)
            m["batch_times"].append(time.perf_counter() - start)
    results = [dict(model=m["model"], format=m["format"],
                    latency_ms_median=1e3 * float(np.median(m["latencies"])),
                    latency_ms_p95=1e3 * float(np.percentile(m["latencies"], 95)),
                    batch_size=batch_size,
                    throughput_images_per_second=batch_size / float(np.median(m["batch_times"])),
                    ready_seconds=m["ready_seconds"]) for m in models]
    log(f"\nuint8 256x256 images in, probabilities out; {rounds} rounds in turns, "
        f"{per_round * rounds} one-image calls and {rounds} batches of {batch_size} each; "
        f"{os.cpu_count()} CPUs")
    log(f"| export | format | batch 1: median, p95 | batch {batch_size} | load + first call |")
    log("| --- | --- | --- | --- | --- |")
    for r in results:
        log(f"| {r['model']} | {r['format']} | {r['latency_ms_median']:.1f} ms, "
            f"{r['latency_ms_p95']:.1f} ms | {r['throughput_images_per_second']:.1f} img/s | "
            f"{r['ready_seconds']:.1f} s |")
    return results
