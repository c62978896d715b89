"""Studies (alexnet_tf.study, tools/study.py) and their report (alexnet_tf.report): a study
killed with SIGKILL and re-run finishes every run exactly once and leaves finished runs
alone; the report's means, intervals and verdicts against a hand computation; the
threshold crossing of Fig. 1; bad input named in one line."""
import datetime
import hashlib
import importlib.util
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

import pytest

from alexnet_tf import analysis as A
from alexnet_tf import report as R
from alexnet_tf import study as S
from alexnet_tf.config import parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "study.py")
TINY_STUDY = os.path.join(ROOT, "configs", "studies", "tiny.py")
RUNS = ["baseline/seed-0", "no_lrn/seed-0", "baseline/seed-1", "no_lrn/seed-1"]  # run order


def tool_main(*args):
    """tools/study.py's main, in this process; returns its exit message (None: success)."""
    spec = importlib.util.spec_from_file_location("study_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        module.main([str(a) for a in args])
    except SystemExit as e:
        return e.code
    return None


def fingerprint(directory):
    """mtime and content hash of a run's model.keras and history.json."""
    return {name: (os.stat(directory / name).st_mtime_ns,
                   hashlib.sha256((directory / name).read_bytes()).hexdigest())
            for name in ("model.keras", "history.json")}


def train_processes(workdir):
    """Processes whose command line names `workdir` (train commands of the study)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if str(workdir).encode() in f.read():
                    found.append(pid)
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def killed_and_rerun(tmp_path_factory):
    """The tiny study (2 variants x 2 seeds, 2 epochs), killed with SIGKILL once its first
    run has finished and its second has finished an epoch, then re-run to the end."""
    tmp = tmp_path_factory.mktemp("study")
    workdir = tmp / "study"
    command = [sys.executable, TOOL, "--study", TINY_STUDY, "--workdir", str(workdir)]
    with open(tmp / "first.log", "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    first, second = workdir / "baseline" / "seed-0", workdir / "no_lrn" / "seed-0"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if S.is_finished(str(first), 2) and (second / "history.json").exists():
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # The train process dies with the study: no orphan goes on writing to the second run.
    deadline = time.time() + 3
    while train_processes(workdir) and time.time() < deadline:
        time.sleep(0.05)
    orphans = train_processes(workdir)
    assert S.is_finished(str(first), 2), (tmp / "first.log").read_text()[-3000:]
    assert not (second / "model.keras").exists(), \
        "the kill should land in the second run, and its train process die with the study"
    before, epochs_at_kill = fingerprint(first), len(S.history(str(second)))

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    return workdir, before, epochs_at_kill, orphans, rerun.stdout


def test_a_killed_study_finishes_every_run_exactly_once(killed_and_rerun):
    workdir, before, epochs_at_kill, orphans, out = killed_and_rerun
    assert orphans == []
    assert "4 runs (2 variants x 2 seeds)" in out and "1 finished, 3 to run" in out
    assert (f"run 2 of 4: no_lrn/seed-0, resuming after epoch {epochs_at_kill} (1 of 4 done; "
            f"time left: at most about") in out  # tiny: a plateau may end it
    assert "study: 4 of 4 runs finished" in out
    for name in RUNS:
        directory = workdir / name
        assert S.is_finished(str(directory), 2), name
        assert [h["epoch"] for h in S.history(str(directory))] == [0, 1], name
        steps = [h["step"] for h in S.history(str(directory))]  # also across the resume
        assert steps[0] > 0 and steps == [steps[0], 2 * steps[0]], name
        exits = [a["exit_code"] for a in S.record(str(directory))["attempts"]]
        # The killed run: one attempt cut short (no exit code), one that resumed it.
        assert exits == ([None, 0] if name == "no_lrn/seed-0" else [0]), name
    assert "resuming from" in (workdir / "no_lrn" / "seed-0" / "train.log").read_text()
    # The run that had finished before the kill was not touched by the re-run.
    assert fingerprint(workdir / "baseline" / "seed-0") == before


def test_runs_of_one_seed_share_its_data_and_seeds_do_not(killed_and_rerun):
    """no_lrn/seed-N reads baseline/seed-N's TFRecords (the same files, linked); seed 1
    does not take seed 0's (the seed is part of the data settings)."""
    workdir, _, _, _, out = killed_and_rerun

    def files(run):
        folder = workdir / run / "data"
        return {str(p.relative_to(folder)): p.stat().st_ino
                for p in folder.rglob("*") if p.is_file()}

    for seed in (0, 1):
        built, shared = files(f"baseline/seed-{seed}"), files(f"no_lrn/seed-{seed}")
        assert any(name.startswith("train-") for name in built)
        assert shared == built, seed  # every file, as a hard link
    assert not set(files("baseline/seed-0").values()) & set(files("baseline/seed-1").values())
    assert not list(workdir.rglob("*.sharing"))
    assert ("  data: baseline/seed-1's data folder (same data settings and seed), hard links"
            in out)


def test_share_data_needs_a_finished_run_with_the_same_settings_and_copies_if_it_must(
        tmp_path, monkeypatch):
    def run(variant, seed=0, train="/imgs"):
        return S.Run(variant, seed, str(tmp_path / variant / f"seed-{seed}"), 1, "tiny.py",
                     {"data.train": train, "model.lrn": variant == "a"}, [])

    def finish(r):
        config = S.resolve_config(r.base, {}, r.overrides, r.seed).to_dict()
        S.write_json(os.path.join(r.directory, "config.json"), json.loads(json.dumps(config)))
        S.write_json(os.path.join(r.directory, "history.json"), [{"epoch": 0}])
        S.write_json(os.path.join(r.directory, "study_run.json"),
                     {"attempts": [{"exit_code": 0}]})
        open(os.path.join(r.directory, "model.keras"), "w").close()

    a, b, other_data, other_seed = run("a"), run("b"), run("c", train="/x"), run("d", 1)
    os.makedirs(os.path.join(a.directory, "data", "sub"))
    for name in ("train-00000-of-00001", os.path.join("sub", "f"), "plan.json.tmp"):
        with open(os.path.join(a.directory, "data", name), "w") as f:
            f.write(name)
    runs = [a, b, other_data, other_seed]
    assert S.share_data(b, runs) is None  # a has not finished
    finish(a)
    assert S.share_data(other_data, runs) is None and S.share_data(other_seed, runs) is None

    def failing(code, text):
        def fail(*args):
            raise OSError(code, text)
        return fail

    monkeypatch.setattr(S.shutil, "copy2", failing(28, "No space left on device"))
    monkeypatch.setattr(S.os, "link", failing(18, "Invalid cross-device link"))
    message = S.share_data(b, runs)
    assert message.startswith("cannot share a/seed-0's data folder (") and \
        message.endswith("); building its own")
    assert os.listdir(b.directory) == []  # no data/, no data.sharing/

    monkeypatch.undo()
    monkeypatch.setattr(S.os, "link", failing(18, "Invalid cross-device link"))
    assert S.share_data(b, runs) == ("a/seed-0's data folder (same data settings and seed), "
                                     "copied (2 files)")
    copied = os.path.join(b.directory, "data", "sub", "f")
    assert open(copied).read() == os.path.join("sub", "f")
    assert os.stat(copied).st_ino != os.stat(os.path.join(a.directory, "data", "sub", "f")).st_ino
    assert not os.path.exists(os.path.join(b.directory, "data", "plan.json.tmp"))
    assert S.share_data(b, runs) is None  # it has its data folder now


def test_each_run_is_trained_with_the_config_the_study_resolves(killed_and_rerun):
    """tools/train.py's flag parsing gives each run exactly the study's config."""
    workdir, *_ = killed_and_rerun
    spec = json.loads((workdir / "study.json").read_text())
    assert spec == S.load_study(TINY_STUDY)
    for name in RUNS:
        variant, seed = name.split("/seed-")
        expected = S.resolve_config(spec["base"], spec["overrides"], spec["variants"][variant],
                                    int(seed))
        saved = json.loads((workdir / name / "config.json").read_text())
        assert saved == json.loads(json.dumps(expected.to_dict())), name
        assert saved["model"]["lrn"] is (variant == "baseline") and saved["seed"] == int(seed)


def test_a_finished_study_runs_nothing_and_reports_its_models(killed_and_rerun):
    workdir, *_ = killed_and_rerun
    attempts = {n: S.record(str(workdir / n))["attempts"] for n in RUNS}
    lines = []
    assert S.run_study(TINY_STUDY, str(workdir), log=lines.append) == []
    assert lines == [f"study tiny.py: 4 runs (2 variants x 2 seeds) in {workdir}; 4 finished, "
                     f"0 to run", f"study: 4 of 4 runs finished in {workdir}"]
    assert {n: S.record(str(workdir / n))["attempts"] for n in RUNS} == attempts

    summary = R.write_report(str(workdir), evaluate=True, log=lambda *_: None)
    assert summary["unfinished"] == []
    assert (workdir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (workdir / "REPORT.md").read_text()
    assert "| no_lrn | baseline | 2, 2 |" in text and "## Centre and 10-crop evaluation" in text
    for variant, runs in summary["evaluation"].items():
        for seed, result in runs.items():
            # model.keras at inference is the network the last validation pass measured.
            final = S.history(str(workdir / variant / f"seed-{seed}"))[-1]["val_top1_error"]
            assert result["centre"]["top1_error"] == pytest.approx(final, abs=1e-6)
            assert 0 <= result["10-crop"]["top1_error"] <= 1
    # Fig. 3 for each variant's first seed, and the command that wrote the report.
    for variant in ("baseline", "no_lrn"):
        assert (workdir / f"conv1-{variant}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"![conv1 kernels, {variant}](conv1-{variant}.png)" in text
    assert f"`python tools/study.py --workdir {workdir} --report --evaluate`" in text

    # --results: the report, its figures and the runs' small files, nothing else.
    out = workdir.parent / "results"
    runs = [f"{n}/{f}" for n in RUNS
            for f in ("history.json", "config.json", "evaluation.json", "resources.json")]
    assert R.copy_results(str(workdir), str(out), log=lambda *_: None) == 5 + len(runs)

    def copied():
        return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert copied() == sorted(["REPORT.md", "study.json", "curves.png", "conv1-baseline.png",
                               "conv1-no_lrn.png"] + runs)
    # Over the previous copy: without --evaluate the report shows no kernels, so their PNGs
    # go, as does a run the study no longer has; nothing stale stays to be committed.
    (out / "gone" / "seed-0").mkdir(parents=True)
    (out / "gone" / "seed-0" / "history.json").write_text("[]")
    assert tool_main("--workdir", workdir, "--study", TINY_STUDY, "--report", "--results",
                     out) is None
    assert copied() == sorted(["REPORT.md", "study.json", "curves.png"] + runs)
    assert not (out / "gone").exists()
    assert (out / "REPORT.md").read_text() == R.portable((workdir / "REPORT.md").read_text(),
                                                         str(workdir))
    assert (f"`python tools/study.py --workdir {workdir} --study {TINY_STUDY} --report`"
            in (workdir / "REPORT.md").read_text())
    # A folder with anything else in it, or a file, is refused and left as it was.
    (out / "baseline" / "seed-0" / "model.keras").write_text("")
    assert tool_main("--workdir", workdir, "--report", "--results", out) == (
        f"error: --results {out} holds baseline/seed-0/model.keras, which is not part of a "
        f"study's results: give a new folder or a previous copy")
    assert (out / "curves.png").is_file()
    assert tool_main("--workdir", workdir, "--report", "--results", out / "REPORT.md") == (
        f"error: --results {out / 'REPORT.md'} is a file, not a folder")


def test_a_study_can_grow_but_not_change_its_started_runs(killed_and_rerun, tmp_path):
    """Seeds and variants may be added to a study folder; a study that would change the
    overrides of a started run is refused with one line, even after its variant was
    dropped from the study and brought back."""
    workdir = tmp_path / "study"
    shutil.copytree(killed_and_rerun[0], workdir, ignore=shutil.ignore_patterns(
        "checkpoints", "saved_model", "data", "logs"))

    def study_file(name, variants, seeds, epochs=2):
        path = tmp_path / f"{name}.py"
        path.write_text(f"def get_study():\n    return dict(base='tiny.py', variants={variants!r}, "
                        f"seeds={seeds!r}, overrides={{'epochs': {epochs}, "
                        f"'histogram_freq': 0}})\n")
        return path
    lrn = {"baseline": {}, "no_lrn": {"model.lrn": False}}
    pool2 = {"pool2": {"model.pool_size": (2, 2, 2)}}
    grown = S.load_study(str(study_file("grown", {**lrn, **pool2}, [0, 1, 2])))
    S.prepare_workdir(grown, str(workdir)).close()
    assert [r.name for r in S.plan(grown, str(workdir))
            if not S.is_finished(r.directory, r.epochs)] == [
        "pool2/seed-0", "pool2/seed-1", "baseline/seed-2", "no_lrn/seed-2", "pool2/seed-2"]

    dropped = S.load_study(str(study_file("dropped", {"baseline": {}}, [0, 1])))
    S.prepare_workdir(dropped, str(workdir)).close()
    changed = study_file("changed", {"baseline": {}, "no_lrn": {"model.lrn": False,
                                                                 "model.dropout": 0.0}}, [0, 1])
    assert tool_main("--study", changed, "--workdir", workdir) == (
        "error: no_lrn/seed-0 was started with a different study (model.dropout: '(unset)' -> "
        "0.0); use a new --workdir or undo the change")
    assert tool_main("--study", study_file("longer", lrn, [0, 1], epochs=3), "--workdir",
                     workdir) == ("error: baseline/seed-0 was started with a different study "
                                  "(epochs: 2 -> 3); use a new --workdir or undo the change")
    assert json.loads((workdir / "study.json").read_text()) == dropped  # not rewritten


def test_a_run_started_from_a_snapshot_of_the_code_goes_on_from_another_copy(tmp_path):
    """A class list of the project's configs/ named by absolute path (as the transfer
    study's are) in a snapshot is the same file in the repository; other paths are not,
    even with a folder named tools/ or configs/ in them. The error names the change only."""
    d = tmp_path / "run"
    d.mkdir()
    (d / "study_run.json").write_text(json.dumps({"base": "tiny.py", "attempts": [], "overrides": {
        "data.classes": "/snap/configs/classes/imagenette_a.txt",
        "data.train": "/data1/tools/train"}}))

    def run(classes, train="/data1/tools/train"):
        return S.Run("a", 0, str(d), 2, "tiny.py",
                     {"data.classes": classes, "data.train": train}, [])
    S.check_runs([run("/home/u/alexnet_tf/configs/classes/imagenette_a.txt")])
    with pytest.raises(S.StudyError, match="was started with a different study") as e:
        S.check_runs([run("/home/u/alexnet_tf/configs/classes/imagenette_b.txt")])
    assert "data.train" not in str(e.value) and "imagenette_b.txt" in str(e.value)
    with pytest.raises(S.StudyError, match="data.train: '/data1/tools/train' -> "
                                           "'/data2/tools/train'") as e:
        S.check_runs([run("/home/u/configs/classes/imagenette_a.txt", "/data2/tools/train")])
    assert "data.classes" not in str(e.value)
    assert S.project_file("/snap/configs/classes/no_such_list.txt") is None
    assert S.project_file("configs/classes/imagenette_a.txt") is None  # relative: not a copy


@pytest.mark.parametrize("case", ["missing study", "unknown field", "wrong type", "file workdir",
                                  "foreign workdir", "no study folder",
                                  "results without report"])
def test_bad_input_is_one_error_line(tmp_path, case):
    bad_field = tmp_path / "bad_field.py"
    bad_field.write_text("def get_study():\n    return dict(base='tiny.py', seeds=[0], "
                         "variants={'x': {'model.lrnn': False}})\n")
    bad_type = tmp_path / "bad_type.py"
    bad_type.write_text("def get_study():\n    return dict(base='tiny.py', seeds=[0], "
                        "variants={'x': {'batch_size': 0.5}})\n")
    (tmp_path / "a_file").write_text("")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "something").write_text("")
    args, expected = {
        "missing study": (["--study", tmp_path / "nope.py", "--workdir", tmp_path / "w"],
                          f"error: study file {tmp_path / 'nope.py'} not found"),
        "unknown field": (["--study", bad_field, "--workdir", tmp_path / "w"],
                          "error: variant 'x': unknown config field 'model.lrnn'"),
        "wrong type": (["--study", bad_type, "--workdir", tmp_path / "w"],
                       "error: variant 'x': batch_size=0.5: "),
        "file workdir": (["--study", TINY_STUDY, "--workdir", tmp_path / "a_file"],
                         f"error: --workdir {tmp_path / 'a_file'} is a file, not a folder"),
        "foreign workdir": (["--study", TINY_STUDY, "--workdir", tmp_path / "foreign"],
                            f"error: --workdir {tmp_path / 'foreign'} is not empty and has no "
                            f"study.json"),
        "no study folder": (["--workdir", tmp_path / "foreign", "--report"],
                            f"error: --workdir {tmp_path / 'foreign'} has no study.json"),
        "results without report": (["--workdir", tmp_path / "w", "--results", tmp_path / "r"],
                                   "error: --results goes with --report"),
    }[case]
    message = tool_main(*args)
    assert isinstance(message, str) and message.startswith(expected), message
    assert "\n" not in message
    assert not (tmp_path / "w").exists()


def test_overrides_reach_train_flags_with_their_types(tmp_path):
    """Booleans, tuples, floats, ints and strings given as --config.FIELD=VALUE are parsed
    by the train command's parser (`alexnet_tf.config.parse`) into the study's config, and
    the run goes through the library's own train module."""
    path = tmp_path / "types.py"
    path.write_text("def get_study():\n    return dict(base='tiny.py', seeds=[3], variants={'v': "
                    "{'model': {'lrn': False, 'filters': [8, 16, 16, 16, 8]}, "
                    "'optimizer.learning_rate': 2e-5, 'batch_size': 4, 'steps_per_epoch': 3, "
                    "'model.activation': 'tanh', 'data.classes': 'c.txt'}}, "
                    "overrides={'epochs': 1})\n")
    spec = S.load_study(str(path))
    assert spec["variants"]["v"]["model.filters"] == [8, 16, 16, 16, 8]  # nested: flattened
    (run,) = S.plan(spec, str(tmp_path / "w"))
    assert run.command[1:3] == ["-m", "alexnet_tf.train"]
    start = run.command.index("--config")
    assert run.command[start + 1] == os.path.join(S.CONFIGS, "tiny.py")
    config, _ = parse(run.command[start:], paths=False)
    expected = S.resolve_config(spec["base"], spec["overrides"], spec["variants"]["v"], 3)
    assert config.to_dict() == expected.to_dict()
    assert config.model.filters == (8, 16, 16, 16, 8) and config.model.lrn is False


def test_a_configdict_study_is_the_same_as_a_dict_study(tmp_path):
    as_dict = tmp_path / "as_dict.py"
    as_dict.write_text("def get_study():\n    return dict(base='tiny.py', seeds=[0, 1], "
                       "variants={'baseline': {}, 'no_lrn': {'model.lrn': False}})\n")
    as_configdict = tmp_path / "as_configdict.py"
    as_configdict.write_text(
        "import ml_collections\n"
        "from configs import tiny\n\n\n"
        "def get_study():\n"
        "    s = ml_collections.ConfigDict()\n"
        "    s.base = tiny.get_config\n"  # a get_config function: its file is the base
        "    s.variants = {'baseline': {}, 'no_lrn': {'model': {'lrn': False}}}\n"
        "    s.seeds = [0, 1]\n"
        "    return s\n")
    one, other = S.load_study(str(as_dict)), S.load_study(str(as_configdict))
    assert {**one, "study": None} == {**other, "study": None}
    assert one["base"] == "tiny.py" and one["variants"]["no_lrn"] == {"model.lrn": False}


def test_jobs_train_runs_side_by_side(tmp_path):
    """--jobs 2: both runs of a one-seed study train at the same time, each finished once."""
    study = tmp_path / "pair.py"
    study.write_text("def get_study():\n    return dict(base='tiny.py', seeds=[0], "
                     "overrides={'epochs': 1, 'histogram_freq': 0}, "
                     "variants={'baseline': {}, 'no_lrn': {'model.lrn': False}})\n")
    workdir, lines = tmp_path / "study", []
    with pytest.raises(S.StudyError, match="--variants x\\*: no variant of the study matches "
                                           "\\(its variants: baseline, no_lrn\\)"):
        S.run_study(str(study), str(workdir), jobs=2, variants=["baseline", "x*"])
    assert S.run_study(str(study), str(workdir), log=lines.append, jobs=2,
                       variants=["baseline"]) == []  # --variants: only these
    assert lines[0].endswith("0 finished, 1 to run (1 more not chosen by --variants), 2 at "
                             "a time")
    assert not (workdir / "no_lrn").exists()
    lines.clear()
    shutil.rmtree(workdir / "baseline")
    assert S.run_study(str(study), str(workdir), log=lines.append, jobs=2) == []
    assert lines[0].endswith("0 finished, 2 to run, 2 at a time")
    assert lines[-1] == f"study: 2 of 2 runs finished in {workdir}"
    spans = []
    for name in ("baseline/seed-0", "no_lrn/seed-0"):
        assert S.is_finished(str(workdir / name), 1)
        [attempt] = S.record(str(workdir / name))["attempts"]
        start = datetime.datetime.fromisoformat(attempt["started"]).timestamp()
        spans.append((start, start + attempt["seconds"]))
    (a0, a1), (b0, b1) = spans
    assert min(a1, b1) - max(a0, b0) > 3, spans  # the attempts overlap by seconds


def test_ctrl_c_with_jobs_ends_every_run_and_starts_none(tmp_path):
    """SIGINT to a --jobs 2 study while its two runs train: both train processes end, the
    third run never starts, the tool says how to resume; re-run, the study finishes."""
    study = tmp_path / "three.py"
    study.write_text("def get_study():\n    return dict(base='tiny.py', seeds=[0], "
                     "overrides={'epochs': 2, 'histogram_freq': 0}, variants={'a': {}, "
                     "'b': {'model.lrn': False}, 'c': {'model.dropout': 0.0}})\n")
    workdir = tmp_path / "study"
    command = [sys.executable, TOOL, "--study", str(study), "--workdir", str(workdir),
               "--jobs", "2"]
    # SIGINT as a terminal's Ctrl-C: not ignored, even when this test runs in a
    # background job of a shell (which starts its commands with SIGINT ignored).
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def trains():
        return [pid for pid in train_processes(workdir) if pid != str(proc.pid)]
    deadline = time.time() + 120
    while len(trains()) < 2 and time.time() < deadline:
        time.sleep(0.1)
    assert len(trains()) == 2
    time.sleep(1)  # a start-up in progress: Ctrl-C while TensorFlow loads
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "interrupted: re-run the same command" in out, out
    time.sleep(0.5)
    assert train_processes(workdir) == []
    assert not (workdir / "c").exists(), out  # never started
    for name in ("a", "b"):
        [attempt] = S.record(str(workdir / name / "seed-0"))["attempts"]
        assert attempt["exit_code"] != 0, name
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0 and "study: 3 of 3 runs finished" in rerun.stdout, \
        rerun.stdout[-2000:] + rerun.stderr[-2000:]


def fixture_study(tmp_path):
    """A study folder written by hand: 4 variants x seeds 0-2 finished with known numbers,
    seed 3 not finished (one run half-way)."""
    path = tmp_path / "fixture.py"
    path.write_text(
        "def get_study():\n"
        "    return dict(base='tiny.py', overrides={'epochs': 3}, seeds=[0, 1, 2, 3],\n"
        "                variants={'baseline': {}, 'same': {'model.lrn': False},\n"
        "                          'unclear': {'model.dropout': 0.0},\n"
        "                          'opposite': {'model.pool_size': (2, 2, 2)}},\n"
        "                paper_effects={'same': {'top1': 0.014, 'text': 'LRN helps'},\n"
        "                               'unclear': {'top1': 0.02}, 'opposite': {'top1': 0.004}})\n")
    workdir = tmp_path / "study"
    S.prepare_workdir(S.load_study(str(path)), str(workdir)).close()
    finals = {"baseline": [0.30, 0.32, 0.34], "same": [0.35, 0.37, 0.39],
              "unclear": [0.31, 0.31, 0.31], "opposite": [0.20, 0.22, 0.24]}
    for variant, values in finals.items():
        for seed, final in enumerate(values):
            d = workdir / variant / f"seed-{seed}"
            d.mkdir(parents=True)
            train = [0.9, 0.4 + 0.1 * seed, 0.2] if variant != "opposite" else [0.9, 0.6, 0.5]
            val = [0.8, final - 0.05, final]
            lrs = [0.01, 0.01, 0.001 if variant == "baseline" else 0.01]
            (d / "history.json").write_text(json.dumps([
                {"epoch": e, "top1_error": t, "val_top1_error": v, "val_top5_error": v / 2,
                 "learning_rate": lr, **({"step": 10 * (e + 1), "epoch_seconds": 5.0 + e,
                                          "validation_seconds": 1.0}
                                         if variant != "unclear" else {})}
                for e, (t, v, lr) in enumerate(zip(train, val, lrs))]))
            (d / "model.keras").write_text("")  # only its presence matters to the report
            (d / "study_run.json").write_text(json.dumps(
                {"attempts": [{"seconds": 10.0 + seed, "exit_code": 0}]}))
    half = workdir / "baseline" / "seed-3"
    half.mkdir()
    (half / "history.json").write_text(json.dumps([{"epoch": 0, "top1_error": 0.0,
                                                     "val_top1_error": 0.4321}]))
    return workdir


def test_report_numbers_match_a_hand_computation(tmp_path):
    workdir = fixture_study(tmp_path)
    summary = R.write_report(str(workdir))
    assert sorted(summary["unfinished"]) == ["baseline/seed-3", "opposite/seed-3",
                                             "same/seed-3", "unclear/seed-3"]
    base = summary["results"]["baseline"]
    assert sorted(base["runs"]) == [0, 1, 2]  # the half-way seed 3 is left out
    assert base["mean"]["final_val_top1"] == pytest.approx(0.32)
    assert base["mean"]["best_val_top1"] == pytest.approx(0.27)
    assert base["mean"]["final_val_top5"] == pytest.approx(0.16)
    assert base["mean"]["seconds"] == pytest.approx(11.0)
    # Training error reaches 25 % between epochs 2 and 3: 2 + (e2 - 0.25) / (e2 - 0.2).
    crossings = [2 + (0.4 + 0.1 * s - 0.25) / (0.4 + 0.1 * s - 0.2) for s in range(3)]
    assert [base["runs"][s]["epochs_to_threshold"] for s in range(3)] == pytest.approx(crossings)
    assert summary["results"]["opposite"]["mean"]["epochs_to_threshold"] is None

    # Learning curves: mean and min-max band over the seeds, per epoch.
    epochs, mean, low, high = A.curve_band(base["histories"], "top1_error")
    assert list(epochs) == [1, 2, 3]
    assert mean == pytest.approx([0.9, 0.5, 0.2]) and low == pytest.approx([0.9, 0.4, 0.2])
    assert high == pytest.approx([0.9, 0.6, 0.2])
    _, mean, low, high = A.curve_band(base["histories"], "val_top1_error")
    assert (mean[-1], low[-1], high[-1]) == pytest.approx((0.32, 0.30, 0.34))

    # Welch by hand. "same" and "opposite": both sides have variance 0.0004 over 3 seeds, so
    # df = (2v/3)^2 / (2 (v/3)^2 / 2) = 4; "unclear" has no spread: df = (v/3)^2/((v/3)^2/2) = 2.
    t4, t2 = 2.776445, 4.302653  # t_{0.975, 4}, t_{0.975, 2}
    se_both, se_one = math.sqrt(2 * 0.0004 / 3), math.sqrt(0.0004 / 3)
    d = summary["differences"]
    for variant, diff, df, half, verdict in [
            ("same", 0.05, 4, t4 * se_both, "same direction as the paper"),
            ("unclear", -0.01, 2, t2 * se_one, "inconclusive (interval spans 0)"),
            ("opposite", -0.10, 4, t4 * se_both, "opposite")]:
        assert d[variant]["difference"] == pytest.approx(diff), variant
        assert d[variant]["df"] == pytest.approx(df), variant
        assert d[variant]["low"] == pytest.approx(diff - half, abs=1e-6), variant
        assert d[variant]["high"] == pytest.approx(diff + half, abs=1e-6), variant
        assert d[variant]["verdict"] == verdict and d[variant]["n"] == (3, 3)
    text = (workdir / "REPORT.md").read_text()
    # 0.05 -+ 2.776445 * 0.0163299 = [0.00466, 0.09534]
    assert ("| same | baseline | 3, 3 | +5.00 pp | [+0.47 pp, +9.53 pp] | 4.0 | +1.40 pp (LRN helps) | "
            "same direction as the paper |") in text
    assert ("12 of 16 runs finished (not finished: baseline/seed-3: 1 of 3 epochs, validation "
            "top-1 43.21 %, same/seed-3, unclear/seed-3, opposite/seed-3).") in text
    # 10 steps an epoch: seed 0 reaches 25 % after 2.75 epochs, 27.5 steps.
    # Median epoch: of 5, 6 and 7 s (epoch_seconds, which includes validation_seconds).
    assert "| 0 | 3 | 10 s | 6.0 s | 30.00 % | 25.00 % | 15.00 % | 12.50 % | 2.75 (28 steps) |" \
        in text
    assert ("| mean | 3 | 11 s | 6.0 s | 32.00 % | 27.00 % | 16.00 % | 13.50 % | 2.82, 28 steps "
            "(3 of 3 reached) |") in text
    # "unclear" logged no step and no epoch times.
    assert "| 0 | 3 | 10 s | – | 31.00 % | 26.00 % | 15.50 % | 13.00 % | 2.75 |" in text
    assert (workdir / "curves.png").read_bytes()[:4] == b"\x89PNG"
    # The learning-rate steps, only for the variant whose rate changed.
    assert ("Learning rate (epochs counted from 1): seed 0: 0.01 from epoch 1, 0.001 from "
            "epoch 3; seed 1: 0.01 from epoch 1, 0.001 from epoch 3; seed 2:") in text
    assert text.count("Learning rate (epochs") == 1


def test_a_run_that_learned_nothing_makes_its_difference_not_comparable(tmp_path):
    workdir = fixture_study(tmp_path)
    # opposite/seed-1 ends at the loss of a net that outputs the same for every image
    # (ln 10 with 10 classes); the other runs, 0.02 below the 2 % margin, count as learning.
    for seed, loss in ((0, 0.98 * math.log(10) - 0.02), (1, math.log(10))):
        d = workdir / "opposite" / f"seed-{seed}"
        h = json.loads((d / "history.json").read_text())
        h[-1]["loss"] = loss
        (d / "history.json").write_text(json.dumps(h))
        (d / "config.json").write_text(json.dumps({"model": {"num_classes": 10}}))
    summary = R.write_report(str(workdir))
    runs = summary["results"]["opposite"]["runs"]
    assert [runs[s]["learned_nothing"] for s in range(3)] == [False, True, False]
    d = summary["differences"]
    assert d["opposite"]["verdict"] == "not comparable: opposite/seed-1 learned nothing"
    assert d["opposite"]["difference"] == pytest.approx(-0.10)  # the numbers are kept
    assert d["same"]["verdict"] == "same direction as the paper"
    text = (workdir / "REPORT.md").read_text()
    assert "Learned nothing (training loss at chance, ln of the number of classes, in the " \
        "last epoch): seed 1." in text
    assert text.count("Learned nothing") == 1
    assert A.learned_nothing([{"loss": 0.9 * math.log(10)}], 10) is False
    assert A.learned_nothing([{"loss": 1.02 * math.log(10) - 1e-6}], 10) is True
    assert A.learned_nothing([{"loss": 6.5}], 10) is False  # confident, often wrong
    assert A.learned_nothing([{"loss": math.log(10)}], None) is False  # classes unknown


def test_a_study_with_only_its_baseline_says_so_instead_of_an_empty_table(tmp_path):
    workdir = fixture_study(tmp_path)
    for variant in ("same", "unclear", "opposite"):
        shutil.rmtree(workdir / variant)
    spec = json.loads((workdir / "study.json").read_text())
    spec["variants"], spec["epochs"] = {"baseline": {}}, {"baseline": 3}
    spec["paper_effects"] = {}
    (workdir / "study.json").write_text(json.dumps(spec))
    R.write_report(str(workdir))
    text = (workdir / "REPORT.md").read_text()
    assert "The study has no variant besides `baseline`: no differences." in text
    assert "| variant | baseline | seeds (variant, baseline) |" not in text


def test_pairs_of_variants_are_compared_each_with_its_own_baseline(tmp_path):
    """baseline as {variant: its baseline}: each difference is against the named variant
    (here "opposite" - "unclear": 0.22 - 0.31), and only the named pairs are compared."""
    workdir = fixture_study(tmp_path)
    spec = json.loads((workdir / "study.json").read_text())
    spec["baseline"] = {"same": "baseline", "opposite": "unclear"}
    (workdir / "study.json").write_text(json.dumps(spec))
    d = R.write_report(str(workdir))["differences"]
    assert sorted(d) == ["opposite", "same"]
    assert d["opposite"]["difference"] == pytest.approx(-0.09)
    assert d["opposite"]["baseline"] == "unclear" and d["same"]["baseline"] == "baseline"
    text = (workdir / "REPORT.md").read_text()
    assert "variant minus its baseline (the table's second column)" in text
    assert "| opposite | unclear | 3, 3 | -9.00 pp |" in text
    bad = tmp_path / "bad.py"
    bad.write_text("def get_study():\n    return dict(base='tiny.py', seeds=[0], variants="
                   "{'a': {}, 'b': {}}, baseline={'a': 'c'})\n")
    with pytest.raises(S.StudyError, match="must be a variant or"):
        S.load_study(str(bad))


def test_time_left_uses_epoch_times_not_wall_time_with_its_pauses(tmp_path):
    def run(name, epochs, wall, epoch_seconds, exit_code=0, variant=None):
        variant = variant or name
        d = tmp_path / name
        d.mkdir()
        (d / "history.json").write_text(json.dumps(
            [{"epoch": e, **({"epoch_seconds": t} if t else {})}
             for e, t in enumerate(epoch_seconds)]))
        (d / "study_run.json").write_text(json.dumps(
            {"attempts": [{"seconds": wall, "exit_code": exit_code}]}))
        if exit_code == 0:
            (d / "model.keras").write_text("")
        return S.Run(variant, 0, str(d), epochs, "tiny.py", {}, [])

    # A finished run paused for 10,000 s (epochs 40, 50, 45 s), a finished one of 4 epochs
    # (48, 44, 300, 46 s: one slow epoch), one with 2 of 4 epochs and one not started.
    paused = run("paused", 3, 10_135.0, [40.0, 50.0, 45.0])
    other = run("other", 4, 500.0, [48.0, 44.0, 300.0, 46.0])
    half = run("half", 4, 90.0, [45.0, 45.0], exit_code=None)
    fresh = S.Run("fresh", 0, str(tmp_path / "fresh"), 4, "tiny.py", {}, [])
    # Median of 40, 44, 45, 46, 48, 50, 300 = 46; epochs left 2 + 4.
    assert S.time_left([paused, other, half, fresh]) == pytest.approx(46.0 * 6)
    assert S.time_left([half, fresh]) is None
    # Histories without epoch times fall back to wall time per epoch: 1,000 s over 4 epochs.
    old = run("old", 4, 1000.0, [None] * 4)
    assert S.time_left([old, fresh]) == pytest.approx(250.0 * 4)
    # A variant with finished runs is timed by its own epochs (here lrn's 60 s, three times
    # no_lrn's 20 s); one without any, by every finished run's (median of 20, 20, 60, 60).
    cheap = run("cheap", 2, 45.0, [20.0, 20.0], variant="no_lrn")
    dear = run("dear", 2, 125.0, [60.0, 60.0], variant="lrn")
    lrn_next = S.Run("lrn", 1, str(tmp_path / "lrn-1"), 2, "tiny.py", {}, [])
    no_lrn_next = S.Run("no_lrn", 1, str(tmp_path / "no-lrn-1"), 2, "tiny.py", {}, [])
    other_next = S.Run("other", 1, str(tmp_path / "other-1"), 2, "tiny.py", {}, [])
    assert S.time_left([cheap, dear, lrn_next, no_lrn_next, other_next]) == pytest.approx(
        60.0 * 2 + 20.0 * 2 + 40.0 * 2)


def test_durations_read_as_a_person_would_write_them():
    # Epochs of one step take under a second: tenths there, not "0 s".
    assert [S.duration(t) for t in (0.42, 9.94, 9.96, 59.4, 61, 3599, 3660)] == [
        "0.4 s", "9.9 s", "10 s", "59 s", "1 min 01 s", "59 min 59 s", "1 h 01 min"]


def test_t_intervals_match_textbook_values():
    # One sample: 1..5 has mean 3 and standard error sqrt(2.5 / 5); t_{0.975, 4} = 2.776445.
    mean, low, high = A.mean_interval([1, 2, 3, 4, 5])
    assert (mean, low, high) == pytest.approx((3, 3 - 2.776445 * math.sqrt(0.5),
                                               3 + 2.776445 * math.sqrt(0.5)), abs=1e-6)
    # 2, 4, 4, 4, 5, 5, 7, 9: mean 5, variance 32 / 7; t_{0.995, 7} = 3.499483.
    half = 3.499483 * math.sqrt(32 / 7 / 8)
    assert A.mean_interval([2, 4, 4, 4, 5, 5, 7, 9], level=0.99) == pytest.approx(
        (5, 5 - half, 5 + half), abs=1e-6)
    assert A.mean_interval([2.0, 2.0]) == (2.0, 2.0, 2.0)  # no spread: no width
    assert A.mean_interval([2.0]) == (2.0, None, None)
    # Welch by hand: equal variances (1) and sizes (3) give df = (2/3)^2 / (2 (1/3)^2 / 2) = 4.
    d = A.welch_interval([1, 2, 3], [4, 5, 6])
    half = 2.776445 * math.sqrt(2 / 3)
    assert tuple(d) == pytest.approx((-3, -3 - half, -3 + half, 4), abs=1e-6)
    # Welch's df are not whole numbers: R's t.test(extra ~ group, data = sleep) (Student's
    # sleep data) prints df = 17.776, 95 percent confidence interval -3.3654832 0.2054832.
    d = A.welch_interval([0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0],
                         [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4])
    assert (d.difference, d.low, d.high) == pytest.approx((-1.58, -3.3654832, 0.2054832),
                                                          abs=1e-7)
    assert d.df == pytest.approx(17.776, abs=5e-4)
    d = A.welch_interval([0.3, 0.3], [0.2, 0.2])  # no spread: the difference, no df
    assert (d.difference, d.low, d.high, d.df) == (pytest.approx(0.1),) * 3 + (None,)
    with pytest.raises(ValueError, match="2 values or more"):
        A.welch_interval([0.3], [0.2, 0.25])


def test_first_crossing_interpolates_between_points():
    curve = [0.9, 0.5, 0.2, 0.1]
    assert A.first_crossing([1, 2, 3, 4], curve, 0.25) == pytest.approx(2 + 0.25 / 0.3)
    assert A.first_crossing([100, 200, 300, 400], curve, 0.25) == pytest.approx(
        200 + 100 * 0.25 / 0.3)  # steps as well as epochs
    assert A.first_crossing([1, 2, 3, 4], curve, 0.5) == 2  # reached exactly at a point
    assert A.first_crossing([1, 2, 3, 4], [0.9, 0.3, 0.5, 0.2], 0.4) == pytest.approx(
        1 + 0.5 / 0.6)  # the first time, not the last
    assert A.first_crossing([1, 2, 3, 4], curve, 0.05) is None
    assert A.first_crossing([1, 2], [0.2, 0.1], 0.25) == 1  # nothing known before the first
    history = [{"epoch": e, "top1_error": v} for e, v in enumerate(curve)]
    assert A.epochs_to_error(history, 0.25) == pytest.approx(2 + 0.25 / 0.3)


def test_speedup_ratios_match_a_hand_computation(tmp_path):
    """Fig. 1's measure: epochs to 25 % training error, slow / fast, seed by seed; the mean
    ratio's t-interval; a seed whose slow run never gets there has no ratio."""
    path = tmp_path / "fig1.py"
    path.write_text(
        "def get_study():\n"
        "    return dict(base='tiny.py', overrides={'epochs': 4}, seeds=[0, 1, 2],\n"
        "                variants={'relu': {}, 'tanh': {'model.activation': 'tanh'}},\n"
        "                baseline='relu', threshold=0.25,\n"
        "                speedup={'slow': 'tanh', 'fast': 'relu', 'paper': 6})\n")
    workdir = tmp_path / "study"
    S.prepare_workdir(S.load_study(str(path)), str(workdir)).close()
    curves = {("relu", 0): [0.5, 0.25, 0.1, 0.1],   # reaches 25 % at epoch 2
              ("relu", 1): [0.35, 0.15, 0.1, 0.1],  # 1 + 0.10 / 0.20 = 1.5
              ("relu", 2): [0.45, 0.05, 0.0, 0.0],  # 1 + 0.20 / 0.40 = 1.5
              ("tanh", 0): [0.9, 0.7, 0.5, 0.2],    # 3 + 0.25 / 0.30
              ("tanh", 1): [0.9, 0.6, 0.4, 0.25],   # 4
              ("tanh", 2): [0.9, 0.8, 0.7, 0.6]}    # never
    for (variant, seed), train in curves.items():
        d = workdir / variant / f"seed-{seed}"
        d.mkdir(parents=True)
        (d / "history.json").write_text(json.dumps([
            {"epoch": e, "top1_error": t, "val_top1_error": 0.5} for e, t in enumerate(train)]))
        (d / "model.keras").write_text("")
        (d / "study_run.json").write_text(json.dumps({"attempts": [{"seconds": 1.0,
                                                                      "exit_code": 0}]}))
    speed = R.write_report(str(workdir))["speedup"]
    slow0 = 3 + 0.25 / 0.3
    assert speed["seeds"][0] == pytest.approx((slow0, 2, slow0 / 2))
    assert speed["seeds"][1] == pytest.approx((4, 1.5, 4 / 1.5))
    assert speed["seeds"][2][0] is None and speed["seeds"][2][2] is None
    ratios = [slow0 / 2, 4 / 1.5]
    half = 12.706205 * statistics.stdev(ratios) / math.sqrt(2)  # t_{0.975, 1}
    assert (speed["mean"], speed["low"], speed["high"]) == pytest.approx(
        (statistics.fmean(ratios), statistics.fmean(ratios) - half,
         statistics.fmean(ratios) + half), abs=1e-6)
    text = (workdir / "REPORT.md").read_text()
    assert speed["lower_bounds"] == {2: pytest.approx(4 / 1.5)}  # 4 epochs run, not reached
    assert "| 2 | not reached | 1.50 | > 2.67x |" in text and "the paper: 6x." in text
    assert "Left out of the mean: 1 seed(s)" in text
    assert (workdir / "fig1.png").read_bytes()[:4] == b"\x89PNG"
    # The table of every variant's epochs to the threshold, fastest first.
    relu, tanh = statistics.fmean([2, 1.5, 1.5]), statistics.fmean([slow0, 4])
    low = {v: 100 * statistics.fmean(min(c) for (var, _), c in curves.items() if var == v)
           for v in ("relu", "tanh")}  # the lowest training error, mean over seeds
    assert (f"| relu | {relu:.2f} | 3 of 3 finished | {low['relu']:.2f} % |\n"
            f"| tanh | {tanh:.2f} | 2 of 3 finished | {low['tanh']:.2f} % |" in text)


def test_evaluate_reads_each_runs_own_validation_data(tmp_path):
    def config(**data):
        (tmp_path / "config.json").write_text(json.dumps({"data": data}))
        return R.validation_data({}, str(tmp_path))
    assert config(source="images") == (str(tmp_path / "data" / "validation-*"), None)
    assert config(source="folder", validation="/v") == ("/v", None)
    assert config(source="tfds", train="imagenette", validation_split="validation",
                  data_dir="/d") == ("tfds:imagenette:validation", "/d")
    assert R.validation_data({"validation_data": "x-*"}, str(tmp_path)) == ("x-*", None)


@pytest.mark.parametrize("name", sorted(
    f for f in os.listdir(os.path.dirname(TINY_STUDY)) if f.endswith(".py") and f != "__init__.py"))
def test_every_shipped_study_resolves(name):
    """Each configs/studies file loads, and every variant and seed resolves to a valid
    training config (fields and types checked, as the study runner does before training)."""
    spec = S.load_study(os.path.join(os.path.dirname(TINY_STUDY), name))
    for variant, overrides in spec["variants"].items():
        config = S.resolve_config(spec["base"], spec["overrides"], overrides, spec["seeds"][0])
        assert config.epochs == spec["epochs"][variant]
    if spec.get("speedup"):
        assert {spec["speedup"]["slow"], spec["speedup"]["fast"]} <= set(spec["variants"])
