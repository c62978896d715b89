"""Prints the top-5 classes of images with an exported SavedModel (tools/export.py, or a
training workdir's saved_model/).

    python tools/predict.py --model runs/demo/saved_model photo.jpg other.png

All readable files go to the model in one batch. A file that cannot be read, or that the
model reports bad (its per-image `status`: empty, not an image, undecodable), gets one
error line naming it on stderr; the other files' predictions are printed all the same.
Exit status 1 if any file failed.
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def classify(serve, encoded):
    """`(error, top5 rows)` per image of `encoded`: error None and the rows
    `(probability, wnid, name)` for a served image, else the reason and no rows."""
    import tensorflow as tf

    from alexnet_tf.data import error_reason
    if "status" not in serve.structured_outputs:
        # Exported before per-image status: there one bad image fails its whole batch,
        # so each image goes alone to tell which ones are bad.
        results = []
        for one in encoded:
            try:
                results.extend(classify_batch(serve, [one]))
            except tf.errors.InvalidArgumentError as e:
                results.append((error_reason(e), []))
        return results
    return classify_batch(serve, encoded)


def classify_batch(serve, encoded):
    """`classify`'s results from one call of `serve` with all of `encoded`."""
    import tensorflow as tf
    out = {k: v.numpy() for k, v in serve(images=tf.constant(encoded)).items()}
    results = []
    for i in range(len(encoded)):
        if "status" in out and out["status"][i] != 0:
            results.append((out["error"][i].decode(), []))
            continue
        results.append((None, list(zip(out["top5_probabilities"][i],
                                       [w.decode() for w in out["top5_wnids"][i]],
                                       [n.decode() for n in out["top5_names"][i]]))))
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="SavedModel folder or training workdir")
    p.add_argument("images", nargs="+", help="image files (JPEG, PNG, GIF, BMP)")
    args = p.parse_args()

    from alexnet_tf.export import saved_model_folder
    path = saved_model_folder(args.model)
    if path is None:
        sys.exit(f"error: --model {args.model} is not a SavedModel folder or a training "
                 f"workdir")

    status = 0
    names, encoded = [], []
    for name in args.images:  # all read first, for one batch; unreadable ones left out
        try:
            with open(name, "rb") as f:
                encoded.append(f.read())
            names.append(name)
        except OSError as e:
            print(f"{name}: error: cannot read: {e.strerror}", file=sys.stderr)
            status = 1

    import tensorflow as tf
    serve = tf.saved_model.load(path).signatures["serving_default"]
    for name, (error, rows) in zip(names, classify(serve, encoded) if encoded else []):
        if error is not None:
            print(f"{name}: error: {error}", file=sys.stderr)
            status = 1
            continue
        print(name)
        for prob, wnid, label in rows:
            print(f"  {prob:7.2%}  {wnid}  {label}")
    sys.exit(status)


if __name__ == "__main__":
    main()
