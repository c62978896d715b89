"""Input pipeline speed: TFRecords -> decoded, resized, batched uint8 images, against raw
`tf.io.decode_jpeg` on the same JPEG bytes, on one core and on all cores.

    python tools/benchmark_input.py                         # Imagenette val in ../shared
    python tools/benchmark_input.py --image_dir DIR          # any <class>/<image> tree
    python tools/benchmark_input.py --records 'data/validation-*' --classes data/validation.classes.txt
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
SHARED_VAL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..",
                          "shared", "data", "imagenette2-224", "val")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image_dir", default=SHARED_VAL, help="class-folder tree to build from")
    p.add_argument("--records", help="existing TFRecord glob (instead of --image_dir)")
    p.add_argument("--classes", help="class list for --records")
    p.add_argument("--batch_size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=2, help="timed passes (best is reported)")
    args = p.parse_args()
    if args.records is None and not os.path.isdir(args.image_dir):
        sys.exit(f"error: --image_dir {args.image_dir} does not exist")

    from alexnet_tf.benchmark import input_benchmark
    try:
        input_benchmark(args.image_dir, args.records, args.classes, args.batch_size,
                        args.repeats)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
