"""Builds AlexNet and prints its summary: per-layer output shapes and parameter counts.

    python tools/summary.py                 # the paper's two-tower net: 60,965,224 params
    python tools/summary.py --towers 1      # the paper's one-GPU net: 59,798,312 params
    python tools/summary.py --image_size 227 --conv1_padding 0   # Caffe's input form
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from alexnet_tf import cli  # noqa: E402

# conv1 (11x11, stride 4) and three 3x3 stride-2 poolings leave pool5 empty below this
MIN_PADDED_SIZE = 67


def build_parser():
    p = cli.Parser(__doc__)
    p.add_argument("--towers", type=cli.integer(min=1, max=2), default=2,
                   help="2: the paper's two-GPU net, 1: its one-GPU net")
    p.add_argument("--num_classes", type=cli.integer(min=2), default=1000)
    # fc6 grows with the square of the size: 236M weights (0.9 GB) at 512
    p.add_argument("--image_size", type=cli.integer(min=1, max=512), default=224,
                   help="input height and width")
    p.add_argument("--conv1_padding", type=cli.integer(min=0, max=10), default=2,
                   help="zeros added on each side before conv1 (11x11)")
    return p


def main(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    if args.image_size + 2 * args.conv1_padding < MIN_PADDED_SIZE:
        p.error(f"--image_size {args.image_size} with --conv1_padding {args.conv1_padding} "
                f"is too small: image_size + 2 * conv1_padding must be at least "
                f"{MIN_PADDED_SIZE}")

    from alexnet_tf import alexnet, describe
    print(describe(alexnet(num_classes=args.num_classes, image_size=args.image_size,
                           conv1_padding=args.conv1_padding, towers=args.towers)))


if __name__ == "__main__":
    main()
