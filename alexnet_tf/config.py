r"""Training configs: each field's type and range, declared once beside its default
(`field`) and checked before any TensorFlow work (`check`, `check_paths`); and the train
command (`run_training`), which reads a config file and its --config.FIELD=VALUE overrides
with argparse.

    python tools/train.py [--config FILE] --workdir DIR [--config.FIELD=VALUE ...]
    python -m alexnet_tf.train [--config FILE] --workdir DIR [--config.FIELD=VALUE ...]

A config is a Python file whose `get_config()` returns an ml_collections `ConfigDict`
(configs/). configs/paper.py, the base of the others, declares every field with `field`:

    c.batch_size = field(128, "[1, inf)")         # an int, at least 1
    c.model.dropout = field(0.5, "[0, 1)")        # a number, 0 <= dropout < 1
    c.data.source = field("tfrecord", ("tfrecord", "images", ...))  # one of these
    c.model.pool_size = field((3, 3, 3), "[1, inf)", length=3)      # 3 ints, each >= 1
    c.steps_per_epoch = field(int, "[1, inf)")    # None (the default), or an int >= 1
    c.data.classes = field(str, path="file")      # None, or an existing file

The type is the default's (a tuple's items too: ints, or numbers if any is a float); a
type in place of the default declares a typed placeholder, whose default is None. The
range is an interval in `[`/`(` notation (inf allowed; nan and the infinities never pass
an open bound) or a tuple of the allowed values. A `field` is an ml_collections
`FieldReference`, so the declaration stays with the field when configs derived from
paper.py set its value, and ConfigDict keeps refusing values of another type.

The command line (`parse`): `--config FILE` (default: configs/demo.py), `--workdir DIR`,
and any number of `--config.FIELD=VALUE` or `--config.FIELD VALUE`, before or after
--config, each VALUE read as the field's type: bools as true/false (also True, t, 1...),
ints and numbers as Python writes them, strings as they are, tuples as a Python literal
`(3, 3, 3)` or `3,3,3` (a repeated flag adds items, as ml_collections' config_flags did),
`None` for a field that may be None. Every mistake ends the command with one line,
`error: ...`, and exit status 2, before TensorFlow is imported (tools/train.py), e.g.

    error: --config.model.dropout=1.5 must be a number in [0, 1)
    error: --config.augment.lightin_std: no such config field; did you mean
           --config.augment.lighting_std?

This module imports nothing heavy (the standard library, ml_collections, alexnet_tf.cli).
"""
import ast
import collections.abc
import difflib
import importlib.machinery
import importlib.util
import math
import os
import re
import shlex
import sys

import ml_collections
from ml_collections.config_dict import FieldReference

import configs
from alexnet_tf import cli

CONFIGS = os.path.dirname(os.path.abspath(configs.__file__))  # installed with the package
DEFAULT_CONFIG = os.path.join(CONFIGS, "demo.py")
NETS = {"alexnet": "alexnet", "fig1": "fig1_net",  # config.net -> its function in model.py
        "cifar": "cifar_net"}
PATH_KINDS = ("file", "dir", "path", "data")
# the history key of the training error measured in inference mode (alexnet_tf.train_eval)
TRAIN_EVAL_KEY = "train_eval_top1_error"
# the history key of an epoch after which a rule ended the run before config.epochs, and
# its values: which rule (a number, as Keras logs and TensorBoard scalars are)
STOPPED = "stopped"
STOPPED_BY_TRAIN_EVAL, STOPPED_AT_PLATEAU = 1.0, 2.0  # train_eval_stop; end_at_plateau


# ---------------------------------------------------------------------------- declarations

def _number(text):
    text = text.strip()
    if text in ("inf", "+inf", "-inf"):
        return -math.inf if text.startswith("-") else math.inf
    try:
        return int(text)
    except ValueError:
        return float(text)


class Interval:
    """A range of numbers in interval notation: "[0, 1)", "(0, inf)", "[1, 3]"."""

    _FORM = re.compile(r"\s*([\[(])\s*([^,\s]+)\s*,\s*([^\])\s]+)\s*([\])])\s*$")

    def __init__(self, text):
        match = self._FORM.match(text)
        try:
            self.low, self.high = _number(match[2]), _number(match[3])
        except (TypeError, ValueError):
            raise ValueError(f"{text!r} is not an interval such as '[0, 1)' or "
                             f"'[1, inf)'") from None
        self.closed_low, self.closed_high = match[1] == "[", match[4] == "]"
        self.text = f"{match[1]}{match[2]}, {match[3]}{match[4]}"

    def __contains__(self, value):  # nan compares false: never inside
        return ((self.low <= value if self.closed_low else self.low < value)
                and (value <= self.high if self.closed_high else value < self.high))

    def __str__(self):
        return self.text

    __repr__ = __str__


def _items_type(values):
    kinds = {type(v) for v in values}
    if kinds <= {int}:
        return int
    if kinds <= {int, float}:
        return float
    return kinds.pop() if len(kinds) == 1 else None


def _is(value, kind):
    """`value` is of the field type `kind` (an int is a number; a bool is no int)."""
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    return kind is None or isinstance(value, kind)


def _text(value):
    """A value as the command line writes it."""
    return value if isinstance(value, str) else repr(value)


class Field(FieldReference):
    """A config field: its value, type and range (see `field`, which makes one)."""

    def __init__(self, default, range=None, *, length=None, path=None, optional=None):
        placeholder = isinstance(default, type)
        super().__init__(None if placeholder else default,
                         field_type=default if placeholder else type(default))
        kind = self.get_type()
        self.optional = placeholder if optional is None else bool(optional)
        self.choices = tuple(range) if isinstance(range, (tuple, list)) else None
        self.interval = Interval(range) if isinstance(range, str) else None
        self.length = Interval(length) if isinstance(length, str) else length
        self.items = _items_type(default) if kind is tuple and not placeholder else None
        self.path = path
        if path not in (None, *PATH_KINDS) or (path and kind is not str):
            raise ValueError(f"field: path must be one of {PATH_KINDS}, for a string field")
        if range is not None and self.choices is None and self.interval is None:
            raise ValueError(f"field: range must be an interval string or a tuple of "
                             f"values, got {range!r}")
        if self.interval is not None and (self.items if kind is tuple else kind) not in (
                int, float):
            raise ValueError(f"field: an interval is a range of numbers, not of {kind}")
        if not placeholder and not self.allows(default):  # it contradicts itself
            raise ValueError(f"field: the default {default!r} is not {self.describe()}")

    def __setstate__(self, state):  # copies and pickles keep the declaration
        super().__setstate__(state)
        self.__dict__.update({k: v for k, v in state.items() if not k.startswith("_")})

    def allows(self, value):
        """Whether `value` is of the field's type and in its range (paths aside:
        `check_paths`)."""
        if value is None:
            return self.optional
        kind = self.get_type()
        if not _is(value, kind):
            return False
        if kind is tuple:
            n = len(value)
            if self.length is not None and not (n in self.length if isinstance(
                    self.length, Interval) else n == self.length):
                return False
            return all(_is(v, self.items) and self._in_range(v) for v in value)
        return self._in_range(value)

    def _in_range(self, value):
        if self.choices is not None and not self.path:
            return value in self.choices
        return self.interval is None or value in self.interval

    def describe(self):
        """What the field's values must be, e.g. "a number in [0, 1)"."""
        kind = self.get_type()
        if kind is tuple:
            n = self.length
            count = ("" if n is None else f"{n} " if isinstance(n, int)
                     else f"{n.low} or more " if n.high == math.inf and n.closed_low
                     else f"(length in {n}) ")
            plural = n != 1
            what = f"a tuple of {count}{self._kind(self.items, plural)}"
        elif self.choices is not None and self.path:
            what = f"{' or '.join(map(str, self.choices))} or {self._path()}"
        elif self.choices is not None:
            what = "one of " + ", ".join(map(str, self.choices))
        elif self.path:
            what = self._path()
        else:
            what = self._kind(kind)
        if kind is tuple and self.choices is not None:
            what += " among " + ", ".join(map(str, self.choices))
        elif self.interval is not None and self.interval.low == -math.inf and \
                self.interval.high == math.inf:
            what = what.replace("a number", "a finite number").replace("numbers",
                                                                          "finite numbers")
        elif self.interval is not None:
            what += f" in {self.interval}"
        return ("None or " if self.optional else "") + what

    def _path(self):
        return {"file": "an existing file", "dir": "an existing folder",
                "path": "an existing file or folder",
                "data": "the data's location (as data.source reads it)"}[self.path]

    @staticmethod
    def _kind(kind, plural=False):
        names = {bool: ("true or false", "bools"), int: ("an int", "ints"),
                 float: ("a number", "numbers"), str: ("a string", "strings")}
        name = names.get(kind, (f"a {getattr(kind, '__name__', 'value')}", "values"))
        return name[1] if plural else name[0]


def field(default, range=None, *, length=None, path=None, optional=None):
    """Declares a config field, where it is defined, e.g. `c.batch_size = field(128,
    "[1, inf)")`. Returns a `Field`, the value of the ConfigDict field.

    Args:
        default: the field's default value, whose type is the field's; or a type (int,
            float, str, tuple) for a field whose default is None (a typed placeholder).
        range: an interval of numbers, "[low, high]" with `(`/`)` for an open bound and
            inf for none ("[1, inf)"), or a tuple of the allowed values; None: any value
            of the type. For a tuple field, the range of each item.
        length: for a tuple field, its length: an int, or an interval ("[1, inf)").
        path: for a string field that names a file: "file" (an existing file), "dir" (an
            existing folder), "path" (either) or "data" (data.train/validation: what
            data.source reads);
            with `range`, the values in it need not exist ("published" for stats).
        optional: whether None is allowed (default: only for a placeholder).
    """
    return Field(default, range, length=length, path=path, optional=optional)


class FieldError(ValueError):
    """A config field's value is wrong: `field` is its dotted name, `value` the value."""

    def __init__(self, name, value, message):
        super().__init__(message)
        self.field, self.value = name, value


def flatten(tree, prefix=""):
    """A config (ConfigDict or nested dicts) as `{"group.field": value}`; None kept."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, (dict, ml_collections.ConfigDict)):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def fields(config, prefix=""):
    """`(dotted name, declaration, value)` of every field of `config`, sorted; the
    declaration is its `Field`, None for a field not declared with `field`."""
    for key, raw in config.items(preserve_field_references=True):
        if isinstance(raw, ml_collections.ConfigDict):
            yield from fields(raw, f"{prefix}{key}.")
            continue
        declared = None
        while isinstance(raw, FieldReference):  # a field set to a FieldReference keeps it
            declared = raw if isinstance(raw, Field) else declared
            raw = raw._value
        yield prefix + key, declared, config[key]


def _net_arguments(net):
    """The keyword arguments the function of `net` (`NETS`) in alexnet_tf/model.py takes,
    read from its source (importing it would import TensorFlow); None if unknown."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.py")
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == NETS.get(net):
            return {a.arg for a in node.args.args + node.args.kwonlyargs}
    return None


def check(config):
    """Raises `FieldError` (a ValueError) in one line naming the first field whose value
    is not of its declared type and range (`field`), the value and what it must be; also
    when config.model has fields that config.net's function does not take. Fields not
    declared with `field` are left to ConfigDict's type check. Reads no files (see
    `check_paths`)."""
    for name, declared, value in fields(config):
        if declared is not None and not declared.allows(value):
            raise FieldError(name, value, f"config.{name}={_text(value)} must be "
                                          f"{declared.describe()}")
    net, model = config.get("net"), config.get("model")
    if isinstance(model, ml_collections.ConfigDict) and net in NETS:
        takes = _net_arguments(net)
        if takes is not None:
            takes.discard("devices")  # the training code's (alexnet_tf.recipe)
            extra = sorted(set(model.keys()) - takes)
            if extra:
                raise FieldError("net", net, f"config.net={net}, but config.model has "
                                        f"{', '.join(extra)}, which alexnet_tf.model."
                                        f"{NETS[net]}() does not take (its arguments: "
                                        f"{', '.join(sorted(takes))})")


def check_together(config):
    """Raises `FieldError` in one line for fields that are valid alone but not together;
    made when a run starts (`alexnet_tf.train.train`), after `check`."""
    if config.get("train_eval_stop", 0.0) and not config.get("train_eval_examples", 0):
        raise FieldError("train_eval_stop", config.train_eval_stop,
                         f"config.train_eval_stop={config.train_eval_stop} needs "
                         f"config.train_eval_examples > 0: the rule reads their error")
    if config.get("train_eval_stop", 0.0) and config.strategy == "multi_worker":
        raise FieldError("train_eval_stop", config.train_eval_stop,
                         "config.train_eval_stop works on one machine only: under "
                         "multi_worker each worker would decide to stop on its own")
    every = config.get("validation_every", 1)
    if every > 1 and config.optimizer.schedule == "plateau":
        raise FieldError("validation_every", every, f"config.validation_every={every} needs "
                         f"optimizer.schedule=step: the plateau rule reads every epoch's "
                         f"validation error")


def stopped_early(config, history):
    """Whether a run with `config` (a ConfigDict or dict) and `history` (its per-epoch
    rows) ends where its history does, by a rule that `config` still sets: its training
    error (TRAIN_EVAL_KEY) came down to `train_eval_stop`, or its last epoch was the
    plateau after the last cut (`STOPPED` = `STOPPED_AT_PLATEAU`) and
    `optimizer.end_at_plateau` is on. A rule turned off (or a lower `train_eval_stop`) on
    resume lets the run go on."""
    last = history[-1] if history else {}
    stop = config.get("train_eval_stop", 0.0)
    error = last.get(TRAIN_EVAL_KEY)
    by_error = bool(stop) and error is not None and error <= stop
    by_plateau = (last.get(STOPPED) == STOPPED_AT_PLATEAU
                  and bool((config.get("optimizer") or {}).get("end_at_plateau", False)))
    return by_error or by_plateau


def validation_epochs(config):
    """The epochs (counted from 1) after which a run validates: every
    `validation_every`-th, and the last (Keras' `validation_freq` as a list)."""
    return sorted(set(range(config.validation_every, config.epochs + 1,
                            config.validation_every)) | {config.epochs})


def _data_checks():
    # data.source -> what its data.train and data.validation must be (tfds: a name or a
    # folder, checked by tfds; generated: no paths). A tfds:NAME train path with another
    # source is left to alexnet_tf.inputs, which says how to give it.
    return {"tfrecord": cli.records_or_tfds, "images": cli.existing_path,
            "folder": cli.existing_dir}


def check_paths(config):
    """Raises `FieldError` in one line for a field declared with `path` whose file or
    folder is not there (a remote path, with "://", is left to TensorFlow), and for
    data.train or data.validation missing where data.source needs them."""
    for name, declared, value in fields(config):
        if declared is None or not declared.path:
            continue
        group = config
        for part in name.split(".")[:-1]:
            group = group[part]
        source = group.get("source")
        if declared.path == "data" and value is None:
            needed = source in _data_checks() or (source == "tfds" and
                                                  name.endswith(".train"))
            if needed:
                raise FieldError(name, None, f"config.{name} is needed with data.source="
                                             f"{source} (--config.{name}=...)")
            continue
        if value is None or "://" in value or (declared.choices and
                                               value in declared.choices):
            continue
        checker = {"file": cli.existing_file, "dir": cli.existing_dir,
                   "path": cli.existing_path}.get(
            declared.path) or _data_checks().get(source)
        if checker is None:
            continue
        try:
            checker(value)
        except Exception as e:  # argparse.ArgumentTypeError: "VALUE does not exist"
            message = str(e)
            message = message[len(value):] if message.startswith(value) else f": {message}"
            raise FieldError(name, value, f"config.{name}={value}{message}") from None


# ---------------------------------------------------------------------------- command line

def _parse_value(text, kind, items=None):
    """The value of `text` for a field of type `kind` (ml_collections' config_flags
    syntax); ValueError("is not ...") if it is none."""
    if kind is bool:
        word = text.strip().lower()
        if word in ("true", "t", "1"):
            return True
        if word in ("false", "f", "0"):
            return False
        raise ValueError("is not true or false")
    if kind is int:
        try:
            return int(text.strip(), 0)
        except ValueError:
            try:
                return int(text.strip(), 10)  # leading zeros
            except ValueError:
                raise ValueError("is not an int") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError("is not a number") from None
    if kind is str:
        return text
    if kind in (tuple, list):
        try:
            value = ast.literal_eval(text)
        except ValueError:
            value = text
        except SyntaxError:
            if "," in text or " " in text:
                raise ValueError("is not a tuple: write (a, b, c) or a,b,c, with quotes "
                                 "around strings") from None
            value = text  # a single string item
        if isinstance(value, collections.abc.Iterable) and not isinstance(value, str):
            value = tuple(value)
        else:
            value = (value,)
        if items is float:
            value = tuple(float(v) if _is(v, int) else v for v in value)
        return kind(value)
    try:  # another type: a Python literal, else the text (as config_flags)
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _split(argv):
    """`(other arguments, [(FIELD, VALUE or None)])`: the --config.FIELD overrides of
    `argv`, as --config.FIELD=VALUE or --config.FIELD VALUE (None: no value follows)."""
    rest, overrides, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--config."):
            name, equals, text = arg[len("--config."):].partition("=")
            if not equals:
                if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                    text, i = argv[i + 1], i + 1
                else:
                    text = None
            overrides.append((name, text))
        else:
            rest.append(arg)
        i += 1
    return rest, overrides


def load_config(path):
    """The ConfigDict of the config file `path` (its `get_config()`); ValueError in one
    line if there is none."""
    if not os.path.isfile(path):
        raise ValueError(f"--config {path}: no such file (the configs are in {CONFIGS})")
    name = "config_file_" + re.sub(r"\W", "_", os.path.abspath(path))
    loader = importlib.machinery.SourceFileLoader(name, path)
    module = importlib.util.module_from_spec(
        importlib.util.spec_from_file_location(name, path, loader=loader))
    try:
        loader.exec_module(module)
    except Exception as e:  # a mistake in the file: one line, as every error here
        raise ValueError(f"--config {path}: {type(e).__name__}: {_first_line(e)}") from None
    if not hasattr(module, "get_config"):
        raise ValueError(f"--config {path}: has no get_config() function")
    try:
        config = module.get_config()
    except Exception as e:
        raise ValueError(f"--config {path}: get_config() failed: {type(e).__name__}: "
                         f"{_first_line(e)}") from None
    if not isinstance(config, ml_collections.ConfigDict):
        raise ValueError(f"--config {path}: get_config() returned a "
                         f"{type(config).__name__}, not an ml_collections ConfigDict")
    return config


def _first_line(error):
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""


def set_overrides(config, overrides):
    """Sets `[(dotted FIELD, VALUE text or None)]` on `config`, each VALUE read as its
    field's type; returns {FIELD: VALUE text}. ValueError in one line (unknown field, with the
    nearest names; a group of fields; a value not of the type)."""
    names = [name for name, _, _ in fields(config)]
    given, texts = {}, {}
    for name, text in overrides:
        flag = f"--config.{name}" + ("" if text is None else f"={text}")
        node, parts = config, name.split(".")
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, ml_collections.ConfigDict) else None
        key = parts[-1]
        if not isinstance(node, ml_collections.ConfigDict) or key not in node:
            near = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
            raise ValueError(f"--config.{name}: no such config field"
                             + (f"; did you mean {', '.join('--config.' + n for n in near)}?"
                                if near else f"; the fields are: {', '.join(names)}"))
        if isinstance(node[key], ml_collections.ConfigDict):
            raise ValueError(f"--config.{name} is a group of fields: set them one by one "
                             f"(--config.{name}.FIELD=VALUE)")
        kind = node.get_type(key)
        declared = next(d for n, d, _ in fields(node) if n == key)
        if text is None:
            if kind is not bool:
                raise ValueError(f"--config.{name} needs a value (--config.{name}=VALUE)")
            text = "true"
        if text == "None" and (declared is None and node[key] is None
                               or declared is not None and declared.optional):
            value = None
        else:
            items = declared.items if declared is not None else (
                _items_type(node[key]) if kind is tuple and node[key] else None)
            try:
                value = _parse_value(text, kind, items)
            except ValueError as e:
                raise ValueError(f"{flag} {e}") from None
            if kind is tuple and name in given and given[name] is not None:
                value = given[name] + value  # repeated: more items (config_flags' way)
        try:
            node[key] = value
        except (TypeError, ValueError) as e:
            raise ValueError(f"{flag}: {_first_line(e)}") from None
        given[name] = value
        texts[name] = text if name not in texts or kind is not tuple else (
            f"{texts[name]} --config.{name}={text}")
    return texts


HELP = """Trains AlexNet with a config (default: configs/demo.py, which needs no data),
resuming from the workdir's latest checkpoint if any.

Any config field can be set with --config.FIELD=VALUE (or --config.FIELD VALUE), before or
after --config; configs/paper.py declares each field's type and range."""


def parser(prog=None):
    """The train command's argparse parser (--config, --workdir; the --config.FIELD
    overrides are taken out of the command line before it, by `parse`)."""
    p = cli.Parser(HELP, prog=prog, allow_abbrev=False,
                   usage="%(prog)s [--config FILE] --workdir DIR [--config.FIELD=VALUE ...]")
    p.add_argument("--config", metavar="FILE", default=DEFAULT_CONFIG,
                   help="a config file, configs/*.py or your own (default: configs/demo.py)")
    p.add_argument("--workdir", metavar="DIR", required=True, type=cli.new_dir,
                   help="where checkpoints, logs and models go (made if needed)")
    return p


def parse(argv=None, prog=None, paths=True):
    """`(config, workdir)` of a train command line `argv` (default: sys.argv[1:]), the
    config read from its file, overridden, checked (`check`; with `paths`, also
    `check_paths`) and locked. A mistake ends the process with one line, `error: ...`,
    and exit status 2 (SystemExit)."""
    p = parser(prog)
    rest, overrides = _split([os.fspath(a) for a in (sys.argv[1:] if argv is None else argv)])
    args = p.parse_args(rest)
    try:
        config = load_config(args.config)
        given = set_overrides(config, overrides)
        check(config)
        if paths:
            check_paths(config)
    except FieldError as e:  # set on the command line: named as it was given there
        message, named = str(e), f"config.{e.field}={_text(e.value)}"
        if e.field in given and message.startswith(named):
            message = f"--config.{e.field}={given[e.field]}" + message[len(named):]
        p.error(message)
    except ValueError as e:
        p.error(str(e))
    config.lock()
    return config, args.workdir


def _command():
    """The words that start this process's train command, for the resume line: `python
    -m alexnet_tf.train` or `python tools/train.py`."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        return ["python", "-m", spec.name]
    return ["python", sys.argv[0]]


def run_training(argv=None):
    """The train command (tools/train.py, `python -m alexnet_tf.train`): parses and checks
    the command line `argv` (default: sys.argv[1:]; `parse`), then trains
    (`alexnet_tf.train.train`) and prints the final metrics and where the model is. Every
    failure ends the process with one line on stderr: `error: ...` and exit status 2 for
    the command line, 1 for training (a lost worker: its line ends with the command that
    resumes the run)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command()
    config, workdir = parse(argv, prog=" ".join(command) if command[1] == "-m" else None)

    from absl import logging  # installed with TensorFlow
    logging.set_verbosity(logging.WARNING)  # TF's SavedModel writer logs at INFO
    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None) == "alexnet_tf.train":
        T = main  # python -m alexnet_tf.train: not imported a second time
    else:
        import alexnet_tf.train as T
    from alexnet_tf.checkpoint import CheckpointWriteError
    from alexnet_tf.rundir import RunDir
    resume = shlex.join([*command, *argv])  # a lost worker's line ends with it
    multi_worker = config.strategy == "multi_worker"
    errors, lost, on_lost = (T.BadData, CheckpointWriteError, ValueError,
                             FileNotFoundError), (), None
    if multi_worker:  # alexnet_tf.multiworker is imported for multi_worker only
        from alexnet_tf.multiworker import Cluster, PeersMissing, WorkerLost, exit_lost
        errors, lost = errors + (PeersMissing,), (WorkerLost,)
        on_lost = lambda error: exit_lost(error, f": {resume}")  # noqa: E731
    try:
        history = T.train(config, workdir, on_lost=on_lost)
    except T.TrainingDiverged as e:
        sys.exit(f"error: training diverged: {e}")
    except lost as e:
        on_lost(e)
    except errors as e:
        sys.exit(f"error: {e}")
    if multi_worker and not Cluster.from_env().is_chief:
        return  # the chief reports the results and wrote the model
    if history:
        last = history[-1]
        print("final: " + ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "epoch"))
    run = RunDir(workdir)
    print(f"model: {run.model}, SavedModel: {run.saved_model}")
