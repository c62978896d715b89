"""Times the paper's AlexNet (configs/paper.py) at batch 128 on every compute path, side by
side in one run: {float32, bfloat16} x {XLA, no XLA} x {default, towers placement}. For
each: training images/s (augmentation included, through model.fit), GFLOP/s and % of the
same run's matmul peak in that precision, and forward-only (inference) images/s. Also
prints which path `precision="auto"` / `jit_compile="auto"` picks on this machine.

    python tools/benchmark_train.py
    python tools/benchmark_train.py --placements default --precisions mixed_bfloat16 \\
        --xla false --steps 5 --rounds 5 --json bench.json

On a CPU machine the CPU is split into two logical devices so that `towers` can run.
"""
import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _choices(text, allowed, flag):
    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        sys.exit(f"error: {flag} {text!r}: use a comma-separated list of {', '.join(allowed)}")
    return values


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--placements", default="default,towers", help="default, towers")
    p.add_argument("--precisions", default="float32,mixed_bfloat16",
                   help="float32, mixed_bfloat16, mixed_float16")
    p.add_argument("--xla", default="true,false", help="true, false")
    p.add_argument("--batch_size", type=int, default=128)
    p.add_argument("--steps", type=int, default=3, help="timed steps per path and round")
    p.add_argument("--rounds", type=int, default=3, help="rounds (each path timed per round)")
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args()
    placements = _choices(args.placements, ("default", "towers"), "--placements")
    precisions = _choices(args.precisions, ("float32", "mixed_bfloat16", "mixed_float16"),
                          "--precisions")
    xla = [v == "true" for v in _choices(args.xla.lower(), ("true", "false"), "--xla")]
    for flag in ("batch_size", "steps", "rounds"):
        if getattr(args, flag) < 1:
            sys.exit(f"error: --{flag} must be at least 1, got {getattr(args, flag)}")

    from alexnet_tf.benchmark import train_benchmark
    from configs import paper
    results = train_benchmark(paper.get_config(), precisions, xla, placements,
                              args.batch_size, args.steps, args.rounds)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
