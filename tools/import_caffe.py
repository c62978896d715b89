r"""Converts Caffe's bvlc_alexnet weights (`bvlc_alexnet.npy`, a dict layer -> [weights,
biases] as written by the Caffe-to-TensorFlow converters) into our model in its Caffe form
(227 input, Caffe's LRN, Caffe's mean; RGB input), written as a training workdir holds a
model: the Keras model, its class list and a serving SavedModel.

    python tools/import_caffe.py --weights bvlc_alexnet.npy --output runs/caffe \
        --classes ../shared/data/imagenet-meta/synset_words.txt
    python tools/predict.py --model runs/caffe photo.jpg

The file is read without running any pickled code (only NumPy arrays are accepted).
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from alexnet_tf import cli  # noqa: E402


def build_parser():
    p = cli.Parser(__doc__)
    p.add_argument("--weights", required=True, type=cli.existing_file,
                   help="Caffe's weights as a NumPy file, e.g. bvlc_alexnet.npy")
    cli.add_output(p, "folder to write the model to, as a training workdir (made if needed)",
                   folder=True)
    cli.add_classes(p, default="numbers")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    from alexnet_tf import data
    from alexnet_tf.caffe import import_weights
    from alexnet_tf.export import save_run
    try:
        model = import_weights(args.weights)
        n = model.num_classes
        wnids, names = data.read_classes(args.classes) if args.classes else (
            [str(i) for i in range(n)], None)
        if len(wnids) != n:
            sys.exit(f"error: --classes {args.classes} has {len(wnids)} classes, the weights "
                     f"{n}")
        save_run(args.output, model, wnids, names)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    print(f"written to {args.output}: the model, its class list and its SavedModel")


if __name__ == "__main__":
    main()
