"""tf.data input for AlexNet: TFRecords, tfds datasets and image folders.

Every source goes through one path after decoding: the image is scaled so its shorter side
is the stored size and its central square patch is kept, as uint8: 256x256 for the paper
(Sec. 2, `IMAGE_SIZE`), a small dataset's own size for CIFAR-10 (32: an image already at
that size is left as it is). The stored size is the data's fact: the builder records it in
its manifest (`options.image_size`), the readers read TFRecords at that size unless told
otherwise (`stored_size`), and a training config says it as `data.image_size`.
Augmentation (random crops, flips, PCA lighting, mean subtraction) is *not* done here: it
runs inside the compiled train step (`alexnet_tf.augment`), so the CPU pipeline only reads
and decodes.

TFRecords use the standard TF ImageNet schema (the tensorflow/tpu and TF-slim
converters', and ours: `alexnet_tf.build`):

    image/encoded       JPEG bytes          image/format       b"JPEG"
    image/class/label   int64, 1..N         image/class/synset wnid, e.g. b"n01440764"
    image/class/text    class name          image/height, image/width  int64
    image/filename      source file name    image/colorspace, image/channels

**Labels.** Those converters store `image/class/label` in 1..1000 (0 is kept for a
"background" class) while tfds and our models use 0..999. To leave no room for an
off-by-one, the readers ignore `image/class/label` and derive the class index from
`image/class/synset` and the class list (`read_classes`): index = position of the wnid in
the list. A record whose synset is not in the list is an error.

**tfds.** A prepared tensorflow-datasets dataset is found by name (in a data_dir) or by its
directory (`tfds_builder`) and read with its images still encoded, so that, as with
TFRecords, the shuffle buffer holds bytes and decoding comes after (`tfds_dataset`). Its
labels are tfds' own (imagenet2012: the wnids in the standard order); a class list only
names them. The tools name such data `tfds:NAME[:SPLIT]` (`read_path`).
"""
import glob
import json
import os
import random
import sys

import tensorflow as tf

from alexnet_tf.cli import TFDS_PREFIX, tfds_path  # noqa: F401 (data.TFDS_PREFIX for readers)
from alexnet_tf.files import write_text

# Sec. 2: images are down-sampled to 256x256. The default stored size (the builder's, the
# readers' for data without a manifest, config.data.image_size's), not a constant of the
# pipeline: a dataset's own size is in its manifest (`stored_size`).
IMAGE_SIZE = 256

FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/class/synset": tf.io.FixedLenFeature([], tf.string),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "image/filename": tf.io.FixedLenFeature([], tf.string, default_value=""),
}


# The first bytes of the image formats TF decodes; the builder and the serving signature
# both recognise images by them.
IMAGE_SIGNATURES = {"jpeg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",),
                    "gif": (b"GIF87a", b"GIF89a"), "bmp": (b"BM",)}


def image_kind(encoded):
    """"jpeg", "png", "gif" or "bmp" from an image file's first bytes, else None."""
    for kind, signatures in IMAGE_SIGNATURES.items():
        if encoded.startswith(signatures):
            return kind
    return None


def _head(path, size=8):
    with open(path, "rb") as f:
        return f.read(size)


def image_tree(root):
    """The classes and files of a `root/<class>/<image>` tree: `[(class, [file paths])]`,
    both sorted. The one rule every reader of such trees follows: a class is a
    subfolder of `root`, a file is a regular file in it; names starting with "." are
    hidden and skipped, and files lying directly in `root` belong to no class (skipped;
    the builder lists them)."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"image folder {root} does not exist")
    tree = []
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name)
        if name.startswith(".") or not os.path.isdir(folder):
            continue
        tree.append((name, [os.path.join(folder, f) for f in sorted(os.listdir(folder))
                            if not f.startswith(".")
                            and os.path.isfile(os.path.join(folder, f))]))
    return tree


def read_classes(path):
    """Reads a class list: one class per line, the wnid first and an optional name after
    it (the format of ILSVRC's `synset_words.txt`: `n01440764 tench, Tinca tinca`).

    Returns `(wnids, names)`; class index = line number - 1.
    """
    wnids, names = [], []
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError as e:
        raise FileNotFoundError(f"cannot read class list {path}: {e.strerror}") from None
    for n, line in enumerate(lines, 1):
        wnid, _, name = line.partition(" ")
        if wnid in wnids:
            raise ValueError(f"{path}:{n}: class {wnid!r} is listed twice")
        wnids.append(wnid)
        names.append(name.strip() or wnid)
    if not wnids:
        raise ValueError(f"class list {path} is empty")
    return wnids, names


def write_classes(path, wnids, names=None):
    """Writes a class list readable by `read_classes`, atomically (`files.write_text`: a
    re-run of the builder replaces the file rather than rewriting it in place, so a kill
    never leaves half a list, nor writes through to runs that share it as a hard link)."""
    write_text(os.fspath(path), "".join(
        f"{wnid} {names[i] if names and names[i] != wnid else ''}".rstrip() + "\n"
        for i, wnid in enumerate(wnids)))


def resize_and_crop(image, size=IMAGE_SIZE):
    """Scales a uint8 HxWxC image so its shorter side is `size` (bilinear, antialiased),
    then keeps the central `size` x `size` patch (Sec. 2). Returns uint8. An image that
    is already `size` x `size` is returned as is."""
    shape = tf.shape(image)

    def resize():
        h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
        scale = tf.cast(size, tf.float32) / tf.minimum(h, w)
        new_h = tf.maximum(size, tf.cast(tf.round(h * scale), tf.int32))
        new_w = tf.maximum(size, tf.cast(tf.round(w * scale), tf.int32))
        resized = tf.image.resize(image, [new_h, new_w], antialias=True)
        top, left = (new_h - size) // 2, (new_w - size) // 2
        cropped = resized[top:top + size, left:left + size]
        return tf.cast(tf.clip_by_value(tf.round(cropped), 0, 255), tf.uint8)

    out = tf.cond(tf.logical_and(shape[0] == size, shape[1] == size),
                  lambda: tf.cast(image, tf.uint8), resize)
    out.set_shape([size, size, image.shape[-1]])
    return out


def stored_size(pattern):
    """The stored image size of TFRecord shards as their builder's manifest beside them
    records it (`DIR/SPLIT.manifest.json`, `options.image_size`; manifests written before
    that field: 256 when resized, as the builder did): an int, or None when the shards
    have no manifest or keep their original sizes (`resize=False`). Shards of one pattern
    that disagree are a `ValueError`."""
    sizes = {}
    for folder, split in sorted({(os.path.dirname(f), os.path.basename(f).split("-")[0])
                                 for f in shard_files(pattern)}):
        path = os.path.join(folder, f"{split}.manifest.json")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            options = json.load(f).get("options", {})
        sizes[path] = options.get("image_size", IMAGE_SIZE if options.get("resize", True)
                                  else None)
    if len(set(sizes.values())) > 1:
        raise ValueError(f"{pattern}: shards of different stored sizes: " + ", ".join(
            f"{path}: {size}" for path, size in sizes.items()))
    return next(iter(sizes.values()), None)


def read_size(image_size, pattern=None):
    """The size a reader delivers: `image_size` if given, else the stored size of
    TFRecords (`stored_size`), else the paper's 256."""
    if image_size is not None:
        return int(image_size)
    return (stored_size(pattern) if pattern is not None else None) or IMAGE_SIZE


def decode(encoded):
    """Decodes JPEG (or PNG/GIF/BMP) bytes to uint8 HxWx3; grayscale becomes 3 channels."""
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def error_reason(error):
    """The readable part of a TF error from an input pipeline or a serving function: the
    text of an assertion of ours (e.g. "image bytes are empty"), else the first line of
    TF's message without its graph decoration."""
    for line in error.message.splitlines():
        if "assertion failed:" in line:
            return line.split("assertion failed:", 1)[1].strip().replace("] [", " ").strip("[]")
    lines = [x.strip() for x in error.message.splitlines() if x.strip()]
    useful = [x for x in lines if not x.startswith(("Graph execution error", "Detected at",
                                                    "File ", "[[", "{{", "<stack traces"))]
    return (useful or lines or ["unknown error"])[0].split("}}")[-1].strip()


def checked(dataset, source):
    """Iterates `dataset`, turning TF's error for a bad record or file (a class not in the
    class list, bytes that do not decode) into one `ValueError` naming `source` and the
    reason, instead of a TF traceback."""
    iterator = iter(dataset)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as e:
            raise ValueError(f"{source}: {error_reason(e)}") from None
        yield batch


def read_path(path, classes, batch_size, skip_bad=False, data_dir=None,
              default_split="validation", image_size=None):
    """One pass over the images at `path`, for evaluation and features, in a fixed order,
    checked (`checked`). `path` is one of:

    * `tfds:NAME[:SPLIT]` or `tfds:DIRECTORY[:SPLIT]`: a prepared tfds dataset
      (`tfds_path`, `tfds_dataset`; a NAME is looked up in `data_dir`), its split
      `default_split` when none is given;
    * a `<class>/<image>` folder (`folder_dataset`; `skip_bad` leaves out its files that
      are not images);
    * else a TFRecord glob (`tfrecord_dataset`).

    `classes` (a class-list path or wnids) fixes the class indices of a folder or
    TFRecords (needed for TFRecords; a folder's default is its sorted class folders); a
    tfds dataset's indices are its own labels, which `classes` must list in order.
    `image_size`: the size images are delivered at (a model's stored size,
    `Classifier.image_size`); None: TFRecords' own (`stored_size`), else 256."""
    path = os.fspath(path)
    if path.startswith(TFDS_PREFIX):
        name, split = tfds_path(path, default_split)
        ds = tfds_dataset(name, split, batch_size, training=False, data_dir=data_dir,
                          classes=classes, deterministic=True, image_size=image_size)
    elif os.path.isdir(path):
        ds = folder_dataset(path, batch_size, training=False, classes=classes,
                            deterministic=True, skip_bad=skip_bad, image_size=image_size)
    else:
        if classes is None:
            raise ValueError(_NEED_CLASSES.format(path=path))
        ds = tfrecord_dataset(path, classes, batch_size, training=False, deterministic=True,
                              image_size=image_size)
    return checked(ds, path)


_NEED_CLASSES = "--classes is needed to read {path}: the model has no class list beside it"


def path_classes(path, classes=None, data_dir=None):
    """`(wnids, names)` of the data at a `read_path` path: from `classes` (a class-list
    path or wnids) when given, else a tfds dataset's label names or a folder's sorted
    class folders (TFRecords need `classes`). For a tfds path, `classes` is checked
    against its labels (`tfds_classes`)."""
    path = os.fspath(path)
    if path.startswith(TFDS_PREFIX):
        name = tfds_path(path, None)[0]
        return tfds_classes(tfds_builder(name, data_dir), classes, name)
    if isinstance(classes, (str, os.PathLike)):
        return read_classes(classes)
    if classes is not None:
        return list(classes), list(classes)
    if os.path.isdir(path):
        folders = [name for name, _ in image_tree(path)]
        return folders, folders
    raise ValueError(_NEED_CLASSES.format(path=path))


def _options(deterministic, shard_policy="auto"):
    options = tf.data.Options()
    options.deterministic = deterministic
    # Under tf.distribute, each worker reads its own part: whole files ("file"), every
    # n-th element ("data"), or whatever works ("auto": files when there are enough).
    policies = tf.data.experimental.AutoShardPolicy
    names = {"auto": policies.AUTO, "file": policies.FILE, "data": policies.DATA,
             "off": policies.OFF}
    if shard_policy not in names:
        raise ValueError(f"config.data.shard_policy must be auto, file, data or off, got "
                         f"{shard_policy!r}")
    options.experimental_distribute.auto_shard_policy = names[shard_policy]
    return options


def epoch_seed(seed, epoch):
    """The seed of one epoch's shuffles, derived from the run's `seed` and the epoch."""
    return (0 if seed is None else int(seed)) * 100_003 + int(epoch)


def _shuffle_and_skip(ds, buffer, seed, epoch, skip):
    """Training shuffle: reshuffled on every pass when `epoch` is None, else fixed by
    `epoch_seed(seed, epoch)` with the first `skip` elements left out (mid-epoch resume)."""
    if epoch is None:
        return ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.shuffle(buffer, seed=epoch_seed(seed, epoch), reshuffle_each_iteration=False)
    return ds.skip(skip) if skip else ds


def resolve_classes(classes):
    """A class list given as wnids or as the path of a class-list file -> wnids."""
    if isinstance(classes, (str, os.PathLike)):
        return read_classes(classes)[0]
    return list(classes)


def _finish(ds, batch_size, training, deterministic, epoch, shard_policy, image_size):
    """The one path after decoding (and shuffling): resize/crop to `image_size` (256 for
    the paper), repeat (training without `epoch`), batch, prefetch. `ds` yields `(uint8
    image, int32 label)`."""
    ds = ds.map(lambda image, label: (resize_and_crop(image, image_size), label),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if training and epoch is None:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=training, num_parallel_calls=tf.data.AUTOTUNE,
                  deterministic=deterministic)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options(deterministic, shard_policy))


class DropCounter:
    """Counts records seen and records dropped by a tolerant (`tolerant=True`) reader.

    Read `seen`, `kept` and `dropped` after (or during) iteration; they accumulate over
    epochs.
    """

    def __init__(self):
        self._seen = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._kept = tf.Variable(0, dtype=tf.int64, trainable=False)

    def count_seen(self, *element):
        """A tf.data map function: counts one record read, returns it unchanged."""
        with tf.control_dependencies([self._seen.assign_add(1)]):
            return tf.nest.map_structure(tf.identity, element if len(element) > 1 else element[0])

    def count_kept(self, *element):
        """A tf.data map function: counts one record decoded, returns it unchanged."""
        with tf.control_dependencies([self._kept.assign_add(1)]):
            return tf.nest.map_structure(tf.identity, element if len(element) > 1 else element[0])

    @property
    def seen(self):
        return int(self._seen.numpy())

    @property
    def kept(self):
        return int(self._kept.numpy())

    @property
    def dropped(self):
        return self.seen - self.kept


def shard_files(pattern):
    """The sorted files matching `pattern` (a glob, or a list of globs or files)."""
    patterns = [pattern] if isinstance(pattern, (str, os.PathLike)) else list(pattern)
    files = sorted(f for p in patterns for f in tf.io.gfile.glob(os.fspath(p)))
    if not files:
        raise FileNotFoundError(f"no TFRecord files match {patterns}")
    return files


def tfrecord_dataset(pattern, classes, batch_size, training, shuffle_buffer=10_000, seed=None,
                     deterministic=False, tolerant=False, counter=None, epoch=None,
                     skip_batches=0, shard_policy="auto", image_size=None):
    """A tf.data pipeline over TFRecord shards in the TF ImageNet schema.

    Args:
        pattern: a glob (e.g. `"data/train-*"`) or a list of globs or files.
        classes: the class list: wnids, or the path of a class list file.
        batch_size: images per batch (the global batch under tf.distribute).
        training: if True, shards and records are shuffled and the last partial batch is
            dropped; the data repeats forever unless `epoch` is given. If False, one pass
            over the shards in sorted order (records in exactly that order only with
            `deterministic=True`).
        shuffle_buffer: serialized records in the shuffle buffer (training only; records
            are shuffled before decoding, so the buffer holds JPEG bytes, not pixels).
        seed: seed for shard order and shuffling.
        deterministic: if True, element order is fixed for a given seed (slower).
        tolerant: if False (default), a corrupt record or undecodable image stops the
            pipeline with TF's error (`find_bad_records` names the shard and record). If
            True, records that are read but cannot be parsed or decoded are dropped and
            counted in `counter`, and a record whose framing is broken (bad length or
            CRC) ends its shard, which cannot be resynchronised: reading moves on to the
            next shard, TF logs a warning, and the records lost after it are not in
            `counter` (compare `counter.kept` per epoch with the manifest's counts).
        counter: a `DropCounter` (tolerant mode), to read how many records were dropped.
        epoch: training only: give one epoch, shuffled with seeds derived from `seed` and
            `epoch` (`epoch_seed`), so that any epoch can be re-created exactly.
        skip_batches: with `epoch`: leave out the epoch's first batches (skipped before
            decoding), to resume in the middle of an epoch. Exact with `deterministic`.
        shard_policy: tf.distribute auto-sharding: "auto", "file", "data" or "off".
        image_size: the size images are delivered at (shorter side scaled to it, central
            square); None: the shards' stored size (`stored_size`: 32 for CIFAR-10 built
            at its own size), else 256 (Sec. 2).

    Returns:
        A `tf.data.Dataset` of `(images uint8 [batch, size, size, 3], labels int32
        [batch])`, size 256 for the paper's data.
    """
    image_size = read_size(image_size, pattern)
    wnids = resolve_classes(classes)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(wnids), tf.range(len(wnids))), -1)
    files = shard_files(pattern)
    if training and epoch is not None:
        random.Random(epoch_seed(seed, epoch)).shuffle(files)
    ds = tf.data.Dataset.from_tensor_slices(files)
    if training and epoch is None and len(files) > 1:
        ds = ds.shuffle(len(files), seed=seed)
    ds = ds.interleave(tf.data.TFRecordDataset,
                       cycle_length=tf.data.AUTOTUNE,
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if training:
        ds = _shuffle_and_skip(ds, shuffle_buffer, seed, epoch, skip_batches * batch_size)
    if tolerant and counter is not None:
        ds = ds.map(counter.count_seen)

    def parse(record):
        ex = tf.io.parse_single_example(record, FEATURES)
        label = table.lookup(ex["image/class/synset"])
        tf.debugging.Assert(label >= 0, ["image/class/synset not in the class list:",
                                         ex["image/class/synset"], ex["image/filename"]])
        return decode(ex["image/encoded"]), label

    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if tolerant:
        ds = ds.ignore_errors(log_warning=True)
        if counter is not None:
            ds = ds.map(counter.count_kept)
    return _finish(ds, batch_size, training, deterministic, epoch, shard_policy, image_size)


def find_bad_records(pattern, classes=None):
    """Reads every record of every shard matching `pattern` one by one and returns
    `[(shard, record index, reason)]` for records that cannot be read, parsed or decoded
    (and, given `classes`, whose synset is not in the class list). For locating what
    stopped a strict pipeline; it reads everything, so it is slow on big datasets."""
    wnids = set(resolve_classes(classes)) if classes is not None else None
    bad = []
    for shard in shard_files(pattern):
        it = iter(tf.data.TFRecordDataset(shard))
        index = 0
        while True:
            try:
                record = next(it)
            except StopIteration:
                break
            except tf.errors.OpError as e:
                bad.append((shard, index, f"unreadable record: {e.message.splitlines()[0]}"))
                break  # a broken frame ends what can be read of this shard
            try:
                ex = tf.io.parse_single_example(record, FEATURES)
                decode(ex["image/encoded"])
                synset = ex["image/class/synset"].numpy().decode()
                if wnids is not None and synset not in wnids:
                    bad.append((shard, index, f"synset {synset!r} not in the class list"))
            except tf.errors.OpError as e:
                bad.append((shard, index, f"cannot parse or decode: "
                                          f"{e.message.splitlines()[0][:200]}"))
            index += 1
    return bad


def folder_dataset(root, batch_size, training, classes=None, seed=None, deterministic=False,
                   epoch=None, skip_batches=0, shard_policy="auto", skip_bad=False,
                   image_size=None):
    """A tf.data pipeline straight from a `root/<class>/<image>` tree (small data).

    `classes` (wnids or a class-list path) fixes the class order; by default the sorted
    folder names. Files are decoded with TF (JPEG, PNG, GIF, BMP). A file whose first
    bytes are not one of those formats is an error naming it, or with `skip_bad` is left
    out (with a line on stderr); a file that has the right first bytes but does not
    decode stops the pipeline (build TFRecords to have odd files reported and handled).
    `epoch`, `skip_batches` and `shard_policy` are as in `tfrecord_dataset`; `image_size`
    is the size images are delivered at (default 256; 32 reads CIFAR-10 as it is). Returns
    the same element structure as `tfrecord_dataset`.
    """
    tree = image_tree(root)
    folders = [name for name, _ in tree]
    if classes is None:
        wnids = folders
    else:
        wnids = resolve_classes(classes)
        unknown = sorted(set(folders) - set(wnids))
        if unknown:
            raise ValueError(f"{root}: class folders not in the class list: {unknown[:5]}")
    files = [f for _, paths in tree for f in paths]
    labels = [wnids.index(name) for name, paths in tree for _ in paths]
    bad = {f for f in files if image_kind(_head(f)) is None}
    if bad and not skip_bad:
        shown = sorted(bad)[:3]
        raise ValueError(f"{len(bad)} file(s) under {root} are not JPEG, PNG, GIF or BMP "
                         f"images: {', '.join(shown)}{' ...' if len(bad) > 3 else ''} (remove "
                         f"them, or skip them: --skip_bad_images)")
    if bad:
        print(f"skipping {len(bad)} file(s) under {root} that are not images",
              file=sys.stderr)
        labels = [y for f, y in zip(files, labels) if f not in bad]
        files = [f for f in files if f not in bad]
    if not files:
        raise FileNotFoundError(f"no images found under {root}/<class>/")
    ds = tf.data.Dataset.from_tensor_slices((files, labels))
    if training:  # file names are cheap to shuffle: the whole list, before decoding
        ds = _shuffle_and_skip(ds, len(files), seed, epoch, skip_batches * batch_size)
    ds = ds.map(lambda f, y: (decode(tf.io.read_file(f)), tf.cast(y, tf.int32)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    return _finish(ds, batch_size, training, deterministic, epoch, shard_policy,
                   read_size(image_size))


def tfds_builder(name, data_dir=None):
    """The builder of a prepared tfds image classification dataset; nothing is downloaded
    or prepared here.

    `name` is the directory of a prepared dataset version (the folder holding its
    `dataset_info.json`, e.g. `~/tensorflow_datasets/imagenet2012/5.1.0`), or a tfds name
    (`imagenet2012`, `imagenette/320px-v2`, `NAME:VERSION`) prepared in `data_dir` (tfds'
    default, `~/tensorflow_datasets`, when None): registered with tfds, or found only as
    files there (prepared by a builder of your own). The dataset needs an `image` feature
    (`tfds.features.Image`, uint8) and a `label` feature (`tfds.features.ClassLabel`).
    Anything else raises `FileNotFoundError` or `ValueError`, one line naming `name`.
    """
    import tensorflow_datasets as tfds

    name = os.fspath(name)
    directory = os.path.expanduser(name)  # `--data=tfds:~/...`: the shell leaves that ~
    if os.path.isdir(directory):
        if not os.path.isfile(os.path.join(directory, "dataset_info.json")):
            # Often the dataset's folder (versions inside) or a whole data_dir was given.
            below = [os.path.dirname(p) for depth in ("*", "*/*") for p in sorted(glob.glob(
                os.path.join(glob.escape(directory), depth, "dataset_info.json")))]
            raise FileNotFoundError(
                f"{name} is not a prepared tfds dataset (no dataset_info.json in it)"
                + (f"; prepared datasets below it: {', '.join(below[:3])}" if below else ""))
        builder = tfds.builder_from_directory(directory)
    elif os.path.isabs(directory) or name.startswith("."):
        raise FileNotFoundError(f"tfds dataset directory {name} does not exist")
    else:
        try:
            builder = tfds.builder(name, data_dir=data_dir and os.path.expanduser(data_dir))
        except Exception as e:  # tfds raises several types, with pages of text
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ValueError(
                f"tfds dataset {name!r} is neither a registered tfds name, nor prepared in "
                f"{data_dir or 'the default data_dir'}, nor a directory ({reason})") from None
        if not builder.is_prepared():
            raise FileNotFoundError(
                f"tfds dataset {name!r} is not prepared in {builder.data_dir}: prepare it "
                f"first (README, \"tfds data\"), or give the data_dir it was prepared in; "
                f"nothing is downloaded here")
    features = builder.info.features
    image = features["image"] if "image" in features else None
    label = features["label"] if "label" in features else None
    if not (isinstance(image, tfds.features.Image) and tf.as_dtype(image.np_dtype) == tf.uint8
            and isinstance(label, tfds.features.ClassLabel)):
        have = ", ".join(f"{k} ({type(v).__name__})" for k, v in features.items())
        raise ValueError(f"tfds dataset {name!r} needs an 'image' feature (tfds Image, uint8) "
                         f"and a 'label' feature (tfds ClassLabel); it has {have}")
    return builder


def tfds_split_size(builder, split, name):
    """The number of examples in `split` (a split, or tfds' slicing of one, e.g.
    `train[:1000]`) of a `tfds_builder`'s dataset; a split it does not have is a
    `ValueError` naming `name` and listing the splits it has."""
    try:
        return builder.info.splits[split].num_examples
    except (KeyError, ValueError) as e:
        reason = (str(e).strip().splitlines() or [""])[-1]
        known = ", ".join(builder.info.splits)
        raise ValueError(f"tfds dataset {name!r} has no split {split!r}; its splits are {known}"
                         + ("" if "Unknown split" in reason else f" ({reason})")) from None


def tfds_classes(builder, classes, name):
    """`(wnids, names)` of a `tfds_builder`'s labels, index = tfds label: the `label`
    feature's names (for imagenet2012 the wnids, in the standard order). `classes` (a
    class-list path such as ILSVRC's synset_words.txt, or wnids) gives readable names; it
    must list exactly those label names in the same order (else a `ValueError`: the
    labels are tfds', a class list cannot reorder them). None: names = label names."""
    labels = list(builder.info.features["label"].names)
    if classes is None:
        return labels, labels
    if isinstance(classes, (str, os.PathLike)):
        (wnids, names), where = read_classes(classes), os.fspath(classes)
    else:
        wnids = names = list(classes)
        where = "the classes " + ", ".join(wnids[:3]) + (", ..." if len(wnids) > 3 else "")
    if wnids != labels:
        if len(wnids) != len(labels):
            differ = f"{len(wnids)} classes there, {len(labels)} labels in the dataset"
        else:
            i = next(i for i, (a, b) in enumerate(zip(wnids, labels)) if a != b)
            differ = f"class {i} is {wnids[i]!r} there, {labels[i]!r} in the dataset"
        raise ValueError(f"{where}: not the label names of tfds dataset {name!r} in their "
                         f"order ({differ}); give a class list of exactly its labels, or none")
    return wnids, names


def tfds_dataset(name, split, batch_size, training, data_dir=None, classes=None,
                 shuffle_buffer=10_000, seed=None, deterministic=False, epoch=None,
                 skip_batches=0, shard_policy="auto", image_size=None):
    """A tf.data pipeline from a prepared tfds image classification dataset (nothing is
    downloaded).

    `name` and `data_dir` are as in `tfds_builder`: a tfds name prepared in `data_dir`
    (e.g. `imagenet2012`: labels 0..999 in the standard wnid order), or the directory of a
    prepared dataset. `split` is a split or tfds' slicing of one (`train[:1000]`). Labels
    are tfds'; `classes`, if given, is checked to list the dataset's label names in order
    (`tfds_classes`). Images are read still encoded, shuffled and skipped as bytes (the
    shuffle buffer holds JPEG/PNG bytes, not pixels; a mid-epoch resume decodes nothing
    it skips), then decoded once each (`decode`) and resized like every other source.
    `shuffle_buffer`, `seed`, `deterministic`, `epoch`, `skip_batches` and `shard_policy`
    are as in `tfrecord_dataset`; `image_size` as in `folder_dataset` (default 256).

    Returns the same element structure as `tfrecord_dataset`.
    """
    ds = tfds_encoded(name, split, data_dir, classes, shuffle_files=training,
                      seed=seed if epoch is None else epoch_seed(seed, epoch))
    if training:
        ds = _shuffle_and_skip(ds, shuffle_buffer, seed, epoch, skip_batches * batch_size)
    ds = ds.map(lambda encoded, label: (decode(encoded), label),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    return _finish(ds, batch_size, training, deterministic, epoch, shard_policy,
                   read_size(image_size))


def tfds_encoded(name, split, data_dir=None, classes=None, shuffle_files=False, seed=None):
    """The examples of a split of a prepared tfds dataset as `(encoded image bytes, int32
    label)`, undecoded; `name`, `split`, `data_dir` and `classes` as in `tfds_dataset`.
    `shuffle_files` with `seed` shuffles the order of the dataset's files, else they are
    read in order."""
    import tensorflow_datasets as tfds

    builder = tfds_builder(name, data_dir)
    tfds_split_size(builder, split, name)
    tfds_classes(builder, classes, name)
    ds = builder.as_dataset(split=split, shuffle_files=shuffle_files,
                            decoders={"image": tfds.decode.SkipDecoding()},
                            read_config=tfds.ReadConfig(shuffle_seed=seed))
    # Only the bytes and the label go on: other features (file names...) would sit in
    # the shuffle buffer for nothing.
    return ds.map(lambda ex: (ex["image"], tf.cast(ex["label"], tf.int32)))
