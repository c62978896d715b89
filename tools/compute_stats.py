r"""Computes the mean image, per-channel mean and RGB PCA (eigenvalues/vectors) of a
training set, for mean subtraction and PCA lighting (Sec. 2, 4.1).

    python tools/compute_stats.py --records 'data/train-*' --output data/stats.npz
    python tools/compute_stats.py --records 'data/train-*' --output data/stats.npz \
        --max_images 50000     # a sample: the first 50,000 records in shard order
    python tools/compute_stats.py --data tfds:imagenet2012 --data_dir ~/tensorflow_datasets \
        --output data/stats.npz

--records (or --data) is a TFRecord glob or a prepared tfds dataset: tfds:NAME[:SPLIT]
(NAME looked up in --data_dir) or tfds:DIRECTORY[:SPLIT] (the folder holding its
dataset_info.json); SPLIT defaults to train.

Point a config's `augment.stats` at the output file (`--config.augment.stats=FILE`). Without one, configs use the published
ImageNet values (alexnet_tf.stats.PUBLISHED).
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", "--data", required=True, help="TFRecord glob, e.g. "
                   "'data/train-*', or tfds:NAME[:SPLIT] / tfds:DIRECTORY[:SPLIT] (SPLIT "
                   "default: train)")
    p.add_argument("--data_dir", help="where tfds:NAME datasets are prepared (default: "
                   "tfds' own, ~/tensorflow_datasets)")
    p.add_argument("--output", required=True, help="stats file to write (.npz)")
    p.add_argument("--max_images", type=int, help="use only the first N images")
    args = p.parse_args()
    if args.max_images is not None and args.max_images < 1:
        sys.exit(f"error: --max_images {args.max_images} must be positive")

    from tqdm import tqdm

    from alexnet_tf.stats import compute_stats, describe, save_stats
    try:
        with tqdm(unit=" images", desc="statistics", total=args.max_images) as bar:
            stats = compute_stats(args.records, args.max_images,
                                  progress=lambda n: bar.update(n - bar.n),
                                  data_dir=args.data_dir)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    save_stats(args.output, stats)
    print(describe(stats))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
