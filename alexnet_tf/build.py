"""Builds sharded TFRecords in the TF ImageNet schema from image trees or ILSVRC tars.

Inputs (`build(input=...)`):

* a folder of class folders, `DIR/<wnid>/*` (ILSVRC2012 train, Imagenette, any
  `<split>/<class>/*` tree);
* a flat folder `DIR/*` plus `labels`: a file with one wnid per line for the images in
  sorted file-name order (ILSVRC2012 val with its ground-truth file, e.g.
  `validation_labels.txt`);
* the official train tar of per-class tars (`ILSVRC2012_img_train.tar`, holding
  `n01440764.tar`, ...), read in place without unpacking.

Every image is decoded with TensorFlow (the reader's own decoder) before it is written.
Odd files are handled, and reported in the manifest and on the console:

* CMYK JPEGs, and PNG/GIF/BMP files (whatever their name, e.g. ILSVRC's
  `n02105855_2933.JPEG`, which is a PNG), are re-encoded as RGB JPEG;
* grayscale images become 3-channel JPEGs; an alpha channel is dropped;
* empty, truncated and non-image files are skipped and listed with the reason;
* a class folder not in the class list, or a flat folder whose ground-truth file has
  fewer or more lines than it has images, is an error.

Images are assigned to shards in a seeded random order (ILSVRC folders are class-sorted),
shards are written in parallel, each to a temporary name renamed when complete, and a
re-run with the same options skips complete shards (resume after a crash). Same inputs +
options + seed give byte-identical shards. Outputs in `output_dir`:

    NAME-00000-of-000NN ...    the shards (match them with `NAME-*`)
    NAME.manifest.json         per-shard counts and sha256, classes, options, skipped files
    NAME.<classes file>        the class list (wnid and name), class index = line - 1
                               (`classes_file`; the name is `rundir.CLASSES_FILE`'s)
    .NAME.build/               work files: the plan, per-shard reports, temporary shards

**Resize or keep.** With `resize=True` (default) each image is stored at `image_size`
(the paper's 256x256 by default: shorter side to 256, central crop; Sec. 2), re-encoded at
`quality`; an RGB JPEG already at that size is kept as it is (CIFAR-10's 32x32 JPEGs
with `image_size=32`: no resampling, no second JPEG generation). The stored size is in
the manifest (`options.image_size`, None with `resize=False`), where the readers find it
(`data.stored_size`). Full-size
photos take much less disk, and the input pipeline decodes small images (on Imagenette,
3.5x the images/s of original-size records: README, Performance), at the price of one
extra JPEG generation. With `resize=False` the original bytes are kept wherever they are
already 3-channel (YCbCr) JPEGs: nothing is lost, but the files are larger and every epoch
pays for decoding full-size images and resizing them.
"""
import concurrent.futures
import dataclasses
import hashlib
import json
import os
import random
import sys
import tarfile
import threading

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from alexnet_tf.data import (IMAGE_SIZE, image_kind, image_tree, read_classes, resize_and_crop,
                             shard_files, write_classes)
from alexnet_tf.files import write_json
from alexnet_tf.rundir import CLASSES_FILE


@dataclasses.dataclass(frozen=True)
class Entry:
    """One input image: `name` as reported, its class `wnid`, and where its bytes are:
    a path, or `(tar path, inner tar name, member name)`; `size` its bytes."""
    name: str
    wnid: str
    source: object
    size: int


class BadImage(Exception):
    """An input file that cannot be used; the message is the reason."""


# ---------------------------------------------------------------------------- listing

def _visible(names):
    return sorted(n for n in names if not n.startswith("."))


def list_class_folders(root):
    """Entries of a `root/<class>/<file>` tree, in sorted order (`image_tree`)."""
    return [Entry(f"{wnid}/{os.path.basename(path)}", wnid, path, os.path.getsize(path))
            for wnid, paths in image_tree(root) for path in paths]


def list_flat(root, labels):
    """Entries of a flat folder labelled by a ground-truth file: one wnid per line for the
    files in sorted name order."""
    names = [n for n in _visible(os.listdir(root)) if os.path.isfile(os.path.join(root, n))]
    try:
        with open(labels, encoding="utf-8") as f:
            wnids = [line.split()[0] for line in f if line.strip()]
    except OSError as e:
        raise FileNotFoundError(f"cannot read --labels {labels}: {e.strerror}") from None
    if len(wnids) != len(names):
        first = names[len(wnids)] if len(wnids) < len(names) else None
        raise ValueError(
            f"--labels {labels} has {len(wnids)} labels but {root} has {len(names)} files"
            + (f"; the first file without a label is {first}" if first else "")
            + ". Each line must give the wnid of one file, in sorted file-name order.")
    return [Entry(n, w, os.path.join(root, n), os.path.getsize(os.path.join(root, n)))
            for n, w in zip(names, wnids)]


def list_train_tar(path):
    """Entries of ILSVRC2012's train tar (a tar of `<wnid>.tar` per-class tars)."""
    entries = []
    with tarfile.open(path) as outer:
        for member in outer.getmembers():
            if not (member.isfile() and member.name.endswith(".tar")):
                continue
            wnid = os.path.basename(member.name)[:-4]
            with tarfile.open(fileobj=outer.extractfile(member)) as inner:
                for m in inner.getmembers():
                    if m.isfile():
                        entries.append(Entry(f"{wnid}/{os.path.basename(m.name)}", wnid,
                                             (path, member.name, m.name), m.size))
    return sorted(entries, key=lambda e: e.name)


class _Reader:
    """Reads entry bytes; keeps tar files open (one reader per worker thread)."""

    def __init__(self):
        self._tars = {}

    def read(self, entry):
        if isinstance(entry.source, str):
            with open(entry.source, "rb") as f:
                return f.read()
        path, inner_name, member = entry.source
        if (path, inner_name) not in self._tars:
            outer = self._tars.setdefault(path, tarfile.open(path))
            self._tars[(path, inner_name)] = tarfile.open(
                fileobj=outer.extractfile(inner_name))
        return self._tars[(path, inner_name)].extractfile(member).read()

    def close(self):
        for t in self._tars.values():
            t.close()


# ---------------------------------------------------------------------------- images

def _jpeg_components(data):
    """Number of colour components in a JPEG's frame header (1 gray, 3 YCbCr/RGB,
    4 CMYK/YCCK), or None if no frame header is found."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        # SOF0..SOF15 carry the frame header; C4 (DHT), C8 (JPG), CC (DAC) do not.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return data[i + 9] if i + 9 < len(data) else None
        i += 2 + length
    return None


def prepare_image(data, resize=True, quality=95, image_size=IMAGE_SIZE):
    """Validates and, where needed, converts one image file's bytes: with `resize`, to
    `image_size` x `image_size` (shorter side scaled, central crop), re-encoded at
    `quality` unless it is an RGB JPEG of that size already (kept as it is).

    Returns `(jpeg bytes, height, width, conversions)`, where `conversions` lists what was
    done ("cmyk", "png", "grayscale", "alpha", ...). Raises `BadImage` with the reason
    for files that cannot be used.
    """
    if not data:
        raise BadImage("empty file")
    kind = image_kind(data)
    if kind is None:
        raise BadImage("not an image (unknown file format)")
    try:
        image = tf.io.decode_image(data, channels=0, expand_animations=False)
    except tf.errors.OpError as e:
        reason = e.message.splitlines()[0].split("}}")[-1].strip()[:150]
        raise BadImage(f"cannot decode {kind.upper()} (truncated or corrupt): {reason}") \
            from None
    conversions = [] if kind == "jpeg" else [kind]
    if kind == "jpeg" and _jpeg_components(data) == 4:
        conversions.append("cmyk")  # TF's decoder already gave RGB
    channels = image.shape[-1]
    if channels == 1:
        image = tf.image.grayscale_to_rgb(image)
        conversions.append("grayscale")
    elif channels == 2:  # gray + alpha
        image = tf.image.grayscale_to_rgb(image[..., :1])
        conversions.append("grayscale")
        conversions.append("alpha")
    elif channels == 4:
        image = image[..., :3]
        conversions.append("alpha")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise BadImage("image has no pixels")
    if resize and tuple(image.shape[:2]) == (image_size, image_size) and not conversions:
        resize = False  # already at the stored size: its bytes as they are
    if resize:
        image = resize_and_crop(image, image_size)
    if resize or conversions:
        data = tf.io.encode_jpeg(image, quality=quality, format="rgb").numpy()
    return data, int(image.shape[0]), int(image.shape[1]), conversions


def _bytes(v):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v]))


def _int(v):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[v]))


def make_example(jpeg, index, wnid, name, height, width, filename):
    """A `tf.train.Example` in the TF ImageNet schema. `index` is the 0-based class index;
    `image/class/label` stores `index + 1`, the TF converters' 1..N convention."""
    return tf.train.Example(features=tf.train.Features(feature={
        "image/encoded": _bytes(jpeg),
        "image/format": _bytes(b"JPEG"),
        "image/colorspace": _bytes(b"RGB"),
        "image/channels": _int(3),
        "image/height": _int(height),
        "image/width": _int(width),
        "image/class/label": _int(index + 1),
        "image/class/synset": _bytes(wnid.encode()),
        "image/class/text": _bytes(name.encode()),
        "image/filename": _bytes(filename.encode()),
    }))


# ---------------------------------------------------------------------------- building

def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_shard(entries, classes, names, path, tmp, options, reader, progress):
    """Writes one shard to `tmp`, then renames it to `path`. Returns its report."""
    index = {w: i for i, w in enumerate(classes)}
    skipped, converted, count = [], {}, 0
    with tf.io.TFRecordWriter(tmp) as writer:
        for entry in entries:
            try:
                jpeg, h, w, conversions = prepare_image(reader.read(entry), options["resize"],
                                                        options["quality"],
                                                        options["image_size"])
            except (BadImage, OSError, tarfile.TarError) as e:
                skipped.append({"file": entry.name, "reason": str(e)})
            else:
                i = index[entry.wnid]
                example = make_example(jpeg, i, entry.wnid, names[i], h, w,
                                       os.path.basename(entry.name))
                # deterministic: map entries sorted, not in this process' hash order
                writer.write(example.SerializeToString(deterministic=True))
                count += 1
                for c in conversions:
                    converted.setdefault(c, []).append(entry.name)
            progress(1)
    os.replace(tmp, path)
    return {"file": os.path.basename(path), "count": count, "sha256": _sha256(path),
            "skipped": skipped, "converted": converted}


def classes_file(folder, split="train"):
    """The class list `build` writes for `split` in `folder`."""
    return os.path.join(folder, f"{split}.{CLASSES_FILE}")


def shards_glob(folder, split):
    """The glob that matches the shards `build` writes for `split` in `folder`."""
    return os.path.join(folder, f"{split}-*")


def build(input, output_dir, split, labels=None, classes=None, shards=None, resize=True,
          quality=95, seed=0, workers=None, progress=True, image_size=IMAGE_SIZE,
          select_classes=False, per_class=None):
    """Builds `output_dir/split-*` TFRecord shards; see the module docstring.

    Args:
        input: a class-folder tree, a flat folder (with `labels`), or the ILSVRC2012 train
            tar of per-class tars.
        output_dir: where shards and the manifest go (created if needed).
        split: the shard name prefix, e.g. "train" or "validation".
        labels: ground-truth file for a flat folder (one wnid per line, sorted file order).
        classes: class list file (`read_classes` format, e.g. ILSVRC's
            `synset_words.txt`); default: the sorted class names found in the input.
        shards: number of shards (default: one per ~1,000 images).
        resize: store `image_size` x `image_size` images (True) or keep the originals
            where possible (False).
        quality: JPEG quality for re-encoded images.
        seed: seed of the image-to-shard assignment.
        workers: shards written in parallel (default: the number of CPUs).
        progress: show a progress bar.
        image_size: the stored size with `resize` (256, the paper's; 32 keeps CIFAR-10 as
            it is), recorded in the manifest's options.
        select_classes: with `classes`, build only the images of the listed classes (the
            others are left out, counted in the manifest's `left_out`) instead of
            refusing an input that holds other classes: e.g. 5 of Imagenette's 10.
        per_class: keep this many images of each class (all of a class that has fewer),
            drawn by `seed` (the same seed, the same images): small training sets.

    Returns:
        The manifest (a dict), also written to `output_dir/split.manifest.json`.
    """
    input = os.fspath(input)
    if not os.path.exists(input):
        raise FileNotFoundError(f"--input {input} does not exist")
    if not split or "/" in split or split.startswith("."):
        raise ValueError(f"--split {split!r} must be a plain name such as 'train'")
    if not 1 <= quality <= 100:
        raise ValueError(f"--quality {quality} must be between 1 and 100")
    if not (isinstance(image_size, int) and image_size >= 1):
        raise ValueError(f"--image_size {image_size!r} must be a positive int")
    if os.path.isfile(input):
        if not tarfile.is_tarfile(input):
            raise ValueError(f"--input {input} is a file but not a tar archive")
        entries = list_train_tar(input)
    elif labels is not None:
        entries = list_flat(input, labels)
    else:
        entries = list_class_folders(input)
        if not entries:
            loose = [n for n in _visible(os.listdir(input))
                     if os.path.isfile(os.path.join(input, n))]
            hint = " (it holds files directly: give their ground truth with --labels)" \
                if loose else ""
            raise ValueError(f"--input {input} has no <class>/<image> files{hint}")
    if not entries:
        raise ValueError(f"--input {input} holds no images")

    if select_classes and classes is None:
        raise ValueError("selecting classes needs a class list (--classes)")
    if per_class is not None and not (isinstance(per_class, int) and per_class >= 1):
        raise ValueError(f"--per_class {per_class!r} must be a positive int")
    found = sorted({e.wnid for e in entries})
    left_out = 0
    if classes is not None:
        wnids, names = read_classes(classes)
        if select_classes:
            listed = set(wnids)
            kept = [e for e in entries if e.wnid in listed]
            if not kept:
                raise ValueError(f"{input}: none of its images is of a class in --classes "
                                 f"{classes}")
            left_out, entries = len(entries) - len(kept), kept
            found = sorted({e.wnid for e in entries})
            empty = [w for w in wnids if w not in set(found)]
            if empty:  # a class the net would have but never see (a typo, say)
                more = " ..." if len(empty) > 10 else ""
                raise ValueError(f"{input}: no images of {', '.join(empty[:10])}{more}, "
                                 f"listed in --classes {classes}")
        unknown = sorted(set(found) - set(wnids))
        if unknown:
            where = ""
            if labels is not None:  # name the ground-truth lines that give them
                with open(labels, encoding="utf-8") as f:
                    lines = [n for n, line in enumerate(f, 1)
                             if line.strip() and line.split()[0] in unknown]
                where = (f" (--labels {labels}, line{'s' if len(lines) > 1 else ''} "
                         f"{', '.join(map(str, lines[:10]))}{' ...' if len(lines) > 10 else ''})")
            raise ValueError(f"{input}: classes not in --classes {classes}: "
                             f"{', '.join(unknown[:10])}" + (" ..." if len(unknown) > 10 else "")
                             + where)
    else:
        wnids, names = found, found

    if per_class is not None:
        entries = _per_class(entries, per_class, seed)
    if shards is None:
        shards = max(1, round(len(entries) / 1000))
    if not 1 <= shards <= len(entries):
        raise ValueError(f"--shards {shards} must be between 1 and the number of images "
                         f"({len(entries)})")
    order = list(entries)
    random.Random(seed).shuffle(order)
    parts = [order[i::shards] for i in range(shards)]

    os.makedirs(output_dir, exist_ok=True)
    work = os.path.join(output_dir, f".{split}.build")
    os.makedirs(work, exist_ok=True)
    options = {"input": os.path.abspath(input), "labels": labels and os.path.abspath(labels),
               "classes": classes and os.path.abspath(classes), "resize": bool(resize),
               "quality": int(quality), "seed": int(seed), "shards": int(shards),
               "image_size": int(image_size) if resize else None}
    if select_classes or per_class is not None:  # absent otherwise: older plans still match
        options.update(select_classes=bool(select_classes), per_class=per_class)
    plan = {"options": options, "num_files": len(entries), "classes": wnids,
            "class_names_sha256": _digest(f"{w}\t{n}" for w, n in zip(wnids, names)),
            "files_sha256": _digest(f"{e.name}\t{e.wnid}" for e in order),
            "sizes_sha256": _digest(str(e.size) for e in order)}
    plan_path = os.path.join(work, "plan.json")
    if os.path.exists(plan_path):
        with open(plan_path) as f:
            old = json.load(f)
        if not _same_build(old, plan):
            raise ValueError(
                f"{output_dir} holds a partial or complete '{split}' build with other inputs "
                f"or options ({plan_path}); use a new --output_dir or delete the old "
                f"'{split}' files and {work}.")
    write_json(plan_path, plan)  # where the inputs are now

    bar = _progress(len(entries), f"{split}", progress)
    local = threading.local()
    readers = []

    def run(i):
        path = os.path.join(output_dir, f"{split}-{i:05d}-of-{shards:05d}")
        report_path = os.path.join(work, f"{i:05d}.json")
        if os.path.exists(path) and os.path.exists(report_path):
            with open(report_path) as f:
                report = json.load(f)
            if report["sha256"] == _sha256(path):  # complete from an earlier run
                bar(len(parts[i]))
                return report
        if not hasattr(local, "reader"):
            local.reader = _Reader()
            readers.append(local.reader)
        report = _write_shard(parts[i], wnids, names, path, os.path.join(work, f"{i:05d}.tmp"),
                              options, local.reader, bar)
        write_json(report_path, report)
        return report

    try:
        with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count()) as pool:
            reports = list(pool.map(run, range(shards)))
    finally:
        for r in readers:
            r.close()
        bar(0, close=True)

    write_classes(classes_file(output_dir, split), wnids, names)
    skipped = [s for r in reports for s in r["skipped"]]
    converted = {}
    for r in reports:
        for kind, files in r["converted"].items():
            converted.setdefault(kind, []).extend(files)
    manifest = {
        "split": split, "num_examples": sum(r["count"] for r in reports),
        "num_files": len(entries), "classes": wnids, "class_names": names,
        "label_convention": "image/class/label = class index + 1 (1..N); readers use "
                            "image/class/synset and the class list",
        "options": options,
        "shards": [{k: r[k] for k in ("file", "count", "sha256")} for r in reports],
        "converted": {k: sorted(v) for k, v in sorted(converted.items())},
        "skipped": sorted(skipped, key=lambda s: s["file"]),
    }
    if select_classes:
        manifest["left_out"] = left_out  # images of classes not in the class list
    write_json(os.path.join(output_dir, f"{split}.manifest.json"), manifest)
    return manifest


def _per_class(entries, count, seed):
    """`count` entries of each class (all of a smaller class), drawn by `seed`, in the
    input's order."""
    by_class = {}
    for e in entries:
        by_class.setdefault(e.wnid, []).append(e)
    rng = random.Random(f"per_class {seed}")
    keep = {id(e) for wnid in sorted(by_class)
            for e in rng.sample(by_class[wnid], min(count, len(by_class[wnid])))}
    return [e for e in entries if id(e) in keep]


def _digest(lines):
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _same_build(old, new):
    """Whether the plan of an earlier (maybe partial) build, `old`, describes the same
    build as `new`. A build is its images (file names relative to the input, classes and
    byte sizes: a moved or copied folder is the same build), the class list and the
    options; not where the input, labels and class files are. Plans written before sizes
    were recorded are compared without them; before the stored size was, as 256 (resized)
    or None (kept), what the builder did then."""
    def identity(plan):
        options = {k: v for k, v in plan["options"].items()
                   if k not in ("input", "labels", "classes")}
        options.setdefault("image_size", IMAGE_SIZE if options.get("resize") else None)
        return {**plan, "options": options}
    a, b = identity(old), identity(new)
    for key in ("sizes_sha256", "class_names_sha256"):
        if key not in a:
            b.pop(key)
    return a == b


def _progress(total, label, enabled):
    """A thread-safe progress callback: `bar(n)` advances by n images."""
    if not enabled:
        return lambda n, close=False: None
    # On a terminal, refresh often; in a log file, every 30 s.
    bar = tqdm(total=total, desc=label, unit="img", smoothing=0.1,
               mininterval=0.2 if sys.stderr.isatty() else 30)
    lock = threading.Lock()

    def advance(n, close=False):
        with lock:
            bar.update(n)
            if close:
                bar.close()
    return advance


def summarize(manifest):
    """A human-readable summary of a build: counts, conversions and every skipped file."""
    lines = [f"{manifest['split']}: {manifest['num_examples']:,} images written to "
             f"{len(manifest['shards'])} shards from {manifest['num_files']:,} files, "
             f"{len(manifest['classes'])} classes"]
    for kind, files in manifest["converted"].items():
        lines.append(f"  converted ({kind}): {len(files)}: {', '.join(files[:5])}"
                     + (" ..." if len(files) > 5 else ""))
    lines.append(f"  skipped: {len(manifest['skipped'])}")
    lines += [f"    {s['file']}: {s['reason']}" for s in manifest["skipped"]]
    return "\n".join(lines)


def count_examples(pattern):
    """The number of records of the shards matching `pattern` (e.g. `DIR/SPLIT-*`, or a
    subset such as `DIR/SPLIT-0000[0-3]-*`): from the counts of the builder's manifest
    beside them (`DIR/SPLIT.manifest.json`; a list of globs or files works too) for the
    shards it lists, by reading every
    record of any other shard (shards from other converters)."""
    files = shard_files(pattern)
    counts = {}
    for folder, split in {(os.path.dirname(f), os.path.basename(f).split("-")[0])
                          for f in files}:
        manifest = os.path.join(folder, f"{split}.manifest.json")
        if os.path.exists(manifest):
            with open(manifest) as f:
                counts.update({os.path.join(folder, os.path.basename(s["file"])): s["count"]
                               for s in json.load(f)["shards"]})
    unknown = [f for f in files if f not in counts]
    read = int(tf.data.TFRecordDataset(unknown).reduce(np.int64(0), lambda n, _: n + 1)) \
        if unknown else 0
    return sum(counts[f] for f in files if f in counts) + read
