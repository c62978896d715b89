"""Every config field's declared type and range (`alexnet_tf.config.field`, configs/paper.py):
every field of every shipped config (and of every study's runs) can be set from the command
line with its type, and every value out of its range ends the train command with one line,
before TensorFlow is imported."""
import copy
import glob
import importlib
import math
import os
import pickle
import subprocess
import sys

import pytest

from alexnet_tf import config as C
from alexnet_tf import study as S

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, "tools", "train.py")
CONFIGS = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "configs", "*.py"))
                 if not p.endswith("__init__.py"))
STUDIES = sorted(glob.glob(os.path.join(ROOT, "configs", "studies", "[!_]*.py")))


def config_file(name):
    return os.path.join(ROOT, "configs", f"{name}.py")


def load(name):
    return importlib.import_module(f"configs.{name}").get_config()


def parse(*args, workdir="/tmp/unused-workdir"):
    """The config of a train command line, paths not checked (shipped configs name data
    that is not here)."""
    return C.parse([*map(str, args), "--workdir", workdir], paths=False)[0]


def value_of(config, name):
    for part in name.split("."):
        config = config[part]
    return config


def flag(name, value):
    """--config.NAME=VALUE as studies write it (alexnet_tf.study), strings as they are."""
    return S._flag(name, value, "test")


# ---------------------------------------------------------------------------- values

def _numbers(declared, kind, current=None):
    """Numbers of type `kind` to try, nearest the declared range first."""
    i = declared.interval
    anchors = [current] if current is not None else []
    if i is not None:
        anchors += [v for v in (i.low, i.high) if math.isfinite(v)]
    anchors += [0, 1]
    for a in anchors:
        for step in (1, -1, 2, 0.5, -0.5, 0.25):
            yield kind(a + step) if kind is int or step == int(step) else a + step
    for v in (2, 3, 0.5, 0.25):
        yield kind(v)


def another(declared, current):
    """A valid value of the field other than `current` (its type's sample if None)."""
    kind = declared.get_type()
    if kind is bool:
        return not current
    if kind is tuple:
        n = len(current) if current else (declared.length if isinstance(declared.length, int)
                                          else 1)
        items = tuple(current or ())
        for v in _numbers(declared, declared.items, items[0] if items else None):
            candidate = (v,) + items[1:] if items else (v,) * n
            if candidate != items and declared.allows(candidate):
                return candidate
        raise AssertionError("no other tuple")
    if declared.choices and not declared.path:
        return next((c for c in declared.choices if c != current), current)
    if kind is str:
        return "x" if current is None else current + "_2"
    for v in _numbers(declared, kind, current):
        if v != current and declared.allows(v):
            return v
    raise AssertionError(f"no other value for {declared.describe()}")


def outside(declared, current):
    """A value of the field's type out of its declared range (None: it has no range)."""
    kind = declared.get_type()
    if kind is tuple:
        if isinstance(declared.length, int):
            return tuple(current[:-1])  # one item short
        low = declared.interval.low
        return (low - 1,) + tuple(current[1:])
    if declared.choices and not declared.path:
        return "nosuch" if kind is str else max(declared.choices) + 1
    i = declared.interval
    if i is None:
        return None
    if math.isfinite(i.low):
        return i.low - (0 if not i.closed_low else 1 if kind is int else 0.5)
    if math.isfinite(i.high):
        return i.high + (0 if not i.closed_high else 1)
    return math.nan  # only finite numbers are in (-inf, inf)


# ---------------------------------------------------------------------------- declarations

@pytest.mark.parametrize("name", CONFIGS)
def test_every_field_is_declared_and_within_its_range(name):
    config = load(name)
    undeclared = [n for n, declared, _ in C.fields(config) if declared is None]
    assert not undeclared, f"configs/{name}.py: fields not declared with field(): {undeclared}"
    C.check(config)


def test_the_choices_are_the_codes():
    from alexnet_tf import distribute
    config = load("paper")
    declared = {n: d for n, d, _ in C.fields(config)}
    assert declared["strategy"].choices == distribute.STRATEGIES
    assert declared["precision"].choices == ("auto",) + distribute.PRECISIONS
    assert set(declared["net"].choices) == set(C.NETS)


def test_check_names_the_field_the_value_and_the_range():
    config = load("tiny")
    config.model.dropout = 1.5
    with pytest.raises(C.FieldError, match=r"^config\.model\.dropout=1\.5 must be a number in "
                                           r"\[0, 1\)$") as e:
        C.check(config)
    assert e.value.field == "model.dropout"
    config = load("tiny")
    config.optimizer.step_epochs = ()
    with pytest.raises(ValueError, match=r"step_epochs=\(\) must be a tuple of 1 or more ints"):
        C.check(config)
    config = load("demo")
    config.net = "fig1"  # the demo's model fields are alexnet's
    with pytest.raises(ValueError, match="towers, which alexnet_tf.model.fig1_net.. does not take"):
        C.check(config)


def test_a_declaration_must_hold_for_its_default():
    with pytest.raises(ValueError, match="the default 0 is not an int in"):
        C.field(0, "[1, inf)")
    with pytest.raises(ValueError, match="not an interval"):
        C.field(1, "1..3")
    f = C.field(int, "[1, inf)")
    assert f.get() is None and f.allows(None) and not f.allows(0) and not f.allows(True)
    config = load("tiny")  # copies keep the declarations
    for copied in (copy.deepcopy(config), pickle.loads(pickle.dumps(config))):
        assert [(n, d.describe(), v) for n, d, v in C.fields(copied)] == \
            [(n, d.describe(), v) for n, d, v in C.fields(config)]


# ---------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("name", CONFIGS)
def test_every_field_of_every_config_is_set_from_the_command_line(name):
    """Each field set to another valid value of its type, as a study writes the flag; one
    command with all of them, half before --config, half after, alternately in the
    --config.F=V and --config.F V forms."""
    config = load(name)
    values = {n: v if n == "net" else another(d, v)  # the other net takes other fields
              for n, d, v in C.fields(config)}
    given = [[f] if i % 2 else f.split("=", 1)
             for i, f in enumerate(flag(n, v) for n, v in values.items())]
    given.insert(len(given) // 2, ["--config", config_file(name)])
    parsed = parse(*[a for words in given for a in words])
    for n, v in values.items():
        got = value_of(parsed, n)
        assert got == v and type(got) is type(v), (n, v, got)
    # and each field on its own, as given: its own value round-trips
    for n, declared, v in C.fields(config):
        if v is not None:
            got = value_of(parse("--config", config_file(name), flag(n, v)), n)
            assert got == v and type(got) is type(v), (n, v, got)


@pytest.mark.parametrize("study", STUDIES, ids=os.path.basename)
def test_every_study_run_gets_its_config_from_its_command(study, tmp_path):
    spec = S.load_study(study)
    for run in S.plan(spec, str(tmp_path)):
        args = run.command[run.command.index("--config"):]
        parsed = C.parse(args, paths=False)[0]
        expected = S.resolve_config(spec["base"], spec["overrides"],
                                    spec["variants"][run.variant], run.seed)
        assert parsed.to_dict() == expected.to_dict(), run.name
        C.check(expected)


@pytest.mark.parametrize("text,expected", [
    ("true", True), ("True", True), ("t", True), ("1", True),
    ("false", False), ("FALSE", False), ("f", False), ("0", False)])
def test_bools(text, expected):
    assert parse("--config", config_file("tiny"), f"--config.model.lrn={text}").model.lrn \
        is expected


def test_the_flag_syntax_of_config_flags():
    tiny = config_file("tiny")
    c = parse(f"--config={tiny}", "--config.model.lrn", "--config.optimizer.step_epochs", "17",
              "--config.optimizer.step_epochs=30", "--config.batch_size", "0x10",
              "--config.optimizer.plateau_min_delta", "0.01",
              "--config.model.init_std=1,1,1,1,1,1,1,1", "--config.model.pool_size=[2, 2, 3]",
              "--config.data.shuffle_buffer=1_000", "--config.model.lrn_alpha=-0.0")
    assert c.model.lrn is True and c.optimizer.step_epochs == (17, 30)
    assert c.batch_size == 16 and c.data.shuffle_buffer == 1000
    assert c.model.init_std == (1.0,) * 8 and all(type(v) is float for v in c.model.init_std)
    assert c.model.pool_size == (2, 2, 3) and c.optimizer.plateau_min_delta == 0.01
    c = parse("--config.optimizer.step_epochs=(5,)", "--config", tiny,
              "--config.steps_per_epoch=None", "--config.data.classes=None",
              "--config.model.conv1_init_std=0.02", "--config.model.conv1_init_std=None")
    assert c.optimizer.step_epochs == (5,) and c.steps_per_epoch is None
    assert c.data.classes is None and c.model.conv1_init_std is None
    assert c.is_locked


@pytest.mark.parametrize("args,expected", [
    (["--config.batch_size=many"], "error: --config.batch_size=many is not an int"),
    (["--config.batch_size=None"], "error: --config.batch_size=None is not an int"),
    (["--config.model.lrn=maybe"], "error: --config.model.lrn=maybe is not true or false"),
    (["--config.model.filters=8 16"], "error: --config.model.filters=8 16 is not a tuple"),
    (["--config.epochs"], "error: --config.epochs needs a value"),
    (["--config.data.generated={'classes': 3}"],
     "error: --config.data.generated is a group of fields: set them one by one"),
    (["--config.augment.lightin_std=0.2"],
     "error: --config.augment.lightin_std: no such config field; did you mean "
     "--config.augment.lighting_std"),
    (["--config.model.dropout=1.5"], "error: --config.model.dropout=1.5 must be a number in "
                                     "[0, 1)"),
    (["--config.optimizer.lr_factor=0"], "error: --config.optimizer.lr_factor=0 must be a "
                                         "number in (0, 1]"),
    (["--config.model.init_bias=nan"], "error: --config.model.init_bias=nan must be a finite "
                                       "number"),
    (["--config.model.filters=(8, 16)"], "error: --config.model.filters=(8, 16) must be a "
                                         "tuple of 5 ints in [1, inf)"),
    (["--config", "configs/missing.py"], "error: --config configs/missing.py: no such file"),
    (["--nosuchflag"], "error: unrecognized arguments: --nosuchflag"),
])
def test_command_line_mistakes_are_one_line(args, expected, capsys):
    with pytest.raises(SystemExit) as e:
        C.parse(["--config", config_file("tiny"), "--workdir", "/tmp/unused-workdir", *args])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(expected), err


def test_config_files_and_workdirs_are_checked(tmp_path, capsys):
    (tmp_path / "none.py").write_text("X = 1\n")
    (tmp_path / "broken.py").write_text("def get_config():\n    return 1 / 0\n")
    (tmp_path / "file").write_text("")
    for args, expected in [
            (["--config", tmp_path / "none.py"], "has no get_config() function"),
            (["--config", tmp_path / "broken.py"], "get_config() failed: ZeroDivisionError"),
            (["--workdir", tmp_path / "file"], "--workdir " + str(tmp_path / "file")
             + " is a file, not a folder"),
            (["--workdir", tmp_path / "file" / "run"], "is a file, so no folder can be made"),
            (["--config.data.source=images", f"--config.data.train={tmp_path}",
              "--config.data.validation=/nonexistent/val"],
             "--config.data.validation=/nonexistent/val does not exist"),
            (["--config.data.source=tfrecord", f"--config.data.train={tmp_path}/x-*"],
             "no TFRecord files match it"),
            (["--config.data.source=folder", "--config.data.train=None"],
             "config.data.train is needed with data.source=folder")]:
        with pytest.raises(SystemExit):
            C.parse(["--workdir", tmp_path / "w", *map(str, args)])
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and expected in err, err
    assert not (tmp_path / "w").exists()


# ---------------------------------------------------------------------------- the command

def bad_values():
    """(config, field, bad value) for every declared field with a range or a path, each
    field once (from the first config that has it: demo.py has all of paper.py's)."""
    seen, cases = set(), []
    for name in ["demo", *CONFIGS]:
        config = load(name)
        for n, declared, v in C.fields(config):
            key = (n, declared.describe())
            if key in seen:
                continue
            seen.add(key)
            bad = ("/nonexistent/path" if declared.path else outside(declared, v))
            if bad is not None:
                cases.append((name, n, bad))
    return cases


def test_every_out_of_range_value_ends_the_command_in_one_line(tmp_path):
    cases = bad_values()
    names = {n for _, n, _ in cases}
    assert {"batch_size", "model.dropout", "optimizer.lr_factor", "data.source",
            "model.pool_size", "augment.stats", "data.classes", "data.train"} <= names
    for name, field, bad in cases:
        extra = []
        if field.startswith("data.train") or field.startswith("data.validation"):
            extra = ["--config.data.source=images", f"--config.data.train={tmp_path}"]
        args = [*extra, flag(field, bad)]
        run = subprocess.run([sys.executable, TRAIN, "--config", config_file(name),
                              "--workdir", tmp_path / "w", *args],
                             capture_output=True, text=True, timeout=60)
        lines = run.stderr.splitlines()
        assert run.returncode == 2 and len(lines) == 1 and not run.stdout, (args, run.stderr)
        assert lines[0].startswith(f"error: --config.{field}="), (args, lines)
    assert not (tmp_path / "w").exists()


def test_the_command_fails_before_importing_tensorflow(tmp_path):
    run = subprocess.run([sys.executable, "-X", "importtime", TRAIN, "--workdir", tmp_path,
                          "--config.model.dropout=1.5"], capture_output=True, text=True,
                         timeout=60)
    imported = [line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines()
                if line.startswith("import time:")]
    assert run.returncode == 2 and "ml_collections" in imported
    assert not [m for m in imported if m.split(".")[0] in ("tensorflow", "keras", "numpy")]
    assert run.stderr.splitlines()[-1].startswith("error: --config.model.dropout=1.5 must be")
