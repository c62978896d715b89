"""Builds AlexNet and prints its summary: per-layer output shapes and parameter counts.

    python tools/summary.py                 # the paper's two-tower net: 60,965,224 params
    python tools/summary.py --towers 1      # the paper's one-GPU net: 59,798,312 params
    python tools/summary.py --image_size 227 --conv1_padding 0   # Caffe's input form
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--towers", type=int, default=2, choices=(1, 2))
    parser.add_argument("--num_classes", type=int, default=1000)
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--conv1_padding", type=int, default=2)
    args = parser.parse_args()

    from alexnet_tf import alexnet, describe
    print(describe(alexnet(num_classes=args.num_classes, image_size=args.image_size,
                           conv1_padding=args.conv1_padding, towers=args.towers)))


if __name__ == "__main__":
    main()
