r"""Builds sharded TFRecords (TF ImageNet schema) from an image tree or ILSVRC2012 tar.

    # a <class>/<image> tree (ILSVRC2012 train, Imagenette):
    python tools/build_tfrecords.py --input train/ --output_dir data/ --split train \
        --classes synset_words.txt
    # ILSVRC2012 val as a flat folder plus its ground truth (one wnid per line):
    python tools/build_tfrecords.py --input val/ --labels validation_labels.txt \
        --output_dir data/ --split validation --classes synset_words.txt
    # the official train tar of per-class tars, read in place:
    python tools/build_tfrecords.py --input ILSVRC2012_img_train.tar --output_dir data/ \
        --split train --classes synset_words.txt --shards 1024

Writes OUT/SPLIT-NNNNN-of-NNNNN shards, OUT/SPLIT.manifest.json and OUT/SPLIT.classes.txt.
Re-running the same command resumes an interrupted build.
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True, help="class-folder tree, flat folder, or train tar")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--split", required=True, help="shard name prefix, e.g. train")
    p.add_argument("--labels", help="ground truth for a flat folder: one wnid per line, "
                                    "sorted file-name order")
    p.add_argument("--classes", help="class list (wnid [name] per line); default: the sorted "
                                     "class folders found")
    p.add_argument("--shards", type=int, help="number of shards (default: ~1000 images each)")
    p.add_argument("--no_resize", action="store_true",
                   help="keep original images instead of storing 256x256")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality of re-encoded images")
    p.add_argument("--seed", type=int, default=0, help="seed of the image-to-shard assignment")
    p.add_argument("--workers", type=int, help="shards written in parallel (default: CPUs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args()
    if args.shards is not None and args.shards < 1:
        sys.exit(f"error: --shards {args.shards} must be at least 1")
    if args.workers is not None and args.workers < 1:
        sys.exit(f"error: --workers {args.workers} must be at least 1")
    if not 1 <= args.quality <= 100:
        sys.exit(f"error: --quality {args.quality} must be between 1 and 100")

    from alexnet_tf.build import build, summarize
    try:
        manifest = build(args.input, args.output_dir, args.split, labels=args.labels,
                         classes=args.classes, shards=args.shards, resize=not args.no_resize,
                         quality=args.quality, seed=args.seed, workers=args.workers,
                         progress=not args.quiet)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    print(summarize(manifest))


if __name__ == "__main__":
    main()
