"""Prints the top-5 classes of images with an exported SavedModel (tools/export.py, or a
training workdir's saved_model/).

    python tools/predict.py --model runs/demo/saved_model photo.jpg other.png
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="SavedModel folder or training workdir")
    p.add_argument("images", nargs="+", help="image files (JPEG, PNG, GIF, BMP)")
    args = p.parse_args()

    import tensorflow as tf

    from alexnet_tf.data import error_reason
    path = args.model
    if os.path.isdir(os.path.join(path, "saved_model")):
        path = os.path.join(path, "saved_model")
    if not os.path.exists(os.path.join(path, "saved_model.pb")):
        sys.exit(f"error: --model {args.model} is not a SavedModel folder")
    serve = tf.saved_model.load(path).signatures["serving_default"]
    status = 0
    for name in args.images:
        try:
            with open(name, "rb") as f:
                encoded = f.read()
            out = serve(images=tf.constant([encoded]))
        except OSError as e:
            print(f"{name}: error: cannot read: {e.strerror}", file=sys.stderr)
            status = 1
            continue
        except tf.errors.InvalidArgumentError as e:
            print(f"{name}: error: {error_reason(e)}", file=sys.stderr)
            status = 1
            continue
        print(name)
        for wnid, label, prob in zip(out["top5_wnids"][0].numpy(), out["top5_names"][0].numpy(),
                                     out["top5_probabilities"][0].numpy()):
            print(f"  {prob:7.2%}  {wnid.decode()}  {label.decode()}")
    sys.exit(status)


if __name__ == "__main__":
    main()
