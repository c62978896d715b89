"""How fast a two-worker run notices a lost worker, with and without the peer watch.

    python tools/benchmark_workers.py --trials 3 --json results/multiworker/lost_worker_detection.json

Two local workers train configs/tiny.py (strategy multi_worker); worker 1 is killed with
SIGKILL at step 6; the time from the kill to worker 0's exit is measured with
config.peer_watch true and false, in turns (alexnet_tf.benchmark_workers).
"""
import os

from alexnet_tf import cli


def build_parser():
    p = cli.Parser(__doc__)
    p.add_argument("--trials", type=cli.integer(min=1, max=20), default=3,
                   help="kills per setting")
    cli.add_json(p)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from alexnet_tf.benchmark_workers import lost_worker_detection
    from alexnet_tf.files import write_json
    rows = lost_worker_detection(args.trials)
    if args.json:
        write_json(args.json, rows)
        print(f"written: {args.json}")


if __name__ == "__main__":
    main()
