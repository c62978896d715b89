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

Writes OUT/SPLIT-NNNNN-of-NNNNN shards and, beside them, the split's manifest
(OUT/SPLIT.manifest.json) and class list.
Re-running the same command resumes an interrupted build.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from alexnet_tf import cli  # noqa: E402


def build_parser():
    p = cli.Parser(__doc__)
    p.add_argument("--input", required=True, type=cli.existing_path,
                   help="class-folder tree, flat folder, or train tar")
    p.add_argument("--output_dir", required=True, type=cli.new_dir,
                   help="folder for the shards (made if needed)")
    p.add_argument("--split", required=True, help="shard name prefix, e.g. train")
    p.add_argument("--labels", type=cli.existing_file,
                   help="ground truth for a flat folder: one wnid per line, sorted file-name "
                        "order")
    cli.add_classes(p, default="the sorted class folders found")
    p.add_argument("--shards", type=cli.integer(min=1, max=99999),  # 5-digit shard names
                   help="number of shards (default: ~1000 images each)")
    p.add_argument("--no_resize", action="store_true",
                   help="keep original images instead of storing them at --image_size")
    p.add_argument("--image_size", type=cli.integer(min=1),
                   help="the stored size: shorter side scaled to it, central square kept "
                        "(default 256, the paper's; 32 keeps CIFAR-10 as it is)")
    p.add_argument("--select_classes", action="store_true",
                   help="with --classes: build only the listed classes' images, leaving "
                        "the others out (default: other classes are an error)")
    p.add_argument("--per_class", type=cli.integer(min=1),
                   help="keep this many images of each class, drawn by --seed (default: all)")
    p.add_argument("--quality", type=cli.integer(min=1, max=100), default=95,
                   help="JPEG quality of re-encoded images")
    p.add_argument("--seed", type=cli.integer(min=0), default=0,
                   help="seed of the image-to-shard assignment")
    p.add_argument("--workers", type=cli.integer(min=1),
                   help="shards written in parallel (default: CPUs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.select_classes and not args.classes:
        parser.error("--select_classes needs --classes (the classes to keep)")

    from alexnet_tf.build import build, summarize
    try:
        manifest = build(args.input, args.output_dir, args.split, labels=args.labels,
                         classes=args.classes, shards=args.shards, resize=not args.no_resize,
                         quality=args.quality, seed=args.seed, workers=args.workers,
                         progress=not args.quiet,
                         **({"image_size": args.image_size} if args.image_size else {}),
                         select_classes=args.select_classes, per_class=args.per_class)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    print(summarize(manifest))


if __name__ == "__main__":
    main()
