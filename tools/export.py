"""Exports a trained model: by default (--format tf_saved_model) as a serving SavedModel,
encoded JPEG/PNG bytes in (any size), top-5 classes, names and probabilities out, with the
paper's preprocessing inside; or for runtimes without TensorFlow (--format litert: a
LiteRT model.tflite; --format onnx: model.onnx), uint8 [batch, 256, 256, 3] images in,
float32 probabilities out, with the class list beside it (alexnet_tf.portable).

    python tools/export.py --model runs/demo --output exported/demo
    python tools/export.py --model runs/demo --output exported/demo10 --ten_crop
    python tools/export.py --model net.keras --classes synset_words.txt --output exported/net
    python tools/export.py --model runs/demo --format litert --output exported/demo-litert
    python tools/export.py --model runs/demo --format onnx --output exported/demo-onnx

--model is a training workdir or a .keras file; the class list is the one beside the model
unless --classes is given. litert and onnx need the extra: pip install -e ".[export]".
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from alexnet_tf import cli  # noqa: E402


def build_parser():
    p = cli.Parser(__doc__)
    cli.add_model(p, "keras")
    cli.add_output(p, "folder to write: the SavedModel, or model.tflite / model.onnx and "
                      "the class list", folder=True)
    cli.add_classes(p, default="the class list beside the model")
    p.add_argument("--ten_crop", action="store_true",
                   help="average the softmax over the paper's 10 crops (10x slower)")
    p.add_argument("--format", default="tf_saved_model",
                   choices=("tf_saved_model", "litert", "onnx"),
                   help="tf_saved_model (image bytes in, top-5 out), litert or onnx (uint8 "
                        "256x256 images in, probabilities out; float32)")
    p.add_argument("--precision", default="auto",
                   choices=("auto", "float32", "mixed_bfloat16", "mixed_float16", "model"),
                   help="what the network serves in: auto (this machine's fastest: bfloat16 "
                        "on CPUs with bfloat16 instructions), a Keras policy, or the model's "
                        "own; litert and onnx: auto or float32 only (both are float32)")
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    portable = args.format != "tf_saved_model"
    if portable and args.precision not in ("auto", "float32"):
        parser.error(f"--precision {args.precision}: --format {args.format} exports float32 "
                     f"only (give auto or float32)")
    from alexnet_tf import data
    from alexnet_tf.export import export_saved_model, load_run, saved_model_folder
    from alexnet_tf.portable import check_installed, export_portable
    from alexnet_tf.rundir import CLASSES_FILE, RunDir
    if saved_model_folder(args.model) == args.model:
        sys.exit(f"error: --model {args.model} is already a SavedModel")
    try:
        if portable:
            check_installed(args.format)  # before the model loads
        run = load_run(args.model)
        home = os.path.dirname(os.path.realpath(run.source))  # the workdir, or the file's folder
        if os.path.realpath(args.output) in (home, RunDir(home).saved_model):
            sys.exit(f"error: --output {args.output} is the model's own folder {home} (or "
                     f"its SavedModel): give a folder of its own for the export")
        wnids, names = data.read_classes(args.classes) if args.classes else (run.wnids,
                                                                             run.names)
        if wnids is None:
            sys.exit("error: --classes is needed: the model has no class list beside it")
        if args.classes and len(wnids) != run.model.num_classes:
            sys.exit(f"error: --classes {args.classes} lists {len(wnids)} classes, but the "
                     f"model predicts {run.model.num_classes}")
        if portable:
            path = export_portable(run.model, args.output, args.format, wnids, names,
                                   args.ten_crop)
        else:
            export_saved_model(run.model, args.output, wnids, names, args.ten_crop,
                               None if args.precision == "model" else args.precision)
    except (ValueError, FileNotFoundError, ImportError) as e:
        sys.exit(f"error: {e}")
    if portable:
        size = run.model.image_size
        print(f"{args.format} model written to {path} (uint8 [batch, {size}, {size}, 3] images "
              f"in, float32 probabilities out), its classes to "
              f"{os.path.join(args.output, CLASSES_FILE)}")
    else:
        print(f"SavedModel written to {args.output} (signatures: serving_default for image "
              f"bytes, serve_images for float images)")


if __name__ == "__main__":
    main()
