"""Serving speed of an exported SavedModel (tools/export.py, or the one in a training
workdir): JPEG bytes in, top-5 out, through its serving_default signature, loaded in this
fresh process as a server would load it.

    python tools/benchmark_serve.py --model runs/demo
    python tools/benchmark_serve.py --model exported/demo --images photos/ --batch_size 64

Prints single-image latency (median, 95th percentile), throughput at --batch_size, and the
share of the batch time spent decoding and resizing. Without --images it encodes the
package's procedural images as 375x500 JPEGs (ImageNet's typical size).
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from alexnet_tf import cli  # noqa: E402


def build_parser():
    p = cli.Parser(__doc__)
    cli.add_model(p, "serving")
    p.add_argument("--images", type=cli.existing_dir,
                   help="a folder of image files (default: generated JPEGs)")
    cli.add_batch_size(p, 64)
    p.add_argument("--requests", type=cli.integer(min=1), default=50,
                   help="single-image requests timed")
    p.add_argument("--batches", type=cli.integer(min=1), default=5, help="batches timed")
    cli.add_json(p)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    from alexnet_tf.benchmark import serve_benchmark
    try:
        result = serve_benchmark(args.model, args.images, args.batch_size, args.requests,
                                 args.batches)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
