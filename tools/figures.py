r"""The paper's figures for a trained model, as PNG files: the conv1 kernels (Fig. 3), test
images with their top-5 (Fig. 4 left) and, with --train_data, test images with their
nearest training images in fc7 feature space (Fig. 4 right).

    python tools/figures.py --model runs/demo --data 'runs/demo/data/validation-*' \
        --train_data 'runs/demo/data/train-*' --output figures/
    python tools/figures.py --model runs/paper --data tfds:imagenet2012 \
        --train_data 'tfds:imagenet2012:train[:20000]' --output figures/

--data and --train_data are TFRecord globs, <class>/<image> folders, or prepared tfds
datasets: tfds:NAME[:SPLIT] (NAME looked up in --data_dir) or tfds:DIRECTORY[:SPLIT] (the
folder holding its dataset_info.json); SPLIT defaults to validation for --data, train for
--train_data.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from alexnet_tf import cli  # noqa: E402


def build_parser():
    p = cli.Parser(__doc__)
    cli.add_model(p, "keras")
    cli.add_data(p, what="test images")
    cli.add_data(p, "--train_data", split="train", what="training images (Fig. 4 right)",
                 required=False)
    cli.add_data_dir(p)
    cli.add_classes(p)
    cli.add_output(p, "folder for the PNG files (made if needed)", folder=True)
    p.add_argument("--num", type=cli.integer(min=1), default=8, help="test images shown")
    cli.add_skip_bad_images(p)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    from alexnet_tf.export import load_run
    from alexnet_tf.visualize import make_figures
    try:
        run = load_run(args.model)
        paths = make_figures(run, args.data, args.classes or run.wnids, args.output,
                             args.train_data, args.num, skip_bad=args.skip_bad_images,
                             data_dir=args.data_dir)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    print("\n".join(paths))


if __name__ == "__main__":
    main()
