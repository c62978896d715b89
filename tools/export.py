"""Exports a trained model as a serving SavedModel: encoded JPEG/PNG bytes in (any size),
top-5 classes, names and probabilities out, with the paper's preprocessing inside.

    python tools/export.py --model runs/demo --output exported/demo
    python tools/export.py --model runs/demo --output exported/demo10 --ten_crop
    python tools/export.py --model net.keras --classes synset_words.txt --output exported/net

--model is a training workdir or a .keras file; the class list is the one beside the model
unless --classes is given.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from alexnet_tf import cli  # noqa: E402


def build_parser():
    p = cli.Parser(__doc__)
    cli.add_model(p, "keras")
    cli.add_output(p, "SavedModel folder to write", folder=True)
    cli.add_classes(p, default="the class list beside the model")
    p.add_argument("--ten_crop", action="store_true",
                   help="average the softmax over the paper's 10 crops (10x slower)")
    p.add_argument("--precision", default="auto",
                   choices=("auto", "float32", "mixed_bfloat16", "mixed_float16", "model"),
                   help="what the network serves in: auto (this machine's fastest: bfloat16 "
                        "on CPUs with bfloat16 instructions), a Keras policy, or the model's "
                        "own")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    from alexnet_tf import data
    from alexnet_tf.export import export_saved_model, load_run, saved_model_folder
    if saved_model_folder(args.model) == args.model:
        sys.exit(f"error: --model {args.model} is already a SavedModel")
    try:
        run = load_run(args.model)
        wnids, names = data.read_classes(args.classes) if args.classes else (run.wnids,
                                                                             run.names)
        if wnids is None:
            sys.exit("error: --classes is needed: the model has no class list beside it")
        export_saved_model(run.model, args.output, wnids, names, args.ten_crop,
                           None if args.precision == "model" else args.precision)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    print(f"SavedModel written to {args.output} (signatures: serving_default for image "
          f"bytes, serve_images for float images)")


if __name__ == "__main__":
    main()
