"""Serving speed of an exported SavedModel (tools/export.py or a training workdir's
saved_model/): JPEG bytes in, top-5 out, through its serving_default signature, loaded in
this fresh process as a server would load it.

    python tools/benchmark_serve.py --model runs/demo/saved_model
    python tools/benchmark_serve.py --model exported/demo --images photos/ --batch_size 64

Prints single-image latency (median, 95th percentile), throughput at --batch_size, and the
share of the batch time spent decoding and resizing. Without --images it encodes the
package's procedural images as 375x500 JPEGs (ImageNet's typical size).
"""
import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a SavedModel folder")
    p.add_argument("--images", help="a folder of image files (default: generated JPEGs)")
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--requests", type=int, default=50, help="single-image requests timed")
    p.add_argument("--batches", type=int, default=5, help="batches timed")
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args()
    for flag in ("batch_size", "requests", "batches"):
        if getattr(args, flag) < 1:
            sys.exit(f"error: --{flag} must be at least 1, got {getattr(args, flag)}")
    if args.images and not os.path.isdir(args.images):
        sys.exit(f"error: --images {args.images}: not a folder")

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
