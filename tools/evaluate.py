r"""Top-1 and top-5 error of one model or an ensemble, with the centre crop or the paper's
10 crops (Sec. 4.1), as a table and optionally JSON.

    python tools/evaluate.py --model runs/demo --data 'runs/demo/data/validation-*'
    python tools/evaluate.py --model runs/a --model runs/b --data 'data/validation-*' \
        --classes synset_words.txt --ten_crop --json results.json
    python tools/evaluate.py --model runs/imagenette --data ../shared/data/imagenette2-224/val
    python tools/evaluate.py --model runs/paper --data tfds:imagenet2012:validation \
        --data_dir ~/tensorflow_datasets

--data is a TFRecord glob, a <class>/<image> folder, or a prepared tfds dataset:
tfds:NAME[:SPLIT] (NAME looked up in --data_dir, e.g. imagenet2012 or imagenet2012:5.1.0) or
tfds:DIRECTORY[:SPLIT] (the folder holding its dataset_info.json); SPLIT defaults to
validation and may be sliced (validation[:1000]). --model is a .keras file, a training
workdir or a SavedModel folder; give it several times for an ensemble (averaged softmax).
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from alexnet_tf import cli  # noqa: E402


def build_parser():
    p = cli.Parser(__doc__)
    cli.add_model(p, "any", ensemble=True)
    cli.add_data(p)
    cli.add_data_dir(p)
    cli.add_classes(p)
    p.add_argument("--ten_crop", action="store_true", help="average over the 10 crops")
    cli.add_batch_size(p, 64)
    cli.add_json(p)
    cli.add_skip_bad_images(p)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    from tqdm import tqdm

    from alexnet_tf.evaluate import evaluate_paths, table
    try:
        with tqdm(unit=" images", desc="evaluating") as bar:
            result = evaluate_paths(args.model, args.data, args.classes, args.ten_crop,
                                    args.batch_size, lambda n: bar.update(n - bar.n),
                                    args.skip_bad_images, args.data_dir)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    print(table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
