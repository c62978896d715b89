"""Times the compiled train step of the paper's AlexNet (batch 128, 224 crops of synthetic
uint8 256x256 images, augmentation included) for each placement, with this machine's
float32 matmul peak measured in the same run.

    python tools/benchmark_train.py                      # default and towers placements
    python tools/benchmark_train.py --placements default --steps 10

On a CPU machine the CPU is split into two logical devices so that `towers` can run.
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--placements", default="default,towers",
                   help="comma-separated: default, towers")
    p.add_argument("--batch_size", type=int, default=128)
    p.add_argument("--steps", type=int, default=5, help="timed steps per placement")
    args = p.parse_args()
    placements = args.placements.split(",")
    bad = [x for x in placements if x not in ("default", "towers")]
    if bad:
        sys.exit(f"error: --placements: unknown {bad}; use default and/or towers")

    from alexnet_tf.benchmark import train_benchmark
    from configs import paper
    train_benchmark(paper.get_config(), placements, args.batch_size, args.steps)


if __name__ == "__main__":
    main()
