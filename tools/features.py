r"""Extracts the 4096-d fc7 features (Sec. 6.1) of a dataset to an .npz file (`features`,
`labels`), and optionally, for the images of --query, the indices of the --k nearest
images of --data by Euclidean distance (`neighbours`, `distances`).

    python tools/features.py --model runs/demo --data 'runs/demo/data/train-*' \
        --query 'runs/demo/data/validation-*' --k 6 --output features.npz
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="training workdir or .keras file")
    p.add_argument("--data", required=True, help="TFRecord glob or <class>/<image> folder")
    p.add_argument("--query", help="TFRecord glob or folder of query images")
    p.add_argument("--k", type=int, default=6)
    p.add_argument("--classes", help="class list (default: the model's classes.txt)")
    p.add_argument("--layer", default="fc7")
    p.add_argument("--skip_bad_images", action="store_true",
                   help="leave out files of an image folder that are not images")
    p.add_argument("--output", required=True, help=".npz file to write")
    args = p.parse_args()
    if args.k < 1:
        sys.exit(f"error: --k {args.k} must be at least 1")

    import numpy as np

    from tqdm import tqdm

    from alexnet_tf import data, features
    from alexnet_tf.export import load_run
    try:
        run = load_run(args.model)
        classes = args.classes or run.wnids
        if classes is None:
            sys.exit("error: --classes is needed: the model has no classes.txt beside it")
        read = lambda path: data.read_path(path, classes, 64, args.skip_bad_images)  # noqa: E731
        with tqdm(unit=" images", desc="features") as bar:
            feats, labels = features.extract(run.model, read(args.data), args.layer,
                                             lambda n: bar.update(n - bar.n))
        out = {"features": feats, "labels": labels}
        if args.query:
            q_feats, q_labels = features.extract(run.model, read(args.query), args.layer)
            out["neighbours"], out["distances"] = features.nearest(feats, q_feats, args.k)
            out["query_labels"] = q_labels
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    np.savez(args.output, **out)
    print(f"{args.output}: " + ", ".join(f"{k} {v.shape}" for k, v in out.items()))


if __name__ == "__main__":
    main()
