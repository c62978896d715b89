r"""How much a trained model's response normalization (Sec. 3.3) normalizes on real images.

    python tools/lrn_stats.py --model runs/demo --data 'runs/demo/data/validation-*'
    python tools/lrn_stats.py --model runs/imagenette --data ../shared/data/imagenette2-224/val \
        --images 256 --json lrn.json

Each response-normalization layer divides every activation by
d = (k + alpha * sum of squares over n maps) ** beta, never less than k ** beta. The table
gives d / k ** beta over the activations of --images images (centre crop): median, 99th and
99.9th percentiles, maximum, and the share above 1.01, over the activations that are not
0 (a ReLU's zeros stay 0 whatever the divisor). Values near 1 mean the layer only scales by
the constant k ** beta: the activations are too small against sqrt(k / alpha) for the
normalization to act (`alexnet_tf.features.lrn_denominators`).

--data is a TFRecord glob, a <class>/<image> folder, or a prepared tfds dataset:
tfds:NAME[:SPLIT] (NAME looked up in --data_dir) or tfds:DIRECTORY[:SPLIT] (the folder
holding its dataset_info.json); SPLIT defaults to validation.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from alexnet_tf import cli  # noqa: E402


def build_parser():
    p = cli.Parser(__doc__)
    cli.add_model(p, "keras")
    cli.add_data(p)
    p.add_argument("--images", type=cli.integer(min=1), default=256,
                   help="images to measure (default 256)")
    cli.add_classes(p)
    cli.add_data_dir(p)
    cli.add_skip_bad_images(p)
    cli.add_json(p)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    from tqdm import tqdm

    from alexnet_tf import data, features
    from alexnet_tf.export import load_run
    try:
        run = load_run(args.model)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")  # names --model
    if not features.lrn_layers(run.model):
        sys.exit(f"error: --model {args.model}: its network has no response-normalization "
                 f"layer (trained with model.lrn=False)")
    try:  # the data's errors name its path; they show while reading too
        ds = data.read_path(args.data, args.classes or run.wnids, 64, args.skip_bad_images,
                            args.data_dir)
        with tqdm(total=args.images, unit=" images", desc="lrn", leave=False) as bar:
            stats = features.lrn_denominators(run.model, ds, args.images,
                                              progress=lambda n: bar.update(n - bar.n))
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: --data: {e}")
    print(f"d / k**beta over the non-zero activations of "
          f"{next(iter(stats.values()))['images']} images, centre crop ({args.model}):")
    print(f"{'layer':<8}{'k**beta':>9}{'median':>10}{'99 %':>10}{'99.9 %':>10}{'max':>10}"
          f"{'> 1.01':>9}")
    for name, s in stats.items():
        print(f"{name:<8}{s['k_beta']:>9.4f}{s['median']:>10.4f}{s['p99']:>10.4f}"
              f"{s['p999']:>10.4f}{s['max']:>10.4f}{s['above_1pct']:>9.2%}")
    if args.json:
        try:
            with open(args.json, "w") as f:
                json.dump(stats, f, indent=1)
        except OSError as e:
            sys.exit(f"error: --json {args.json}: {e.strerror}")


if __name__ == "__main__":
    main()
