"""tensorflow-datasets as a data source: a real dataset prepared inside the test by a tiny
tfds builder (no network), trained and resumed through tools/train.py (by directory, then
by name and data_dir), evaluated and summarised through the other tools, read undecoded
until after the shuffle, and named by a class list."""
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from alexnet_tf import data as D
from alexnet_tf import inputs
from configs import tiny
from images import image_array
from test_cli import assert_one_error_line
from test_cli import tool as cli_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tool(name, *args):
    return cli_tool(name, *args, cwd=ROOT)  # the configs/ paths below are relative

# The first four classes of ILSVRC-2012, as lines of its synset_words.txt.
WORDS = ["n01440764 tench, Tinca tinca", "n01443537 goldfish, Carassius auratus",
         "n01484850 great white shark, white shark, man-eater, man-eating shark, "
         "Carcharodon carcharias", "n01491361 tiger shark, Galeocerdo cuvieri"]
WNIDS = [line.split(" ", 1)[0] for line in WORDS]
NAMES = [line.split(" ", 1)[1] for line in WORDS]


class TinyImages(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Small JPEGs of varied sizes in four classes, with imagenet2012's features (image,
    label named by wnid, file_name). Not registered: the tools find it by its files, as
    they would a dataset of the user's own builder."""
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(encoding_format="jpeg"),
                "label": tfds.features.ClassLabel(names=WNIDS),
                "file_name": tfds.features.Text()}),
            supervised_keys=("image", "label"))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(32, 0),
                "validation": self._generate_examples(16, 1000)}

    def _generate_examples(self, n, first):
        for i in range(first, first + n):
            height, width = [(40, 60), (64, 48), (33, 90)][i % 3]
            yield str(i), {"image": image_array(i, height, width), "label": i % 4,
                           "file_name": f"{WNIDS[i % 4]}_{i}.JPEG"}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """`(data_dir, directory)`: where the dataset is prepared, and its version folder."""
    data_dir = tmp_path_factory.mktemp("tfds")
    builder = TinyImages(data_dir=str(data_dir))
    builder.download_and_prepare()
    return data_dir, str(builder.data_dir)


@pytest.fixture(scope="module")
def trained(prepared, tmp_path_factory):
    """One epoch with the dataset given by its directory, then a second, resumed, with it
    given by name and data_dir; both with a class list for readable names."""
    data_dir, directory = prepared
    base = tmp_path_factory.mktemp("trained")
    words = base / "words.txt"
    words.write_text("\n".join(WORDS) + "\n")

    def train(*overrides):
        return tool("train.py", "--config", "configs/tiny.py", "--workdir", base / "run",
                    "--config.data.source=tfds", f"--config.data.classes={words}", *overrides)
    first = train(f"--config.data.train={directory}", "--config.epochs=1")
    history = json.loads((base / "run" / "history.json").read_text()) \
        if first.returncode == 0 else None
    second = train("--config.data.train=tiny_images", f"--config.data.data_dir={data_dir}",
                   "--config.epochs=2")
    return base / "run", first, history, second


def test_train_by_directory_then_resume_by_name(trained):
    workdir, first, first_history, second = trained
    assert first.returncode == 0, first.stderr[-3000:]
    assert [h["epoch"] for h in first_history] == [0]
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming from" in second.stdout, second.stdout[-2000:]
    history = json.loads((workdir / "history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1]
    assert "training on 32 images (4 steps of 8 per epoch)" in first.stdout
    # The exported classes carry the class list's readable names.
    assert (workdir / "classes.txt").read_text().splitlines() == WORDS


def test_evaluate_and_compute_stats_read_tfds(trained, prepared, tmp_path):
    workdir = trained[0]
    data_dir, directory = prepared
    run = tool("evaluate.py", "--model", workdir, "--data", "tfds:tiny_images",
               "--data_dir", data_dir)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "16 images, centre crops" in run.stdout  # the validation split, by default

    run = tool("compute_stats.py", "--data", f"tfds:{directory}:train", "--max_images", 10,
               "--output", tmp_path / "stats.npz")
    assert run.returncode == 0, run.stderr[-3000:]
    with np.load(tmp_path / "stats.npz") as stats:
        assert int(stats["count"]) == 10
        # The first 10 training images in file order, as tfds itself decodes them.
        first = tfds.builder_from_directory(directory).as_dataset(split="train").take(10)
        want = np.mean([D.resize_and_crop(ex["image"]).numpy() for ex in first], axis=0)
        np.testing.assert_allclose(stats["mean_image"], want, atol=1e-9)


def test_shuffled_and_skipped_before_decoding(prepared, monkeypatch):
    """Each delivered example is decoded once, and the skipped ones (a mid-epoch resume)
    never: the shuffle and the skip are over encoded bytes. The order is the one that
    decoding first and shuffling after would give."""
    _, directory = prepared
    seed, epoch, batch, skip = 3, 1, 4, 2
    decoded = tf.Variable(0, dtype=tf.int64)
    real_decode = D.decode

    def counting_decode(encoded):
        with tf.control_dependencies([decoded.assign_add(1)]):
            return real_decode(encoded)
    monkeypatch.setattr(D, "decode", counting_decode)
    ds = D.tfds_dataset(directory, "train", batch, True, seed=seed, epoch=epoch,
                        skip_batches=skip, deterministic=True)
    got = np.concatenate([x.numpy() for x, _ in ds])
    assert got.shape == (32 - skip * batch, 256, 256, 3)
    assert int(decoded.numpy()) == 32 - skip * batch

    # Decode first (tfds' own decoding), then the same shuffle and skip.
    shuffle_seed = D.epoch_seed(seed, epoch)
    ds = tfds.builder_from_directory(directory).as_dataset(
        split="train", shuffle_files=True, read_config=tfds.ReadConfig(shuffle_seed=shuffle_seed))
    ds = ds.map(lambda ex: ex["image"]).shuffle(10_000, seed=shuffle_seed,
                                                reshuffle_each_iteration=False)
    want = np.stack([D.resize_and_crop(x).numpy() for x in ds.skip(skip * batch)])
    np.testing.assert_array_equal(got, want)


def test_class_names_from_a_class_list(prepared, tmp_path):
    data_dir, _ = prepared
    config = tiny.get_config()
    config.data.source, config.data.train = "tfds", "tiny_images"
    config.data.data_dir = str(data_dir)
    d = inputs.make_data(config, str(tmp_path))
    assert d.wnids == d.names == WNIDS  # no class list: the label names

    words = tmp_path / "words.txt"
    words.write_text("\n".join(WORDS) + "\n")
    config.data.classes = str(words)
    d = inputs.make_data(config, str(tmp_path))
    assert (d.wnids, d.names) == (WNIDS, NAMES)

    swapped = tmp_path / "swapped.txt"
    swapped.write_text("\n".join([WORDS[1], WORDS[0]] + WORDS[2:]) + "\n")
    config.data.classes = str(swapped)
    with pytest.raises(ValueError, match=re.escape(
            f"{swapped}: not the label names of tfds dataset 'tiny_images' in their order "
            f"(class 0 is 'n01443537' there, 'n01440764' in the dataset)")):
        inputs.make_data(config, str(tmp_path))
    more = tmp_path / "more.txt"
    more.write_text("\n".join(WORDS + ["n01494475 hammerhead"]) + "\n")
    config.data.classes = str(more)
    with pytest.raises(ValueError, match=re.escape(
            "(5 classes there, 4 labels in the dataset)")):
        inputs.make_data(config, str(tmp_path))
    # The tools check a model's classes against the labels the same way.
    with pytest.raises(ValueError, match="the classes n01491361, n01484850, n01443537, ...: "
                                         "not the label names"):
        D.read_path("tfds:tiny_images", WNIDS[::-1], 4, data_dir=str(data_dir))
    assert D.path_classes("tfds:tiny_images", str(words), str(data_dir)) == (WNIDS, NAMES)


def test_unknown_splits_names_and_directories_are_one_line(prepared, tmp_path):
    data_dir, directory = prepared
    run = tool("compute_stats.py", "--data", f"tfds:{directory}:valid", "--output",
               tmp_path / "stats.npz")
    assert_one_error_line(run, "tfds dataset", "has no split 'valid'; its splits are "
                                               "train, validation")
    with pytest.raises(ValueError, match=re.escape(
            "tfds dataset 'tiny_images' has no split 'valid'; its splits are train, "
            "validation")):
        D.tfds_dataset("tiny_images", "valid", 4, False, data_dir=str(data_dir))
    config = tiny.get_config()
    config.data.update(dict(source="tfds", train=directory, validation_split="test"))
    with pytest.raises(ValueError, match="has no split 'test'; its splits are train, "):
        inputs.make_data(config, str(tmp_path))
    parent = os.path.dirname(directory)  # the dataset's folder, not a version of it
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"{parent} is not a prepared tfds dataset (no dataset_info.json in it); prepared "
            f"datasets below it: {directory}")):
        D.tfds_builder(parent)
    with pytest.raises(FileNotFoundError, match="tfds dataset directory /no/such/dir does "
                                                "not exist"):
        D.read_path("tfds:/no/such/dir:train", None, 4)
    with pytest.raises(ValueError, match="tfds dataset 'no_such_dataset' is neither a "
                                         "registered tfds name, nor prepared in "):
        D.read_path("tfds:no_such_dataset", None, 4, data_dir=str(data_dir))
    with pytest.raises(ValueError, match="no dataset after 'tfds:'"):
        D.read_path("tfds:", None, 4)
    assert D.tfds_path("tfds:imagenet2012:5.1.0:train[:10]", "validation") == (
        "imagenet2012:5.1.0", "train[:10]")
    assert D.tfds_path("tfds:imagenette/320px-v2", "validation") == (
        "imagenette/320px-v2", "validation")


def test_training_takes_the_tools_tfds_prefix(prepared, tmp_path):
    """--config.data.train=tfds:NAME works as NAME; with a split or without
    data.source=tfds it is one line saying which fields to use."""
    data_dir, _ = prepared
    config = tiny.get_config()
    config.data.update(dict(source="tfds", train="tfds:tiny_images", data_dir=str(data_dir)))
    made = inputs.make_data(config, str(tmp_path))
    assert made.train_examples > 0 and config.data.train == "tfds:tiny_images"
    for source, train in (("tfds", "tfds:tiny_images:train"), ("tfrecord", "tfds:tiny_images")):
        config.data.update(dict(source=source, train=train))
        with pytest.raises(ValueError, match="give --config.data.source=tfds "
                                             "--config.data.train=NAME"):
            inputs.make_data(config, str(tmp_path))
