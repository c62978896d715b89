"""The tools' command line (tools/*.py): one argparse parser, the checks of their numbers
and paths, and the flags several tools share, each with one help text.

argparse, not absl: it is the standard library, and a tool's parser is a value
(`build_parser()`) that tests build and call in-process as often as they like, where
absl's flags live in one global registry per process.

A check is an argparse `type=`: it declares a flag's type and range once, where the flag
is defined, and runs while the command line is parsed, before any TensorFlow work (this
module imports nothing heavy; nor may the package's __init__, which importing it runs).
A value outside it ends the tool with one line on stderr that names the flag, the value
and what it must be, and exit status 2:

    error: --quality 101 must be between 1 and 100
    error: --input data/missing does not exist

    p = cli.Parser(__doc__)
    p.add_argument("--quality", type=cli.integer(min=1, max=100), default=95)
    cli.add_model(p, "keras")
    cli.add_data(p, split="validation")
"""
import argparse
import glob
import math
import os
import re


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line, `error: --flag VALUE what is wrong`,
    without the usage (`--help` shows it), and whose help texts end with the range of
    each checked number."""

    def __init__(self, description, **kwargs):
        super().__init__(description=description,
                         formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    def add_argument(self, *args, **kwargs):
        check, text = kwargs.get("type"), kwargs.get("help")
        if isinstance(check, Range) and text != argparse.SUPPRESS:
            kwargs["help"] = f"{text} ({check})" if text else str(check)
        return super().add_argument(*args, **kwargs)

    def error(self, message):
        # argparse's "argument --flag: MESSAGE"; the checks' MESSAGE starts with the value
        message = re.sub(r"^argument (\S+): ", r"\1 ", message)
        self.exit(2, f"error: {message}\n")


def _shown(text):
    return text if text.strip() else repr(text)


class Range:
    """An integer or real number flag's type and range (`integer`, `number`)."""

    def __init__(self, kind, min=None, max=None):
        self.kind, self.min, self.max = kind, min, max

    def __call__(self, text):
        try:
            value = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_shown(text)} is not {self._a()}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if (self.min is not None and value < self.min) or (self.max is not None
                                                              and value > self.max):
            raise argparse.ArgumentTypeError(f"{text} must be {self._bounds()}")
        return value

    def _a(self):
        return "a whole number" if self.kind is int else "a number"

    def _bounds(self):
        if self.min is not None and self.max is not None:
            return f"between {self.min} and {self.max}"
        return f"at least {self.min}" if self.max is None else f"at most {self.max}"

    def __str__(self):
        if self.min is not None and self.max is not None:
            return f"{self._a()} from {self.min} to {self.max}"
        return self._a() + ("" if self.min is None and self.max is None
                            else f", {self._bounds()}")

    __repr__ = __str__


def integer(min=None, max=None):
    """A whole number flag, `min` to `max` inclusive (None: no bound)."""
    return Range(int, min, max)


def number(min=None, max=None):
    """A real number flag, `min` to `max` inclusive (None: no bound); not nan or inf."""
    return Range(float, min, max)


class Path:
    """A path flag that must be an existing file, folder or either (`existing_file`,
    `existing_dir`, `existing_path`), or something to write: a file whose folder exists
    (`new_file`) or a folder, existing or to be made (`new_dir`). `~` is expanded."""

    def __init__(self, kind):
        self.kind = kind

    def __call__(self, text):
        if not text.strip():  # "" would name the current folder, or no file at all
            raise argparse.ArgumentTypeError(f"{_shown(text)}: an empty path")
        path = os.path.expanduser(text)
        wrong = getattr(self, "_" + self.kind)(path)
        if wrong:
            raise argparse.ArgumentTypeError(f"{_shown(text)}{wrong}")
        return path

    @staticmethod
    def _file(path):
        if os.path.isdir(path):
            return " is a folder, not a file"
        return None if os.path.isfile(path) else " does not exist"

    @staticmethod
    def _dir(path):
        if os.path.isfile(path):
            return " is a file, not a folder"
        return None if os.path.isdir(path) else " does not exist"

    @staticmethod
    def _path(path):
        return None if os.path.exists(path) else " does not exist"

    @staticmethod
    def _new_file(path):
        if os.path.isdir(path):
            return " is a folder, not a file"
        folder = os.path.dirname(path) or "."
        return None if os.path.isdir(folder) else f": its folder {folder} does not exist"

    @staticmethod
    def _new_dir(path):
        if os.path.exists(path) and not os.path.isdir(path):
            return " is a file, not a folder"
        above = os.path.abspath(path)
        while not os.path.exists(above):
            above = os.path.dirname(above)
        if not os.path.isdir(above):
            return f": {above} is a file, so no folder can be made in it"
        if not os.path.exists(path) and not os.access(above, os.W_OK | os.X_OK):
            return f": {above} is not writable"
        return None

    def __repr__(self):
        return f"Path({self.kind!r})"


existing_file = Path("file")
existing_dir = Path("dir")
existing_path = Path("path")  # a file or a folder
new_file = Path("new_file")
new_dir = Path("new_dir")

TFDS_PREFIX = "tfds:"  # the tools' name for tfds data; alexnet_tf.data reads it


def tfds_path(path, default_split):
    """`(name, split)` of a data path `tfds:NAME[:SPLIT]`: NAME is a tfds name
    (`imagenet2012`, `imagenette/320px-v2`, `imagenet2012:5.1.0`) or the directory of a
    prepared dataset (`tfds_builder`), SPLIT a split or tfds' slicing of one (`validation`,
    `train[:1000]`), `default_split` when it is left out."""
    body = os.fspath(path)[len(TFDS_PREFIX):]
    name, _, split = body.partition(":")
    if re.match(r"[\d*]+(\.[\d*]+)*(:|$)", split):  # NAME:VERSION[:SPLIT]
        version, _, split = split.partition(":")
        name = f"{name}:{version}"
    if not name:
        raise ValueError(f"{path}: no dataset after {TFDS_PREFIX!r} (give tfds:NAME[:SPLIT] "
                         f"or tfds:DIRECTORY[:SPLIT])")
    return name, split or default_split


class Data:
    """A data flag: a TFRecord glob (or one file), a `<class>/<image>` folder if
    `folders`, or a prepared tfds dataset `tfds:NAME[:SPLIT]` / `tfds:DIRECTORY[:SPLIT]`
    if `tfds` (those are checked by `alexnet_tf.data` when read: a NAME is looked up in
    --data_dir). A remote glob (`gs://...`) is left to TensorFlow to find; `~` is
    expanded in a local one."""

    def __init__(self, folders=True, tfds=True):
        self.folders, self.tfds = folders, tfds

    def __call__(self, text):
        if self.tfds and text.startswith(TFDS_PREFIX):
            try:
                tfds_path(text, None)
            except ValueError as e:
                raise argparse.ArgumentTypeError(str(e)) from None
            return text
        if "://" in text:
            return text
        path = os.path.expanduser(text)
        if os.path.isdir(path) and not self.folders:
            raise argparse.ArgumentTypeError(
                f"{text} is a folder: give a TFRecord glob, such as "
                f"'{os.path.join(text, 'train-*')}'")
        if not os.path.exists(path) and not glob.glob(path):
            others = [w for w, on in (("a folder", self.folders),
                                      (f"{TFDS_PREFIX}NAME[:SPLIT]", self.tfds)) if on]
            raise argparse.ArgumentTypeError(
                f"{_shown(text)}: no TFRecord files match it"
                + (f", and it is not {' or '.join(others)}" if others else ""))
        return path

    def __repr__(self):
        return f"Data(folders={self.folders}, tfds={self.tfds})"


data_source = Data()
records_or_tfds = Data(folders=False)
records = Data(folders=False, tfds=False)


class Choices:
    """A comma-separated list of some of `allowed` (any case), as a list."""

    def __init__(self, *allowed):
        self.allowed = allowed

    def __call__(self, text):
        known = {a.lower(): a for a in self.allowed}
        values = [v.strip() for v in text.split(",") if v.strip()]
        if not values or any(v.lower() not in known for v in values):
            raise argparse.ArgumentTypeError(
                f"{_shown(text)}: use a comma-separated list of {', '.join(self.allowed)}")
        return [known[v.lower()] for v in values]

    def __repr__(self):
        return f"Choices{self.allowed}"


def comma_list(*allowed):
    """A flag that takes a comma-separated list of some of `allowed`."""
    return Choices(*allowed)


def names(text):
    """A flag that takes a comma-separated list of names (or patterns), as a list."""
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"{_shown(text)}: give one name or more, "
                                         f"comma-separated")
    return values


# The flags several tools share.

MODEL_KINDS = {
    "keras": (existing_path, "a training workdir or a .keras file (its class list beside "
                             "it)"),
    "serving": (existing_dir, "a training workdir or an exported SavedModel folder "
                              "(tools/export.py)"),
    "any": (existing_path, "a training workdir, a .keras file or an exported SavedModel "
                           "folder"),
}


def add_model(parser, kind, ensemble=False):
    """--model, required: `kind` "keras" (what `export.load_run` reads), "serving" (what
    `rundir.saved_model_folder` finds) or "any" (`evaluate.load_classifier`); with
    `ensemble`, repeated for several models."""
    check, text = MODEL_KINDS[kind]
    parser.add_argument("--model", required=True, type=check,
                        action="append" if ensemble else "store",
                        help=text + ("; repeat it for an ensemble" if ensemble else ""))


def add_data(parser, flag="--data", split="validation", what="images", required=True,
             folders=True, alias=None):
    """A data flag (`Data`), `--data` by default; `split` is what a tfds path without
    SPLIT reads; `alias` a second name."""
    kinds = "TFRecord glob, <class>/<image> folder," if folders else "TFRecord glob"
    parser.add_argument(flag, *([alias] if alias else []), required=required,
                        type=Data(folders=folders),
                        help=f"{what}: a {kinds} or tfds:NAME[:SPLIT] / "
                             f"tfds:DIRECTORY[:SPLIT] (SPLIT default: {split})")


def add_data_dir(parser):
    parser.add_argument("--data_dir", type=existing_dir,
                        help="where tfds:NAME datasets are prepared (default: tfds' own, "
                             "~/tensorflow_datasets)")


def add_classes(parser, default="the model's class list"):
    """--classes: a class-list file; `default` says what the tool uses without it."""
    parser.add_argument("--classes", type=existing_file,
                        help=f"class list, a wnid [name] per line (default: {default})")


def add_skip_bad_images(parser):
    parser.add_argument("--skip_bad_images", action="store_true",
                        help="leave out files of an image folder that are not images")


def add_batch_size(parser, default, help="images per batch"):
    parser.add_argument("--batch_size", type=integer(min=1), default=default, help=help)


def add_json(parser):
    parser.add_argument("--json", type=new_file,
                        help="also write the results to this JSON file")


def add_output(parser, help, folder=False):
    """--output, required: a file to write (its folder must exist) or, with `folder`, a
    folder to write into (made if needed)."""
    parser.add_argument("--output", required=True, type=new_dir if folder else new_file,
                        help=help)
