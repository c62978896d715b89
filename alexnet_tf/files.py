"""Small files a run or a study writes (JSON records, reports), written atomically: a
temporary file, then a rename, so that a kill at any moment leaves the old file or the
new one, never half of one."""
import json
import os


def write_text(path, text):
    """Writes `text` to `path` atomically."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_json(path, value):
    """Writes `value` as JSON to `path` atomically."""
    write_text(path, json.dumps(value, indent=1))


def read_json(path, default=None):
    """The JSON value in `path`, or `default` if there is no such file."""
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)
