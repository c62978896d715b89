import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time

import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf import build as B
from alexnet_tf import data as D
from images import encode, image_array, write_tree

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def records(pattern):
    """All records of the shards matching `pattern`, parsed into dicts of numpy values."""
    out = []
    for shard in sorted(glob.glob(pattern)):
        for raw in tf.data.TFRecordDataset(shard):
            ex = tf.train.Example.FromString(raw.numpy()).features.feature
            out.append({k: (v.bytes_list.value or v.int64_list.value)[0] for k, v in ex.items()})
    return out


def shard_bytes(out_dir, split):
    return {os.path.basename(p): open(p, "rb").read()
            for p in sorted(glob.glob(os.path.join(out_dir, f"{split}-*")))}


@pytest.fixture
def odd_tree(tmp_path):
    root = tmp_path / "tree"
    return root, write_tree(root)


def test_odd_files_are_converted_skipped_and_reported(odd_tree, tmp_path):
    root, expected = odd_tree
    out = tmp_path / "out"
    manifest = B.build(root, out, "train", shards=3, progress=False)

    skipped = {s["file"]: s["reason"] for s in manifest["skipped"]}
    assert set(skipped) == {n for n, o in expected.items() if o == "skip"}
    assert skipped["n00000001/empty.JPEG"] == "empty file"
    assert skipped["n00000001/notes.txt"].startswith("not an image")
    assert "truncated or corrupt" in skipped["n00000001/truncated.JPEG"]
    for kind in ("cmyk", "png", "grayscale", "alpha"):
        wanted = [n for n, o in expected.items() if o == kind]
        assert set(wanted) <= set(manifest["converted"][kind]), kind
    assert manifest["converted"]["png"] == ["n00000001/png_named_jpeg.JPEG",
                                            "n00000001/rgba.png"]

    kept = [n for n, o in expected.items() if o != "skip"]
    recs = records(str(out / "train-*"))
    assert manifest["num_examples"] == len(recs) == len(kept) == \
        sum(s["count"] for s in manifest["shards"])
    # Every kept file's class is its folder (file names are unique across the tree, and
    # the odd files, e.g. cmyk.JPEG, are all in n00000001).
    folder_of = {os.path.basename(n): os.path.dirname(n) for n in kept}
    assert len(folder_of) == len(kept)
    assert sorted(r["image/filename"].decode() for r in recs) == sorted(folder_of)
    for r in recs:
        image = tf.io.decode_jpeg(r["image/encoded"]).numpy()
        assert image.shape == (256, 256, 3) == (r["image/height"], r["image/width"], 3)
        assert r["image/format"] == b"JPEG"
        # Standard schema: label is 1-based, synset names the class.
        synset = r["image/class/synset"].decode()
        assert synset == folder_of[r["image/filename"].decode()]
        assert r["image/class/label"] == ["n00000001", "n00000002"].index(synset) + 1
    # The CMYK file's colours survive the conversion (compared with the RGB original).
    cmyk = next(r for r in recs if r["image/filename"] == b"cmyk.JPEG")
    original = D.resize_and_crop(tf.constant(image_array(1000))).numpy().astype(int)
    got = tf.io.decode_jpeg(cmyk["image/encoded"]).numpy().astype(int)
    assert np.abs(got - original).mean() < 6
    assert sorted(os.listdir(out)) == [".train.build", "train-00000-of-00003",
                                       "train-00001-of-00003", "train-00002-of-00003",
                                       "train.classes.txt", "train.manifest.json"]
    assert json.load(open(out / "train.manifest.json")) == manifest
    summary = B.summarize(manifest)
    assert "skipped: 3" in summary and "n00000001/empty.JPEG: empty file" in summary


def test_keep_original_size(odd_tree, tmp_path):
    root, _ = odd_tree
    B.build(root, tmp_path / "out", "train", shards=1, resize=False, progress=False)
    recs = {r["image/filename"].decode(): r for r in records(str(tmp_path / "out/train-*"))}
    big = recs["n00000001_2.JPEG"]  # 300x200 original
    assert (big["image/height"], big["image/width"]) == (300, 200)
    with open(root / "n00000001" / "n00000001_2.JPEG", "rb") as f:
        assert big["image/encoded"] == f.read()  # an RGB JPEG is kept byte for byte
    gray = tf.io.decode_jpeg(recs["gray.JPEG"]["image/encoded"])
    assert gray.shape == (40, 60, 3)


def test_jpeg_components():
    rgb = image_array(0)
    assert B._jpeg_components(encode(rgb)) == 3
    assert B._jpeg_components(encode(rgb, mode="L")) == 1
    assert B._jpeg_components(encode(rgb, mode="CMYK")) == 4
    assert B._jpeg_components(b"\xff\xd8\xff") is None


def test_same_inputs_and_seed_give_identical_shards(odd_tree, tmp_path):
    root, _ = odd_tree
    B.build(root, tmp_path / "a", "train", shards=4, workers=2, progress=False)
    # Another process, with another hash seed (protobuf map order must not leak in).
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "build_tfrecords.py"),
                    "--input", str(root), "--output_dir", str(tmp_path / "b"), "--split",
                    "train", "--shards", "4", "--workers", "1", "--quiet"],
                   check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "7"})
    B.build(root, tmp_path / "c", "train", shards=4, seed=1, progress=False)
    a, b, c = (shard_bytes(tmp_path / d, "train") for d in "abc")
    assert a == b
    assert a != c  # another seed assigns images to shards differently


def test_shards_mix_classes(tmp_path):
    write_tree(tmp_path / "tree", classes=[f"n0000000{i}" for i in range(4)], per_class=10,
               odd=False, sizes=[(20, 20)])
    B.build(tmp_path / "tree", tmp_path / "out", "train", shards=4, progress=False)
    for shard in glob.glob(str(tmp_path / "out/train-*")):
        assert len({r["image/class/synset"] for r in records(shard)}) >= 3


def test_flat_folder_with_ground_truth(tmp_path):
    flat = tmp_path / "val"
    flat.mkdir()
    wnids = ["n00000002", "n00000001", "n00000002"]
    for i in range(3):
        (flat / f"ILSVRC2012_val_{i + 1:08d}.JPEG").write_bytes(encode(image_array(i)))
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(wnids) + "\n")
    classes = tmp_path / "classes.txt"
    classes.write_text("n00000001 first class\nn00000002 second class\n")
    B.build(flat, tmp_path / "out", "validation", labels=labels, classes=classes, shards=1,
            progress=False)
    recs = {r["image/filename"].decode(): r for r in records(str(tmp_path / "out/validation-*"))}
    for i, wnid in enumerate(wnids):
        r = recs[f"ILSVRC2012_val_{i + 1:08d}.JPEG"]
        assert r["image/class/synset"].decode() == wnid
        assert r["image/class/text"].decode() == {"n00000001": "first class",
                                                  "n00000002": "second class"}[wnid]
    assert D.read_classes(tmp_path / "out/validation.classes.txt") == (
        ["n00000001", "n00000002"], ["first class", "second class"])

    labels.write_text("n00000002\nn00000001\n")
    with pytest.raises(ValueError, match="has 2 labels but .* has 3 files; the first file "
                                         "without a label is ILSVRC2012_val_00000003.JPEG"):
        B.build(flat, tmp_path / "out2", "validation", labels=labels, progress=False)


def test_unknown_class_folder_is_an_error(odd_tree, tmp_path):
    root, _ = odd_tree
    classes = tmp_path / "classes.txt"
    classes.write_text("n00000001 only one\n")
    with pytest.raises(ValueError, match="classes not in --classes .*: n00000002"):
        B.build(root, tmp_path / "out", "train", classes=classes, progress=False)


def test_selected_classes_and_images_per_class(tmp_path):
    """select_classes keeps only the listed classes' images (the others counted as left
    out); per_class keeps that many of each, the same for the same seed, others for
    another; the validation build of the same classes takes all of its images."""
    write_tree(tmp_path / "tree", classes=[f"n0000000{i}" for i in range(4)], per_class=10,
               odd=False, sizes=[(20, 20)])
    classes = tmp_path / "classes.txt"
    classes.write_text("n00000001 one\nn00000003 three\n")

    def files(out, split="train", **kwargs):
        manifest = B.build(tmp_path / "tree", tmp_path / out, split, classes=classes,
                           select_classes=True, progress=False, **kwargs)
        names = sorted(r["image/filename"].decode()
                       for r in records(str(tmp_path / out / f"{split}-*")))
        return manifest, names

    manifest, names = files("all")
    assert manifest["num_examples"] == 20 and manifest["left_out"] == 20
    assert {n.split("_")[0] for n in names} == {"n00000001", "n00000003"}
    manifest, three = files("three", per_class=3)
    assert manifest["num_examples"] == 6 and manifest["options"]["per_class"] == 3
    assert [n.split("_")[0] for n in three].count("n00000001") == 3
    assert files("again", per_class=3)[1] == three
    assert files("other", per_class=3, seed=1)[1] != three
    assert D.read_classes(tmp_path / "three/train.classes.txt")[0] == ["n00000001", "n00000003"]
    with pytest.raises(ValueError, match="needs a class list"):
        B.build(tmp_path / "tree", tmp_path / "x", "train", select_classes=True, progress=False)
    classes.write_text("n00000001 one\nn00000009 typo\n")
    with pytest.raises(ValueError, match="no images of n00000009, listed in --classes"):
        files("typo")
    classes.write_text("n00000009 absent\n")
    with pytest.raises(ValueError, match="none of its images is of a class in --classes"):
        files("none")


@pytest.mark.parametrize("kwargs,match", [
    (dict(input="/nonexistent/dir"), "does not exist"),
    (dict(split="../x"), "plain name"),
    (dict(shards=10_000), "--shards"),
    (dict(quality=0), "--quality"),
])
def test_bad_arguments_are_named(odd_tree, tmp_path, kwargs, match):
    root, _ = odd_tree
    args = dict(input=root, output_dir=tmp_path / "out", split="train", progress=False)
    args.update(kwargs)
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        B.build(**args)


def test_flat_folder_without_labels_is_explained(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.JPEG").write_bytes(encode(image_array(0)))
    with pytest.raises(ValueError, match="give their ground truth with --labels"):
        B.build(tmp_path / "flat", tmp_path / "out", "validation", progress=False)


def test_train_tar_of_class_tars_equals_folder_build(odd_tree, tmp_path):
    root, _ = odd_tree
    train_tar = tmp_path / "ILSVRC2012_img_train.tar"
    with tarfile.open(train_tar, "w") as outer:
        for wnid in sorted(os.listdir(root)):
            inner_path = tmp_path / f"{wnid}.tar"
            with tarfile.open(inner_path, "w") as inner:
                for name in sorted(os.listdir(root / wnid)):
                    inner.add(root / wnid / name, arcname=name)
            outer.add(inner_path, arcname=f"{wnid}.tar")
    from_tar = B.build(train_tar, tmp_path / "a", "train", shards=2, progress=False)
    from_dir = B.build(root, tmp_path / "b", "train", shards=2, progress=False)
    assert shard_bytes(tmp_path / "a", "train") == shard_bytes(tmp_path / "b", "train")
    assert from_tar["skipped"] == from_dir["skipped"]


def test_rerun_skips_complete_shards_and_rejects_other_options(odd_tree, tmp_path):
    root, _ = odd_tree
    out = tmp_path / "out"
    B.build(root, out, "train", shards=3, progress=False)
    first = shard_bytes(out, "train")
    os.remove(out / "train-00001-of-00003")  # as if the run died while writing it
    stamps = {p: os.stat(p).st_mtime_ns for p in glob.glob(str(out / "train-*"))}
    time.sleep(0.01)
    B.build(root, out, "train", shards=3, progress=False)
    assert shard_bytes(out, "train") == first
    for p, stamp in stamps.items():
        assert os.stat(p).st_mtime_ns == stamp  # complete shards were not rewritten
    with pytest.raises(ValueError, match="other inputs or options"):
        B.build(root, out, "train", shards=2, progress=False)


def test_a_rebuild_over_hard_links_writes_nothing_through_them(odd_tree, tmp_path):
    """A study run given another run's build as hard links (study.share_data) builds over
    it; the other run's files must keep their bytes and times."""
    root, _ = odd_tree
    first, second = tmp_path / "first", tmp_path / "second"
    for split in ("train", "validation"):
        B.build(root, first, split, shards=2, progress=False)
    shutil.copytree(first, second, copy_function=os.link)
    state = {p: (os.stat(p).st_mtime_ns, open(p, "rb").read())
             for d, _, names in os.walk(first) for p in (os.path.join(d, n) for n in names)}
    assert any(".train.build" in p for p in state)  # the build's hidden records too
    time.sleep(0.01)
    for split in ("train", "validation"):
        B.build(root, second, split, shards=2, progress=False)
    assert state == {p: (os.stat(p).st_mtime_ns, open(p, "rb").read()) for p in state}
    assert shard_bytes(second, "train") == shard_bytes(first, "train")


@pytest.mark.slow
def test_killed_build_resumes_to_identical_shards(tmp_path):
    """SIGKILL a real build mid-way; the re-run completes it byte-identically."""
    write_tree(tmp_path / "tree", per_class=150, odd=False, sizes=[(300, 400), (500, 375)])
    cmd = [sys.executable, os.path.join(ROOT, "tools", "build_tfrecords.py"),
           "--input", str(tmp_path / "tree"), "--split", "train", "--shards", "30",
           "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd + ["--output_dir", str(tmp_path / "killed")])
    deadline = time.time() + 120
    while len(glob.glob(str(tmp_path / "killed/train-*"))) < 5 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(glob.glob(str(tmp_path / "killed/train-*")))
    assert 5 <= done < 30, "the kill should land mid-build"
    subprocess.run(cmd + ["--output_dir", str(tmp_path / "killed")], check=True)
    subprocess.run(cmd + ["--output_dir", str(tmp_path / "clean")], check=True)
    assert shard_bytes(tmp_path / "killed", "train") == shard_bytes(tmp_path / "clean", "train")


def test_tool_reports_bad_input_clearly(tmp_path):
    run = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "build_tfrecords.py"),
                          "--input", str(tmp_path / "missing"), "--output_dir",
                          str(tmp_path / "out"), "--split", "train"],
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert run.stderr.strip().endswith(f"error: --input {tmp_path / 'missing'} does not exist")


def test_imagenette_builds_and_reads_back(imagenette, tmp_path):
    """The shared Imagenette: 9,469 train / 3,925 val, labels from the folders, in the
    ImageNet class order of synset_words.txt."""
    meta = imagenette.parent / "imagenet-meta" / "synset_words.txt"
    wnids, _ = D.read_classes(meta)
    for split, count in (("train", 9469), ("val", 3925)):
        manifest = B.build(imagenette / split, tmp_path, split, classes=meta, shards=4,
                           progress=False)
        assert manifest["num_examples"] == count and manifest["skipped"] == []
        want = {w: len(os.listdir(imagenette / split / w)) for w in os.listdir(imagenette / split)}
        labels = np.concatenate([y.numpy() for _, y in D.tfrecord_dataset(
            str(tmp_path / f"{split}-*"), meta, 500, training=False)])
        assert len(labels) == count
        assert {wnids[i]: n for i, n in zip(*np.unique(labels, return_counts=True))} == want


def test_a_moved_input_folder_is_the_same_build_a_changed_file_is_not(odd_tree, tmp_path):
    """The identity of a build is its images (relative names, classes, byte sizes), class
    list and options, not the input's path: a moved folder resumes, an edited file or
    another class list is refused."""
    root, _ = odd_tree
    moved = tmp_path / "moved"
    shutil.copytree(root, moved)
    out = tmp_path / "out"
    B.build(root, out, "train", shards=3, progress=False)
    first = shard_bytes(out, "train")
    os.remove(out / "train-00002-of-00003")  # a partial build
    stamps = {p: os.stat(p).st_mtime_ns for p in glob.glob(str(out / "train-*"))}
    manifest = B.build(moved, out, "train", shards=3, progress=False)
    assert shard_bytes(out, "train") == first
    for p, stamp in stamps.items():
        assert os.stat(p).st_mtime_ns == stamp
    assert manifest["options"]["input"] == str(moved)
    victim = sorted(glob.glob(str(moved / "*" / "*")))[0]
    with open(victim, "ab") as f:
        f.write(b"\0" * 10)
    with pytest.raises(ValueError, match="other inputs or options"):
        B.build(moved, out, "train", shards=3, progress=False)


def test_count_examples_of_a_subset_of_shards(odd_tree, tmp_path):
    root, _ = odd_tree
    manifest = B.build(root, tmp_path, "train", shards=3, progress=False)
    counts = [s["count"] for s in manifest["shards"]]
    assert B.count_examples(str(tmp_path / "train-*")) == sum(counts)
    assert B.count_examples(str(tmp_path / "train-0000[01]-*")) == counts[0] + counts[1]
    # Shards the manifest does not list are counted by reading them.
    shutil.copy(tmp_path / "train-00002-of-00003", tmp_path / "other-00000-of-00001")
    assert B.count_examples([str(tmp_path / "train-00000-*"), str(tmp_path / "other-*")]) \
        == counts[0] + counts[2]


def test_small_images_are_stored_at_their_own_size(tmp_path):
    """CIFAR-10's case: 32x32 JPEGs built with image_size=32 are kept byte for byte (no
    resampling, no second JPEG generation), larger ones are scaled down to 32x32, and the
    stored size is in the manifest, where the readers find it."""
    root = tmp_path / "tree"
    write_tree(root, per_class=3, odd=False, sizes=[(32, 32), (48, 64), (32, 32)])
    manifest = B.build(root, tmp_path / "out", "train", shards=1, progress=False,
                       image_size=32)
    assert manifest["options"]["image_size"] == 32
    recs = {r["image/filename"].decode(): r for r in records(str(tmp_path / "out/train-*"))}
    with open(root / "n00000001" / "n00000001_0.JPEG", "rb") as f:
        assert recs["n00000001_0.JPEG"]["image/encoded"] == f.read()
    scaled = recs["n00000001_1.JPEG"]
    assert (scaled["image/height"], scaled["image/width"]) == (32, 32)
    pattern = str(tmp_path / "out/train-*")
    assert D.stored_size(pattern) == 32
    images, _ = next(iter(D.tfrecord_dataset(pattern, ["n00000001", "n00000002"], 6,
                                             training=False)))
    assert images.shape == (6, 32, 32, 3)  # read at the stored size by default
    # A build at another size is another build; one without resizing stores no size.
    with pytest.raises(ValueError, match="other inputs or options"):
        B.build(root, tmp_path / "out", "train", shards=1, progress=False)
    B.build(root, tmp_path / "kept", "train", shards=1, resize=False, progress=False)
    assert D.stored_size(str(tmp_path / "kept/train-*")) is None


def test_a_build_planned_before_the_stored_size_was_recorded_is_the_same(odd_tree, tmp_path):
    """Builds (and running studies' data folders) planned before `image_size` was an
    option are resumed as the 256 builds they were, not refused."""
    root, _ = odd_tree
    out = tmp_path / "out"
    B.build(root, out, "train", shards=2, progress=False)
    plan_path = out / ".train.build" / "plan.json"
    plan = json.loads(plan_path.read_text())
    del plan["options"]["image_size"]
    plan_path.write_text(json.dumps(plan))
    manifest_path = out / "train.manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["options"]["image_size"]
    manifest_path.write_text(json.dumps(manifest))
    assert D.stored_size(str(out / "train-*")) == 256  # resized, as builds then were
    B.build(root, out, "train", shards=2, progress=False)  # the same build: no error
