"""Local response normalization's two implementations side by side on this machine.

    python tools/benchmark_lrn.py --json results/performance/lrn.json

Forward + backward of the paper's lrn1 and lrn2 (two towers, batch --batch_size) with
`LocalResponseNormalization(implementation="tf")` (tf.nn.local_response_normalization)
and `"matmul"` (the band-matrix form "auto" picks on CPUs), in float32 and bfloat16, timed
in turns (alexnet_tf.benchmark.lrn_benchmark).
"""
import os

from alexnet_tf import cli


def build_parser():
    p = cli.Parser(__doc__)
    cli.add_batch_size(p, 128)
    p.add_argument("--rounds", type=cli.integer(min=1, max=100), default=7,
                   help="rounds of timing, every case once per round (the median is kept)")
    cli.add_json(p)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from alexnet_tf.benchmark import lrn_benchmark
    from alexnet_tf.distribute import machine
    from alexnet_tf.files import write_json
    rows = lrn_benchmark(args.batch_size, args.rounds)
    if args.json:
        write_json(args.json, {**machine(), "batch_size": args.batch_size,
                               "rounds": args.rounds, "rows": rows})
        print(f"written: {args.json}")


if __name__ == "__main__":
    main()
