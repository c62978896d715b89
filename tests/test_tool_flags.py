"""The tools' checked flags (`alexnet_tf.cli`): a number outside its flag's range, or a
path that is not what its flag needs, ends the tool with one line on stderr that names the
flag, a non-zero exit and no traceback, before any TensorFlow work. The cases are made
from the tools' own parsers (`build_parser()`), so that a flag declared with one of cli's
checks is covered here as soon as it is added."""
import argparse
import importlib.util
import os
import subprocess
import sys

import pytest

from alexnet_tf import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS_DIR = os.path.join(ROOT, "tools")
# train.py (--config.FIELD=VALUE) and study.py parse their flags their own way.
TOOLS = sorted(n for n in os.listdir(TOOLS_DIR)
               if n.endswith(".py") and n not in ("train.py", "study.py"))


def build_parser(name):
    spec = importlib.util.spec_from_file_location(f"tool_{name[:-3]}",
                                                  os.path.join(TOOLS_DIR, name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # its imports only: main() is not run
    return module.build_parser()


def bad_values(check):
    """Values that `check` refuses; "{tmp}" stands for a folder holding a file "file"."""
    if isinstance(check, cli.Range):
        yield "many"
        if check.min is not None:
            yield str(check.min - 1)
        if check.max is not None:
            yield str(check.max + 1)
    elif isinstance(check, cli.Path):
        yield from {"file": ["{tmp}/missing", "{tmp}"], "dir": ["{tmp}/missing", "{tmp}/file"],
                    "path": ["{tmp}/missing"], "new_file": ["{tmp}", "{tmp}/missing/out"],
                    "new_dir": ["{tmp}/file", "{tmp}/file/sub"]}[check.kind]
    elif isinstance(check, cli.Data):
        yield from ["{tmp}/missing-*", "tfds:"] + ([] if check.folders else ["{tmp}"])
    elif isinstance(check, cli.Choices):
        yield "nothing"
    else:
        raise AssertionError(f"no bad values known for {check!r}")


CHECKS = (cli.Range, cli.Path, cli.Data, cli.Choices)
CASES = [(name, action.option_strings, value)
         for name in TOOLS for action in build_parser(name)._actions
         if isinstance(action.type, CHECKS) for value in bad_values(action.type)]


def run_tool(name, *args):
    return subprocess.run([sys.executable, os.path.join(TOOLS_DIR, name), *args],
                          capture_output=True, text=True, timeout=120)


def test_every_tool_has_a_parser_with_checked_flags():
    for name in TOOLS:
        flags = {a.option_strings[0] for a in build_parser(name)._actions
                 if isinstance(a.type, CHECKS)}
        assert flags, name
        for action in build_parser(name)._actions:  # no unchecked numbers or paths
            assert action.type is None or isinstance(action.type, CHECKS), (name, action)


@pytest.mark.parametrize("name,flags,value", CASES,
                         ids=[f"{n}{f[0]}={v}" for n, f, v in CASES])
def test_bad_values_are_one_line(tmp_path, name, flags, value):
    (tmp_path / "file").write_text("")
    value = value.format(tmp=tmp_path)
    run = run_tool(name, *(flags[:1] or []), value)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr[-2000:]
    assert any(flag in lines[0] for flag in flags) and value in lines[0], lines[0]


@pytest.mark.parametrize("name", TOOLS)
def test_flags_are_parsed_before_tensorflow_is_imported(name):
    code = ("import runpy, sys\n"
            f"sys.argv = [{name!r}, '--no_such_flag']\n"
            "try:\n"
            f"    runpy.run_path({os.path.join(TOOLS_DIR, name)!r}, run_name='__main__')\n"
            "except SystemExit as e:\n"
            "    print(e.code, 'tensorflow' in sys.modules)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    # "2 True": something imported before the flags were parsed imports TensorFlow (such
    # as the package's __init__, which must not: importing alexnet_tf.cli runs it)
    assert run.stdout.split() == ["2", "False"], run.stdout + run.stderr[-2000:]


def test_checks_accept_what_the_tools_read(tmp_path):
    (tmp_path / "train-00000-of-00001").write_text("")
    (tmp_path / "classes").write_text("")
    assert cli.integer(min=1, max=100)("100") == 100
    assert cli.number(min=0, max=1)("0.5") == 0.5
    for bad in ("nan", "inf", "1.5x"):
        with pytest.raises(argparse.ArgumentTypeError):
            cli.number()(bad)
    assert cli.existing_file(str(tmp_path / "classes")) == str(tmp_path / "classes")
    assert cli.existing_path(str(tmp_path)) == str(tmp_path)
    assert cli.new_dir(str(tmp_path / "a" / "b")) == str(tmp_path / "a" / "b")  # made later
    assert cli.new_file(str(tmp_path / "stats.npz")) == str(tmp_path / "stats.npz")
    for path in (str(tmp_path), str(tmp_path / "train-*"), "tfds:imagenet2012:validation",
                 "tfds:/data/imagenette/1.0.0", "gs://bucket/train-*"):
        assert cli.data_source(path) == path
    assert cli.records_or_tfds("tfds:imagenet2012") == "tfds:imagenet2012"
    with pytest.raises(argparse.ArgumentTypeError, match="is a folder: give a TFRecord glob"):
        cli.records_or_tfds(str(tmp_path))
    with pytest.raises(argparse.ArgumentTypeError, match="no TFRecord files match it$"):
        cli.records("tfds:imagenet2012")
    assert cli.comma_list("float32", "mixed_bfloat16")("FLOAT32, mixed_bfloat16") == [
        "float32", "mixed_bfloat16"]


@pytest.mark.parametrize("name,args,expected", [
    ("summary.py", ["--image_size", "60"], "--image_size 60 with --conv1_padding 2 is too small"),
    ("build_tfrecords.py", ["--input", "{tmp}"], "the following arguments are required: "
                                                 "--output_dir, --split"),
    ("export.py", ["--model", "{tmp}", "--output", "{tmp}/e", "--precision", "float64"],
     "--precision invalid choice: 'float64'"),
])
def test_other_flag_errors_are_one_line(tmp_path, name, args, expected):
    run = run_tool(name, *(a.format(tmp=tmp_path) for a in args))
    assert run.returncode == 2, run.stderr[-2000:]
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr[-2000:]
    assert run.stderr.startswith(f"error: {expected}"), run.stderr
