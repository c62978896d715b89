"""A training run's data, from its config: which reader (`alexnet_tf.data`), which files,
how many examples, which classes.

`make_data(config, workdir)` returns a `TrainData`: a function giving training epoch `e`
(re-created exactly from the seed, optionally skipping its first batches, for exact
resume), one pass over the validation set, the training-set size and the classes.
Generated data and image folders (`data.source = "generated"` or `"images"`) are first
built into TFRecords in the workdir (`RunDir.data`) by the project's builder. With `data.source =
"tfds"`, `data.train` is a prepared tfds dataset (a name looked up in `data.data_dir`, or
its directory) whose `data.train_split` and `data.validation_split` are read, and
`data.classes` (optional) gives readable names for its labels.

Every source is read at the stored size `data.image_size` (256 for the paper; 32 reads
CIFAR-10 as it is): built TFRecords are built at it, and TFRecords whose manifest records
another size are refused (`data.stored_size`). With `augment.stats = "data"`, the
statistics of the training TFRecords (mean image, channel mean, RGB PCA) are computed once
and written to `RunDir.data` (`TrainData.stats`). `TrainData.train_sample(n, batch_size)` gives the first `n`
training images in a fixed order, for the training error in inference mode
(`alexnet_tf.train_eval`).
"""
import dataclasses
import os

import tensorflow as tf

from alexnet_tf import data, stats
from alexnet_tf.build import build, classes_file, count_examples, shards_glob
from alexnet_tf.rundir import RunDir
from alexnet_tf.synthetic import make_dataset


@dataclasses.dataclass
class TrainData:
    """The data of a run: `epoch(e, skip_batches)` gives training epoch `e` (re-created
    exactly from the seed), `validation` one pass over the validation set. `patterns` and
    `classes` locate the TFRecords (for naming bad records), when the data is TFRecords.
    `stats`: the stats file of the training data (augment.stats "data"), else None.
    `train_sample(n, batch_size)`: the first `n` training images in a fixed order, batched
    (no shuffling, no augmentation), or None for data it cannot take them from."""
    epoch: object
    validation: object
    train_examples: int
    wnids: list
    names: list
    patterns: list
    classes: object
    dropped: object = None  # (train, validation) `DropCounter`s with data.skip_bad_records
    stats: str = None
    train_sample: object = None


def make_data(config, workdir):
    """The `TrainData` of the config's data source; generated and image-folder data are
    built into TFRecords in the workdir (`RunDir.data`) first."""
    d = config.data
    folder = RunDir(workdir).data
    if str(d.train).startswith(data.TFDS_PREFIX):  # the tools' syntax for tfds data
        name, split = data.tfds_path(d.train, None)
        if d.source != "tfds" or split:
            raise ValueError(f"config.data.train={d.train}: for tfds data in training, give "
                             f"--config.data.source=tfds --config.data.train=NAME (or a "
                             f"directory) and the splits as data.train_split and "
                             f"data.validation_split")
        d = config.data.copy_and_resolve_references()  # the caller's config unchanged
        d.train = name
    if (d.select_classes or d.train_per_class) and d.source != "images":
        raise ValueError(f"config.data.select_classes and data.train_per_class work with "
                         f"data.source=images (built from folders), not {d.source}")
    if d.select_classes and not d.classes:
        raise ValueError("config.data.select_classes needs config.data.classes (the classes "
                         "to keep)")
    if d.source != "generated":
        for field in ("train", "validation") if d.source != "tfds" else ("train",):
            if not d[field]:
                raise ValueError(f"config.data.{field} is needed with data.source={d.source} "
                                 f"(--config.data.{field}=...)")
    size = d.image_size
    if d.source == "generated":
        make_dataset(folder, d.generated.classes, d.generated.train_per_class,
                     d.generated.val_per_class, seed=d.generated.seed, image_size=size)
    elif d.source == "images":  # built once; a re-run finds the shards complete
        for split, tree in (("train", d.train), ("validation", d.validation)):
            print(f"building {split} TFRecords from {tree} in {folder} ...")
            # Validation uses the training classes, so the indices agree.
            build(tree, folder, split, seed=config.seed, classes=d.classes if split == "train"
                  else d.classes or classes_file(folder), image_size=size,
                  select_classes=d.select_classes,
                  per_class=d.train_per_class if split == "train" else None)
    if d.source in ("generated", "images"):
        train_pattern = shards_glob(folder, "train")
        val_pattern = shards_glob(folder, "validation")
        classes = d.classes or classes_file(folder)
    elif d.source == "tfrecord":
        train_pattern, val_pattern = d.train, d.validation
        classes = d.classes or classes_file(os.path.dirname(d.train))
    elif d.source in ("tfds", "folder"):
        train_pattern = val_pattern = classes = None
    else:
        raise ValueError(f"config.data.source must be tfrecord, images, generated, tfds or "
                         f"folder, got {d.source!r}")
    common = dict(deterministic=d.fixed_order, shard_policy=d.shard_policy, image_size=size)
    batch = config.batch_size
    if d.skip_bad_records and train_pattern is None:
        raise ValueError(f"config.data.skip_bad_records works with TFRecords (data.source "
                         f"tfrecord, images or generated), not data.source={d.source}")
    dropped = (data.DropCounter(), data.DropCounter()) if d.skip_bad_records else None
    stats_file = sample = None
    if config.augment.stats == "data" and train_pattern is None:
        raise ValueError(f"config.augment.stats=data computes the statistics of TFRecords "
                         f"(data.source tfrecord, images or generated), not of "
                         f"data.source={d.source}: give a stats file (tools/compute_stats.py)")
    if train_pattern is not None:
        for pattern in (train_pattern, val_pattern):
            stored = data.stored_size(pattern)
            if stored not in (None, size):
                raise ValueError(f"config.data.image_size is {size} but the TFRecords "
                                 f"{pattern} are stored at {stored}x{stored} (their "
                                 f"manifest): give --config.data.image_size={stored}")
        if classes is None:
            raise ValueError("config.data.classes is needed with tfrecord data (e.g. the "
                             "class list the builder writes beside its shards, or "
                             "synset_words.txt)")
        n_train = d.train_examples or count_examples(train_pattern)
        n_val = count_examples(val_pattern)

        tolerant = [dict(tolerant=True, counter=c) for c in dropped] if dropped else [{}, {}]

        def train_epoch(epoch, skip=0):
            return data.tfrecord_dataset(train_pattern, classes, batch, training=True,
                                         shuffle_buffer=d.shuffle_buffer, seed=config.seed,
                                         epoch=epoch, skip_batches=skip, **tolerant[0],
                                         **common)
        val = data.tfrecord_dataset(val_pattern, classes, batch, training=False, **tolerant[1],
                                    **common)
        if not dropped:  # a known size: Keras then neither guesses nor warns at the end
            val = val.apply(tf.data.experimental.assert_cardinality(-(-n_val // batch)))
        wnids, names = data.read_classes(classes)
        if config.augment.stats == "data":
            stats_file = data_stats(train_pattern, size, folder)

        def sample(n, batch_size):
            return data.tfrecord_dataset(train_pattern, classes, batch_size, training=False,
                                         deterministic=True, image_size=size).unbatch() \
                .take(n).batch(batch_size)
    elif d.source == "tfds":
        # data.train is a tfds name (looked up in data.data_dir) or a prepared directory;
        # data.classes, if given, only names the labels (tfds fixes their order).
        builder = data.tfds_builder(d.train, d.data_dir)
        n_train = d.train_examples or data.tfds_split_size(builder, d.train_split, d.train)
        data.tfds_split_size(builder, d.validation_split, d.train)
        wnids, names = data.tfds_classes(builder, d.classes, d.train)

        def train_epoch(epoch, skip=0):
            return data.tfds_dataset(d.train, d.train_split, batch, True, data_dir=d.data_dir,
                                     shuffle_buffer=d.shuffle_buffer, seed=config.seed,
                                     epoch=epoch, skip_batches=skip, **common)
        val = data.tfds_dataset(d.train, d.validation_split, batch, False, data_dir=d.data_dir,
                                **common)
    else:  # folder
        tree = data.image_tree(d.train)
        # data.classes fixes the indices (and names) as with TFRecords; by default the
        # sorted class folders.
        wnids, names = (data.read_classes(d.classes) if d.classes
                        else ([name for name, _ in tree],) * 2)
        n_train = d.train_examples or sum(len(paths) for _, paths in tree)

        def train_epoch(epoch, skip=0):
            return data.folder_dataset(d.train, batch, True, classes=wnids, seed=config.seed,
                                       epoch=epoch, skip_batches=skip, **common)
        val = data.folder_dataset(d.validation, batch, False, classes=wnids, **common)
    if config.get("train_eval_examples") and sample is None:
        raise ValueError(f"config.train_eval_examples takes its sample from TFRecords "
                         f"(data.source tfrecord, images or generated), not from "
                         f"data.source={d.source}")
    if config.model.num_classes != len(wnids):
        raise ValueError(f"config.model.num_classes is {config.model.num_classes} but the "
                         f"data has {len(wnids)} classes")
    return TrainData(train_epoch, val, n_train, wnids, names,
                     [p for p in (train_pattern, val_pattern) if p is not None],
                     classes if train_pattern is not None else None, dropped, stats_file,
                     sample)


def data_stats(pattern, image_size, folder):
    """The stats file of the training TFRecords `pattern` (`alexnet_tf.stats`: mean image,
    channel mean, RGB PCA, at `image_size`): `folder/train.stats.npz` (the run's
    `RunDir.data`, where built shards are too), computed and written (atomically) the first
    time. Studies share it with a run's built shards (`study.share_data`)."""
    path = os.path.join(folder, "train.stats.npz")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        print(f"computing the statistics of {pattern} into {path} ...")
        computed = stats.compute_stats(pattern, image_size=image_size)
        tmp = path + ".tmp.npz"
        stats.save_stats(tmp, computed)
        os.replace(tmp, path)
    return path


class BadData(RuntimeError):
    """A record could not be read or decoded; the message names the shard and record."""


def steps_per_epoch(config, d):
    """Training steps per epoch: config.steps_per_epoch, or the data's full batches."""
    full_batches = d.train_examples // config.batch_size
    steps = config.steps_per_epoch or full_batches
    if full_batches < 1:
        raise ValueError(f"{d.train_examples} training images make no full batch of "
                         f"{config.batch_size}")
    if steps > full_batches:
        raise ValueError(f"config.steps_per_epoch is {steps} but the {d.train_examples:,} "
                         f"training images make only {full_batches} batches of "
                         f"{config.batch_size}")
    return steps


def fit_parts(d, config, steps, epoch, step, per_worker=None, shard=lambda ds: ds):
    """The `fit` calls that train epochs `epoch`.. `config.epochs - 1` from step `step` of
    `epoch`: a list of `(dataset, first epoch, last epoch + 1, steps per epoch, first
    step)`, one for the rest of an interrupted epoch, one for the whole epochs after it.

    Every epoch is exactly `steps` batches, so that epochs never run into each other when
    steps_per_epoch is less than the data's batches; fewer (the data ran out) is an error
    from `assert_cardinality` when the epoch ends, where Keras would go on into the next
    epoch's data. With `per_worker` (multi-worker file sharding: a step takes that many
    images of this worker's files) epochs are cut, and a resumed epoch skipped, image by
    image, and batched again. `shard` applies the multi-worker sharding options."""

    def epoch_data(e, skip=0):
        if d.dropped:
            # An epoch shortened by dropped records is refilled from its start, and a
            # resumed epoch skips batches after the drops, as the first run counted them.
            ds = d.epoch(e).repeat(2)
        else:
            ds = d.epoch(e, 0 if per_worker else skip)  # skipped before decoding
        if per_worker:
            n = (steps - skip) * per_worker
            ds = ds.unbatch().skip(skip * per_worker)
        else:
            n = steps - skip
            ds = ds.skip(skip) if d.dropped else ds
        return ds.take(n).apply(tf.data.experimental.assert_cardinality(n))

    def run_data(parts):
        ds = parts[0]
        for part in parts[1:]:
            ds = ds.concatenate(part)
        if per_worker:  # whole batches again; images to complete the last one, never used
            ds = ds.concatenate(parts[-1].repeat().take(config.batch_size))
            ds = ds.batch(config.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
        return shard(ds)

    runs = []
    if step and epoch < config.epochs:  # the rest of the interrupted epoch
        runs.append((run_data([epoch_data(epoch, step)]), epoch, epoch + 1, steps - step, step))
        epoch += 1
    if epoch < config.epochs:
        runs.append((run_data([epoch_data(e) for e in range(epoch, config.epochs)]), epoch,
                     config.epochs, steps, 0))
    return runs


def explain_data_error(error, d, source):
    """Re-raises a TF error from the input pipeline as `BadData`: for TFRecords, naming
    the shards and records at fault (found by reading every record; the original error
    if none is); for other sources (`source`: config.data.train), with TF's reason."""
    if "IteratorGetNext" not in (error.message or ""):
        raise error  # not from the input pipeline: reading every record would not help
    if not d.patterns:
        raise BadData(f"an image of {source} (training or validation data) cannot be read or "
                      f"decoded: {data.error_reason(error)} (the last checkpoint stands; "
                      f"remove or fix the image, then re-run to resume)") from None
    print(f"\n{type(error).__name__} while training; checking the TFRecords ...")
    bad = [b for p in d.patterns for b in data.find_bad_records(p, d.classes)]
    if not bad:
        raise error
    lines = [f"  {shard}: record {index}: {reason}" for shard, index, reason in bad[:20]]
    raise BadData(f"{len(bad)} bad record(s) stopped training (the last checkpoint stands; "
                  f"rebuild these shards, then re-run to resume):\n" + "\n".join(lines)) \
        from None
