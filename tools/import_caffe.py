r"""Converts Caffe's bvlc_alexnet weights (`bvlc_alexnet.npy`, a dict layer -> [weights,
biases] as written by the Caffe-to-TensorFlow converters) into our model in its Caffe form
(227 input, Caffe's LRN, Caffe's mean; RGB input), saved as .keras and as a SavedModel.

    python tools/import_caffe.py --weights bvlc_alexnet.npy --output runs/caffe \
        --classes ../shared/data/imagenet-meta/synset_words.txt
    python tools/predict.py --model runs/caffe photo.jpg

The file is read without running any pickled code (only NumPy arrays are accepted).
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", required=True, help="bvlc_alexnet.npy")
    p.add_argument("--output", required=True, help="folder for model.keras and saved_model/")
    p.add_argument("--classes", help="class list, e.g. synset_words.txt (default: numbers)")
    args = p.parse_args()
    if not os.path.isfile(args.weights):
        sys.exit(f"error: --weights {args.weights} does not exist")

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
    print(f"written: {args.output}/model.keras, classes.txt, saved_model/")


if __name__ == "__main__":
    main()
