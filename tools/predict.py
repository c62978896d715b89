"""Prints the top-5 classes of images with an exported SavedModel (tools/export.py), or
the one in a training workdir.

    python tools/predict.py --model runs/demo photo.jpg other.png

Files go to the model `--batch_size` at a time (`export.predict_files`). A file that
cannot be read, or that the model reports bad (its per-image `status`: empty, not an
image, undecodable), gets one error line naming it on stderr; the other files'
predictions are printed all the same. Exit status 1 if any file failed.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from alexnet_tf import cli  # noqa: E402


def build_parser():
    p = cli.Parser(__doc__)
    cli.add_model(p, "serving")
    p.add_argument("images", nargs="+", help="image files (JPEG, PNG, GIF, BMP)")
    cli.add_batch_size(p, 32, help="images per call of the model")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    import tensorflow as tf

    from alexnet_tf.export import predict_files, saved_model_folder
    path = saved_model_folder(args.model)
    if path is None:
        sys.exit(f"error: --model {args.model} is not a SavedModel folder or a training "
                 f"workdir")
    serve = tf.saved_model.load(path).signatures["serving_default"]
    status = 0
    for name, error, rows in predict_files(serve, args.images, args.batch_size):
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
