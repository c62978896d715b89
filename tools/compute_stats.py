r"""Computes the mean image, per-channel mean and RGB PCA (eigenvalues/vectors) of a
training set, for mean subtraction and PCA lighting (Sec. 2, 4.1).

    python tools/compute_stats.py --data 'data/train-*' --output data/stats.npz
    python tools/compute_stats.py --data 'data/train-*' --output data/stats.npz \
        --max_images 50000     # a sample: the first 50,000 records in shard order
    python tools/compute_stats.py --data tfds:imagenet2012 --data_dir ~/tensorflow_datasets \
        --output data/stats.npz

--data (or --records) is a TFRecord glob or a prepared tfds dataset: tfds:NAME[:SPLIT]
(NAME looked up in --data_dir) or tfds:DIRECTORY[:SPLIT] (the folder holding its
dataset_info.json); SPLIT defaults to train.

Point a config's `augment.stats` at the output file (`--config.augment.stats=FILE`). Without one, configs use the published
ImageNet values (alexnet_tf.stats.PUBLISHED).
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from alexnet_tf import cli  # noqa: E402


def build_parser():
    p = cli.Parser(__doc__)
    cli.add_data(p, split="train", what="training images", folders=False, alias="--records")
    cli.add_data_dir(p)
    cli.add_output(p, "stats file to write (.npz)")
    p.add_argument("--max_images", type=cli.integer(min=1), help="use only the first N images")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    from tqdm import tqdm

    from alexnet_tf.stats import compute_stats, describe, save_stats
    try:
        with tqdm(unit=" images", desc="statistics", total=args.max_images) as bar:
            stats = compute_stats(args.data, args.max_images,
                                  progress=lambda n: bar.update(n - bar.n),
                                  data_dir=args.data_dir)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    save_stats(args.output, stats)
    print(describe(stats))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
