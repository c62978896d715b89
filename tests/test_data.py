import glob
import re

import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf import build as B
from alexnet_tf import data as D
from images import encode, image_array, write_tree

CLASSES = ["n00000001", "n00000002"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A clean tree (no odd files), built to TFRecords."""
    base = tmp_path_factory.mktemp("data")
    write_tree(base / "tree", classes=CLASSES, per_class=7, odd=False)
    B.build(base / "tree", base / "records", "train", shards=3, progress=False)
    return base


def all_of(ds):
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(images), np.concatenate(labels)


def test_resize_and_crop_geometry():
    # 100 x 400 image: left quarter red, right quarter blue, middle half green. Shorter
    # side 100 -> 256 scales width to 1024; the central 256 columns are all green.
    image = np.zeros((100, 400, 3), "uint8")
    image[:, :100, 0] = 255
    image[:, 100:300, 1] = 255
    image[:, 300:, 2] = 255
    out = D.resize_and_crop(tf.constant(image)).numpy()
    assert out.shape == (256, 256, 3) and out.dtype == np.uint8
    assert np.all(out[..., 1] == 255) and np.all(out[..., [0, 2]] == 0)
    # Portrait, and an image smaller than 256 (scaled up).
    assert D.resize_and_crop(tf.zeros((300, 200, 3), tf.uint8)).shape == (256, 256, 3)
    assert D.resize_and_crop(tf.zeros((20, 30, 3), tf.uint8)).shape == (256, 256, 3)


def test_resize_and_crop_in_tf_data_and_tf_function():
    image = tf.constant(image_array(3, 90, 120))
    eager = D.resize_and_crop(image).numpy()
    in_data = next(iter(tf.data.Dataset.from_tensors(image).map(D.resize_and_crop))).numpy()
    graph = tf.function(D.resize_and_crop)(image).numpy()
    np.testing.assert_array_equal(in_data, eager)
    np.testing.assert_array_equal(graph, eager)


def test_tfrecords_and_folder_give_the_same_images(tree):
    records_images, records_labels = all_of(D.tfrecord_dataset(
        str(tree / "records/train-*"), CLASSES, 4, training=False, deterministic=True))
    folder_images, folder_labels = all_of(D.folder_dataset(tree / "tree", 4, training=False))
    assert records_images.shape == (14, 256, 256, 3) and records_images.dtype == np.uint8
    # Same multiset of labels; same images up to one JPEG generation (the builder stores
    # 256x256 re-encoded images, the folder reader decodes and resizes the originals).
    assert sorted(records_labels) == sorted(folder_labels) == [0] * 7 + [1] * 7
    key = lambda images: np.argsort(images.reshape(len(images), -1).mean(1))  # noqa: E731
    diff = np.abs(records_images[key(records_images)].astype(int)
                  - folder_images[key(folder_images)].astype(int))
    assert diff.mean() < 3


def test_labels_come_from_the_synset_and_class_list(tree, tmp_path):
    # Reversing the class list reverses the labels: the 1-based image/class/label field
    # is not used.
    _, labels = all_of(D.tfrecord_dataset(str(tree / "records/train-*"), CLASSES, 20,
                                          training=False, deterministic=True))
    _, reversed_labels = all_of(D.tfrecord_dataset(str(tree / "records/train-*"),
                                                   CLASSES[::-1], 20, training=False, deterministic=True))
    np.testing.assert_array_equal(reversed_labels, 1 - labels)
    classes_file = tree / "records/train.classes.txt"
    _, from_file = all_of(D.tfrecord_dataset(str(tree / "records/train-*"), classes_file, 20,
                                             training=False, deterministic=True))
    np.testing.assert_array_equal(from_file, labels)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not in the class list"):
        all_of(D.tfrecord_dataset(str(tree / "records/train-*"), ["n00000001"], 20,
                                  training=False, deterministic=True))


def test_training_mode_repeats_shuffles_and_drops_remainder(tree):
    """Training: each pass over the 14 images is a permutation of them, not the file
    order, and another one on the next pass; batches are full; a seed fixes it all."""
    pattern = str(tree / "records/train-*")
    file_order, _ = all_of(D.tfrecord_dataset(pattern, CLASSES, 4, training=False,
                                              deterministic=True))
    assert len(file_order) == 14

    def positions(images):  # each image's position in file order (the images all differ)
        flat = file_order.reshape(14, -1)
        return [int(np.flatnonzero((flat == x.reshape(-1)).all(1))[0]) for x in images]

    ds = D.tfrecord_dataset(pattern, CLASSES, 4, training=True, seed=1, shuffle_buffer=100,
                            deterministic=True)
    batches = [(x.numpy(), y.numpy()) for x, y in ds.take(10)]  # 10 x 4 > 14 images
    assert all(len(y) == 4 for _, y in batches)
    order = positions(np.concatenate([x for x, _ in batches]))
    first, second = order[:14], order[14:28]
    assert sorted(first) == sorted(second) == list(range(14))  # it repeats, whole passes
    assert first != list(range(14)), "training order is the file order: not shuffled"
    assert second != first, "every pass should be shuffled anew"
    # Records are shuffled, not only shards: some shard's records leave their order.
    shards = [positions(all_of(D.tfrecord_dataset(f, CLASSES, 4, training=False,
                                                  deterministic=True))[0])
              for f in sorted(glob.glob(pattern))]
    assert len(shards) == 3 and sorted(sum(shards, [])) == list(range(14))
    in_shard_order = [[p for p in first if p in shard] == shard for shard in shards]
    assert not all(in_shard_order), "records keep their order within each shard"
    again = [y.numpy() for _, y in D.tfrecord_dataset(
        pattern, CLASSES, 4, training=True, seed=1, shuffle_buffer=100,
        deterministic=True).take(10)]
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]),
                                  np.concatenate(again))
    eval_batches = [y.numpy() for _, y in D.tfrecord_dataset(
        pattern, CLASSES, 4, training=False)]
    assert [len(b) for b in eval_batches] == [4, 4, 4, 2]  # one pass, remainder kept


def write_records(path, payloads):
    with tf.io.TFRecordWriter(str(path)) as w:
        for i, jpeg in enumerate(payloads):
            w.write(B.make_example(jpeg, 0, CLASSES[0], "x", 10, 10, f"{i}.JPEG")
                    .SerializeToString(deterministic=True))


def test_strict_fails_tolerant_counts_and_bad_records_are_named(tmp_path):
    good = encode(image_array(0))
    write_records(tmp_path / "train-00000-of-00002", [good, good])
    write_records(tmp_path / "train-00001-of-00002", [good, b"garbage, not a jpeg", good])
    pattern = str(tmp_path / "train-*")
    with pytest.raises(tf.errors.InvalidArgumentError):
        all_of(D.tfrecord_dataset(pattern, CLASSES, 2, training=False))
    counter = D.DropCounter()
    images, _ = all_of(D.tfrecord_dataset(pattern, CLASSES, 2, training=False, tolerant=True,
                                          counter=counter))
    assert len(images) == 4
    assert (counter.seen, counter.kept, counter.dropped) == (5, 4, 1)
    bad = D.find_bad_records(pattern)
    assert [(b[0], b[1]) for b in bad] == [(str(tmp_path / "train-00001-of-00002"), 1)]
    assert "decode" in bad[0][2]


def test_broken_frame_is_named(tmp_path):
    good = encode(image_array(0))
    path = tmp_path / "train-00000-of-00001"
    write_records(path, [good, good, good])
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # flip a byte inside the second record: its CRC fails
    path.write_bytes(bytes(raw))
    with pytest.raises(tf.errors.DataLossError):
        all_of(D.tfrecord_dataset(str(path), CLASSES, 2, training=False))
    [(shard, index, reason)] = D.find_bad_records(str(path))
    assert (shard, index) == (str(path), 1) and "corrupted record" in reason


def test_missing_files_and_classes_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no TFRecord files match"):
        D.tfrecord_dataset(str(tmp_path / "none-*"), CLASSES, 2, training=False)
    with pytest.raises(FileNotFoundError, match="cannot read class list"):
        D.read_classes(tmp_path / "missing.txt")
    (tmp_path / "dup.txt").write_text("n1 a\nn1 b\n")
    with pytest.raises(ValueError, match="dup.txt:2: class 'n1' is listed twice"):
        D.read_classes(tmp_path / "dup.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        D.folder_dataset(tmp_path / "nowhere", 2, training=False)


def test_tfds_prepared_dataset(tree, tmp_path):
    """A real prepared tfds dataset (written by tfds' TfDataBuilder), read like
    imagenet2012 would be."""
    import tensorflow_datasets as tfds
    images = np.stack([image_array(i, 50, 70) for i in range(5)])
    labels = np.array([0, 1, 1, 0, 1])
    builder = tfds.dataset_builders.TfDataBuilder(
        name="tiny_images", version="1.0.0", data_dir=str(tmp_path),
        split_datasets={"train": tf.data.Dataset.from_tensor_slices(
            {"image": images, "label": labels})},
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(50, 70, 3)),
            "label": tfds.features.ClassLabel(num_classes=2)}))
    builder.download_and_prepare()
    got_images, got_labels = all_of(D.tfds_dataset(builder.data_dir, "train", 2,
                                                   training=False, deterministic=True))
    # tfds shuffles examples when preparing: pair each image with its original.
    want = np.stack([D.resize_and_crop(tf.constant(i)).numpy() for i in images]).astype(int)
    assert len(got_images) == 5
    for image, label in zip(got_images.astype(int), got_labels):
        distances = np.abs(want - image).mean(axis=(1, 2, 3))
        assert distances.min() < 1  # tfds stores the images losslessly (PNG)
        assert labels[distances.argmin()] == label
    with pytest.raises(ValueError, match="has no split 'validation'; its splits are train"):
        D.tfds_dataset(builder.data_dir, "validation", 2, training=False)
    # A registered name that is not prepared: nothing is downloaded, the user is told how.
    with pytest.raises(FileNotFoundError, match=(
            rf"tfds dataset 'imagenet2012' is not prepared in {re.escape(str(tmp_path))}\S*: "
            r"prepare it first \(README, \"tfds data\"\), or give the data_dir it was "
            r"prepared in; nothing is downloaded here")):
        D.tfds_dataset("imagenet2012", "train", 2, training=False, data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="tfds dataset 'no_such_dataset' is neither a "
                                         "registered tfds name, nor prepared in "):
        D.tfds_dataset("no_such_dataset", "train", 2, training=False, data_dir=str(tmp_path))


@pytest.mark.parametrize("source", ["tfrecord", "folder"])
def test_epochs_are_recreated_exactly_and_skip_resumes_mid_epoch(tree, source):
    def epoch_labels(epoch, skip=0):
        if source == "tfrecord":
            ds = D.tfrecord_dataset(str(tree / "records/train-*"), CLASSES, 3, training=True,
                                    seed=5, deterministic=True, epoch=epoch, skip_batches=skip)
        else:
            ds = D.folder_dataset(tree / "tree", 3, training=True, seed=5, deterministic=True,
                                  epoch=epoch, skip_batches=skip)
        return [(x.numpy(), y.numpy()) for x, y in ds]

    e0, e0_again, e1 = epoch_labels(0), epoch_labels(0), epoch_labels(1)
    assert len(e0) == 14 // 3  # one epoch, remainder dropped, no repeat
    for (x, y), (x2, y2) in zip(e0, e0_again):
        np.testing.assert_array_equal(x, x2)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(e0, e1))  # epochs differ
    for (x, _), (x2, _) in zip(e0[2:], epoch_labels(0, skip=2)):
        np.testing.assert_array_equal(x, x2)


def test_every_reader_delivers_the_size_it_is_given(tree):
    """image_size: the stored size a reader delivers (32 for CIFAR-10); TFRecords default
    to theirs (the manifest's: 256 here), folders and tfds to the paper's 256."""
    pattern = str(tree / "records/train-*")
    assert D.stored_size(pattern) == 256
    for ds in (D.tfrecord_dataset(pattern, CLASSES, 4, training=False, image_size=32),
               D.folder_dataset(tree / "tree", 4, training=False, image_size=32),
               D.read_path(tree / "tree", None, 4, image_size=32),
               D.read_path(pattern, CLASSES, 4, image_size=32)):
        assert next(iter(ds))[0].shape == (4, 32, 32, 3)
    assert next(iter(D.read_path(pattern, CLASSES, 4)))[0].shape == (4, 256, 256, 3)
    assert next(iter(D.folder_dataset(tree / "tree", 4, False)))[0].shape == (4, 256, 256, 3)
