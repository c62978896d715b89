"""Serving speed of exported models, each loaded in this fresh process by its own runtime,
as a server would load it: serving SavedModels (tools/export.py, or the one in a training
workdir) and LiteRT or ONNX exports (tools/export.py --format litert|onnx).

    python tools/benchmark_serve.py --model runs/demo
    python tools/benchmark_serve.py --model exported/demo --images photos/ --batch_size 64
    python tools/benchmark_serve.py --model exported/demo --model exported/demo-litert \
        --model exported/demo-onnx

For each SavedModel: JPEG bytes in, top-5 out, through its serving_default signature:
single-image latency (median, 95th percentile), throughput at --batch_size, and the share
of the batch time spent decoding and resizing. Then every --model side by side, in turns
(--batches rounds): the same decoded uint8 256x256 images in, probabilities out (the
SavedModel's serve_images, the LiteRT interpreter, onnxruntime), a row each with batch-1
latency and throughput at --batch_size. Without --images it encodes the package's
procedural images as 375x500 JPEGs (ImageNet's typical size). LiteRT and ONNX need the
extra: pip install -e ".[export]".
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from alexnet_tf import cli  # noqa: E402


def build_parser():
    p = cli.Parser(__doc__)
    p.add_argument("--model", required=True, action="append", type=cli.existing_dir,
                   help="a training workdir, an exported SavedModel folder, or a folder "
                        "with model.tflite or model.onnx (tools/export.py); repeat it to "
                        "compare exports side by side")
    p.add_argument("--images", type=cli.existing_dir,
                   help="a folder of image files (default: generated JPEGs)")
    cli.add_batch_size(p, 64)
    p.add_argument("--requests", type=cli.integer(min=1), default=50,
                   help="single-image requests timed per model")
    p.add_argument("--batches", type=cli.integer(min=1), default=5,
                   help="batches timed per model (the side-by-side table's rounds)")
    cli.add_json(p)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    from alexnet_tf.portable import artifact, check_installed  # no TensorFlow yet
    result = {"jpeg_bytes": [], "side_by_side": []}
    try:
        formats = []
        for folder in args.model:  # every --model checked before anything is timed
            found = artifact(folder)
            if found is None:
                raise FileNotFoundError(f"--model {folder}: not a SavedModel folder, a "
                                        f"training workdir or a folder with model.tflite "
                                        f"or model.onnx")
            check_installed(found[0])
            formats.append(found[0])
        from alexnet_tf.benchmark import formats_benchmark, serve_benchmark
        for folder, fmt in zip(args.model, formats):
            if fmt == "tf_saved_model":
                print(f"{folder}: JPEG bytes through serving_default")
                result["jpeg_bytes"].append({"model": folder, **serve_benchmark(
                    folder, args.images, args.batch_size, args.requests, args.batches)})
        result["side_by_side"] = formats_benchmark(args.model, args.images, args.batch_size,
                                                   args.requests, args.batches)
    except (FileNotFoundError, ValueError, ImportError) as e:
        sys.exit(f"error: {e}")
    if args.json:
        from alexnet_tf.distribute import machine
        from alexnet_tf.files import write_json
        write_json(args.json, {**machine(), **result})


if __name__ == "__main__":
    main()
