r"""The paper's figures for a trained model, as PNG files: the conv1 kernels (Fig. 3), test
images with their top-5 (Fig. 4 left) and, with --train_data, test images with their
nearest training images in fc7 feature space (Fig. 4 right).

    python tools/figures.py --model runs/demo --data 'runs/demo/data/validation-*' \
        --train_data 'runs/demo/data/train-*' --output figures/
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="training workdir or .keras file")
    p.add_argument("--data", required=True, help="TFRecord glob or image folder of test images")
    p.add_argument("--train_data", help="TFRecord glob or image folder of training images "
                   "(Fig. 4 right)")
    p.add_argument("--classes", help="class list (default: the model's classes.txt)")
    p.add_argument("--output", required=True, help="folder for the PNG files")
    p.add_argument("--num", type=int, default=8, help="test images shown")
    p.add_argument("--skip_bad_images", action="store_true",
                   help="leave out files of an image folder that are not images")
    args = p.parse_args()
    if args.num < 1:
        sys.exit(f"error: --num {args.num} must be at least 1")

    from alexnet_tf.export import load_run
    from alexnet_tf.visualize import make_figures
    try:
        run = load_run(args.model)
        classes = args.classes or run.wnids
        if classes is None:
            sys.exit("error: --classes is needed: the model has no classes.txt beside it")
        paths = make_figures(run, args.data, classes, args.output, args.train_data, args.num,
                             skip_bad=args.skip_bad_images)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    print("\n".join(paths))


if __name__ == "__main__":
    main()
