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
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="training workdir or .keras file")
    p.add_argument("--data", required=True, help="test images: TFRecord glob, image folder, "
                   "or tfds:NAME[:SPLIT] / tfds:DIRECTORY[:SPLIT] (SPLIT default: validation)")
    p.add_argument("--train_data", help="training images (Fig. 4 right): as --data (tfds "
                   "SPLIT default: train)")
    p.add_argument("--data_dir", help="where tfds:NAME datasets are prepared (default: "
                   "tfds' own, ~/tensorflow_datasets)")
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
        paths = make_figures(run, args.data, args.classes or run.wnids, args.output,
                             args.train_data, args.num, skip_bad=args.skip_bad_images,
                             data_dir=args.data_dir)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    print("\n".join(paths))


if __name__ == "__main__":
    main()
