"""Bad inputs to the command-line tools: each gets one line that starts with "error:" and
names the file, flag or value at fault, and no traceback."""
import os
import shutil
import subprocess
import sys

import pytest

from alexnet_tf import train as T
from configs import tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tool(name, *args, cwd=None):
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", name), *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


def assert_one_error_line(run, *expected):
    assert run.returncode != 0, run.stdout[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), run.stderr[-2000:]
    for text in expected:
        assert text in last, last


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cli")
    config = tiny.get_config()
    config.epochs = 1
    T.train(config, str(workdir / "run"))
    return workdir


@pytest.mark.parametrize("args,expected", [
    (["--config", "missing.py"], ["--config missing.py: no such file"]),
    (["--config", "configs/tiny.py", "--config.nosuchfield=1"],
     ["--config.nosuchfield: no such config field", "the fields are:", "batch_size"]),
    (["--config", "configs/tiny.py", "--config.augment.lightin_std=0.2"],
     ["did you mean --config.augment.lighting_std"]),
    (["--config", "configs/tiny.py", "--config.batch_size=many"],
     ["--config.batch_size=many"]),
])
def test_train_config_flags(tmp_path, args, expected):
    run = tool("train.py", *args, "--workdir", tmp_path / "w", cwd=ROOT)
    assert_one_error_line(run, *expected)
    assert not (tmp_path / "w").exists()  # nothing was started


def test_build_rejects_zero_shards_and_names_unknown_label_lines(tmp_path, trained):
    images = trained / "run" / "data" / "images" / "validation"
    run = tool("build_tfrecords.py", "--input", images, "--output_dir", tmp_path / "r",
               "--split", "x", "--shards", "0")
    assert_one_error_line(run, "--shards 0")
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, path in enumerate(sorted(images.glob("*/*"))[:3]):
        shutil.copy(path, flat / f"img_{i}.jpg")
    (tmp_path / "labels.txt").write_text("disc\nn00000000\nring\n")
    (tmp_path / "classes.txt").write_text("disc\nring\n")
    run = tool("build_tfrecords.py", "--input", flat, "--labels", tmp_path / "labels.txt",
               "--classes", tmp_path / "classes.txt", "--output_dir", tmp_path / "r",
               "--split", "x")
    assert_one_error_line(run, "n00000000", "line 2")


def test_records_of_classes_outside_the_class_list_are_named(trained, tmp_path):
    wrong = tmp_path / "classes.txt"
    wrong.write_text((trained / "run" / "classes.txt").read_text().replace("square", "sq"))
    records = trained / "run" / "data" / "validation-*"
    for name, extra in (("evaluate.py", []), ("features.py", ["--output", tmp_path / "f.npz"]),
                        ("figures.py", ["--output", tmp_path / "figs"])):
        run = tool(name, "--model", trained / "run", "--data", records, "--classes", wrong,
                   *extra)
        assert_one_error_line(run, "not in the class list", "square")


def test_a_non_image_file_in_a_folder_is_named_and_can_be_skipped(trained, tmp_path):
    folder = tmp_path / "folder"
    shutil.copytree(trained / "run" / "data" / "images" / "validation", folder)
    (folder / "ring" / "notes.txt").write_text("not an image")
    run = tool("evaluate.py", "--model", trained / "run", "--data", folder)
    assert_one_error_line(run, "notes.txt", "--skip_bad_images")
    run = tool("evaluate.py", "--model", trained / "run", "--data", folder,
               "--skip_bad_images")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "16 images" in run.stdout  # tiny's 4 classes x 4 validation images
    run = tool("features.py", "--model", trained / "run", "--data", folder,
               "--skip_bad_images", "--output", tmp_path / "f.npz")
    assert run.returncode == 0 and (tmp_path / "f.npz").exists(), run.stderr[-2000:]


@pytest.mark.parametrize("name,args,expected", [
    ("evaluate.py", ["--model", "{tmp}/nowhere", "--data", "{run}/data/validation-*"],
     ["--model", "nowhere does not exist"]),
    ("evaluate.py", ["--model", "{run}", "--data", "{tmp}/none-*"], ["no TFRecord files match"]),
    ("export.py", ["--model", "{run}/saved_model", "--output", "{tmp}/e"],
     ["already a SavedModel"]),
    ("predict.py", ["--model", "{run}/data", "x.jpg"], ["not a SavedModel folder"]),
    ("features.py", ["--model", "{run}", "--data", "{run}/data/validation-*", "--k", "0",
                     "--output", "{tmp}/f.npz"], ["--k 0"]),
    ("figures.py", ["--model", "{run}", "--data", "{run}/data/validation-*", "--num", "0",
                    "--output", "{tmp}/f"], ["--num 0"]),
    ("benchmark_serve.py", ["--model", "{run}/logs"], ["not a SavedModel folder"]),
    ("lrn_stats.py", ["--model", "{run}", "--data", "{run}/data/validation-*", "--images",
                      "0"], ["--images 0"]),
    ("lrn_stats.py", ["--model", "{run}", "--data", "{tmp}/none-*"],
     ["--data", "none-*", "no TFRecord files match"]),
    ("benchmark_lrn.py", ["--json", ""], ["--json '': an empty path"]),
    ("export.py", ["--model", "{run}", "--output", "{run}"], ["is the model's own folder"]),
    ("export.py", ["--model", "{run}", "--output", "{tmp}/e", "--classes",
                   "{root}/configs/classes/imagenette_a.txt"],
     ["--classes", "imagenette_a.txt lists 5 classes, but the model predicts"]),
])
def test_wrong_paths_and_values(trained, tmp_path, name, args, expected):
    args = [a.format(run=trained / "run", tmp=tmp_path, root=ROOT) for a in args]
    assert_one_error_line(tool(name, *args), *expected)
