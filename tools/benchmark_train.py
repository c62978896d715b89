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
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from alexnet_tf import cli  # noqa: E402


def build_parser():
    p = cli.Parser(__doc__)
    p.add_argument("--placements", type=cli.comma_list("default", "towers"),
                   default="default,towers", help="default, towers")
    p.add_argument("--precisions", default="float32,mixed_bfloat16",
                   type=cli.comma_list("float32", "mixed_bfloat16", "mixed_float16"),
                   help="float32, mixed_bfloat16, mixed_float16")
    p.add_argument("--xla", type=cli.comma_list("true", "false"), default="true,false",
                   help="true, false")
    cli.add_batch_size(p, 128)
    p.add_argument("--steps", type=cli.integer(min=1), default=3,
                   help="timed steps per path and round")
    p.add_argument("--rounds", type=cli.integer(min=1), default=3,
                   help="rounds (each path timed per round)")
    cli.add_json(p)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    from alexnet_tf.benchmark import train_benchmark
    from configs import paper
    results = train_benchmark(paper.get_config(), args.precisions,
                              [v == "true" for v in args.xla], args.placements,
                              args.batch_size, args.steps, args.rounds)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
