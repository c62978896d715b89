r"""Extracts the 4096-d fc7 features (Sec. 6.1) of a dataset to an .npz file (`features`,
`labels`), and optionally, for the images of --query, the indices of the --k nearest
images of --data by Euclidean distance (`neighbours`, `distances`).

    python tools/features.py --model runs/demo --data 'runs/demo/data/train-*' \
        --query 'runs/demo/data/validation-*' --k 6 --output features.npz
    python tools/features.py --model runs/imagenette --data tfds:imagenette/320px-v2 \
        --query 'tfds:imagenette/320px-v2:validation[:8]' --output features.npz

--data and --query are TFRecord globs, <class>/<image> folders, or prepared tfds datasets:
tfds:NAME[:SPLIT] (NAME looked up in --data_dir) or tfds:DIRECTORY[:SPLIT] (the folder
holding its dataset_info.json); SPLIT defaults to train for --data, validation for --query.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from alexnet_tf import cli  # noqa: E402


def build_parser():
    p = cli.Parser(__doc__)
    cli.add_model(p, "keras")
    cli.add_data(p, split="train")
    cli.add_data(p, "--query", what="query images", required=False)
    cli.add_data_dir(p)
    p.add_argument("--k", type=cli.integer(min=1), default=6,
                   help="nearest images of --data per query image")
    cli.add_classes(p)
    p.add_argument("--layer", default="fc7", help="the network layer whose activations are "
                   "the features")
    cli.add_skip_bad_images(p)
    cli.add_output(p, ".npz file to write")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    import numpy as np

    from tqdm import tqdm

    from alexnet_tf import data, features
    from alexnet_tf.export import load_run
    try:
        run = load_run(args.model)
        classes = args.classes or run.wnids

        def read(path, split):
            return data.read_path(path, classes, 64, args.skip_bad_images, args.data_dir,
                                  default_split=split)
        with tqdm(unit=" images", desc="features") as bar:
            feats, labels = features.extract(run.model, read(args.data, "train"), args.layer,
                                             lambda n: bar.update(n - bar.n))
        out = {"features": feats, "labels": labels}
        if args.query:
            q_feats, q_labels = features.extract(run.model, read(args.query, "validation"),
                                                 args.layer)
            out["neighbours"], out["distances"] = features.nearest(feats, q_feats, args.k)
            out["query_labels"] = q_labels
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    np.savez(args.output, **out)
    print(f"{args.output}: " + ", ".join(f"{k} {v.shape}" for k, v in out.items()))


if __name__ == "__main__":
    main()
