"""Input pipeline speed: TFRecords -> decoded, resized, batched uint8 images, against raw
`tf.io.decode_jpeg` on the same JPEG bytes, on one core and on all cores.

    python tools/benchmark_input.py                         # Imagenette val in ../shared
    python tools/benchmark_input.py --image_dir DIR          # any <class>/<image> tree
    python tools/benchmark_input.py --records 'data/validation-*' --classes synset_words.txt
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from alexnet_tf import cli  # noqa: E402
SHARED_VAL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..",
                          "shared", "data", "imagenette2-224", "val")


def build_parser():
    p = cli.Parser(__doc__)
    p.add_argument("--image_dir", type=cli.existing_dir,
                   help=f"class-folder tree to build from (default: {SHARED_VAL})")
    p.add_argument("--records", type=cli.records,
                   help="existing TFRecord glob (instead of --image_dir)")
    cli.add_classes(p, default="needed with --records")
    cli.add_batch_size(p, 128)
    p.add_argument("--repeats", type=cli.integer(min=1), default=2,
                   help="timed passes (best is reported)")
    return p


def main(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    image_dir = args.image_dir or SHARED_VAL
    if args.records is None and not os.path.isdir(image_dir):
        p.error(f"--image_dir {image_dir} does not exist")

    from alexnet_tf.benchmark import input_benchmark
    try:
        input_benchmark(image_dir, args.records, args.classes, args.batch_size, args.repeats)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
