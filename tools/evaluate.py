r"""Top-1 and top-5 error of one model or an ensemble, with the centre crop or the paper's
10 crops (Sec. 4.1), as a table and optionally JSON.

    python tools/evaluate.py --model runs/demo --data 'runs/demo/data/validation-*'
    python tools/evaluate.py --model runs/a --model runs/b --data 'data/validation-*' \
        --classes data/train.classes.txt --ten_crop --json results.json
    python tools/evaluate.py --model runs/imagenette --data ../shared/data/imagenette2-224/val

--data is a TFRecord glob, or a <class>/<image> folder. --model is a .keras file, a training
workdir or a SavedModel folder; give it several times for an ensemble (averaged softmax).
"""
import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="repeat for an ensemble")
    p.add_argument("--data", required=True, help="TFRecord glob or image folder")
    p.add_argument("--classes", help="class list of the data (default: the model's)")
    p.add_argument("--ten_crop", action="store_true", help="average over the 10 crops")
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--skip_bad_images", action="store_true",
                   help="leave out files of an image folder that are not images")
    args = p.parse_args()

    from tqdm import tqdm

    from alexnet_tf.evaluate import evaluate_paths, table
    try:
        with tqdm(unit=" images", desc="evaluating") as bar:
            result = evaluate_paths(args.model, args.data, args.classes, args.ten_crop,
                                    args.batch_size, lambda n: bar.update(n - bar.n),
                                    args.skip_bad_images)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    print(table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
