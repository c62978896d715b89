"""Multi-worker training (README, "Multi-worker training") as two processes on this machine
with configs/tiny.py: TF_CONFIG and the shard policy, a worker whose peer never comes,
workers that disagree, restored states that differ, a worker killed mid-run, and the rerun
that resumes it (slow). The README's command with default settings also runs in
tests/test_train.py::test_multi_worker_two_processes_match_one_device."""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from alexnet_tf import checkpoint, multiworker
from alexnet_tf.benchmark_workers import free_ports

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, "tools", "train.py")
TINY = os.path.join(ROOT, "configs", "tiny.py")
# From a kill to the survivor's exit: the peer watch notices a closed address within 1 s,
# a silent one within HEARTBEAT_TIMEOUT; a few seconds more for the process to end.
LOST_BOUND = multiworker.HEARTBEAT_TIMEOUT + 5


def tf_config(ports, index):
    return json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def start(args, ports, index, program=TRAIN):
    return subprocess.Popen([sys.executable, program, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "TF_CONFIG": tf_config(ports, index)})


def finish(procs, timeout=600):
    """`[(returncode, stdout, stderr)]` of processes, once all have ended."""
    outputs = [p.communicate(timeout=timeout) for p in procs]
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs)]


def one_error_line(stderr, *fragments):
    """The single `error:` line of a worker's stderr (TF's start-up chatter aside), which
    must hold every fragment; no traceback."""
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def config_file(tmp_path, **fields):
    """configs/tiny.py with extra fields (ones configs/ may not have yet), as a file."""
    path = tmp_path / "config.py"
    path.write_text("from configs import tiny\n\n\ndef get_config():\n"
                    "    c = tiny.get_config()\n"
                    + "".join(f"    c.{k} = {v!r}\n" for k, v in fields.items())
                    + "    return c\n")
    return str(path)


def test_tf_config_is_read_and_its_mistakes_named():
    cluster = multiworker.Cluster.from_env({"TF_CONFIG": tf_config([1, 2], 1)})
    assert (cluster.rank, cluster.is_chief, cluster.size) == (1, False, 2)
    assert cluster.peers == [("worker", 0, "localhost:1")]
    assert cluster.name() == "worker 1 (localhost:2)"
    with_chief = {"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},
                  "task": {"type": "worker", "index": 0}}
    cluster = multiworker.Cluster.from_env({"TF_CONFIG": json.dumps(with_chief)})
    assert (cluster.rank, cluster.is_chief) == (1, False)  # the chief task is the chief
    for env, says in [({}, "needs the TF_CONFIG environment variable"),
                      ({"TF_CONFIG": "{"}, "not valid JSON"),
                      ({"TF_CONFIG": tf_config([1, 2], 2)}, "worker 2 is not in its cluster"),
                      ({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"], "ps": ["b:1"]},
                                                 "task": {"type": "worker", "index": 0}})},
                       "chief and worker tasks only")]:
        with pytest.raises(ValueError, match=says):
            multiworker.Cluster.from_env(env)


def test_auto_shard_policy_files_when_every_worker_gets_one():
    assert multiworker.shard_policy("auto", 1024, 2)[0] == "file"
    assert multiworker.shard_policy("auto", 2, 2)[0] == "file"
    assert multiworker.shard_policy("auto", 1, 2) == ("data", "1 file for 2 workers")
    assert multiworker.shard_policy("auto", None, 2)[0] == "data"  # not read from files
    assert multiworker.shard_policy("off", 1, 2)[0] == "off"  # as configured


def test_a_worker_alone_says_whom_it_waits_for_then_gives_up_with_one_line(tmp_path):
    """Worker 0 (which leads TF's coordination service) and worker 1 of two clusters whose
    other worker never starts."""
    timeout = 3.0
    args = ["--config", config_file(tmp_path, peer_timeout=timeout), "--workdir",
            str(tmp_path / "run"), "--config.strategy=multi_worker"]
    clusters = [free_ports(2), free_ports(2)]
    started = time.monotonic()
    results = finish([start(args, clusters[0], 0), start(args, clusters[1], 1)])
    took = time.monotonic() - started
    for (code, out, err), ports, me in zip(results, clusters, (0, 1)):
        other = f"worker {1 - me} (localhost:{ports[1 - me]})"
        assert code == 1
        assert (f"worker {me} (localhost:{ports[me]}): waiting for {other} to join (giving "
                f"up after 3 s: config.peer_timeout)") in out
        one_error_line(err, f"{other} did not join within 3 s", "config.peer_timeout",
                       f"check that localhost:{ports[1 - me]} can be reached")
    # Far below the default peer_timeout of 300 s: TF's deadlines add 4 to 8 s to the 3 s,
    # and two TensorFlow start-ups on a busy 2-core machine up to 20 s more (27 s seen).
    assert took < timeout + 45, took


def test_workers_that_disagree_are_refused_before_any_step(tmp_path):
    """Worker 1 is given another --workdir (as on a machine without shared storage) and
    another learning rate: both workers refuse, with the same line, having trained
    nothing."""
    ports = free_ports(2)
    common = ["--config", TINY, "--config.strategy=multi_worker"]
    results = finish([
        start([*common, "--workdir", str(tmp_path / "a")], ports, 0),
        start([*common, "--workdir", str(tmp_path / "b"), "--config.optimizer.learning_rate=0.02"],
              ports, 1)])
    lines = []
    for code, out, err in results:
        assert code == 1
        assert "Epoch 1" not in out
        lines.append(one_error_line(
            err, "workers disagree, nothing was trained",
            f"worker 1 (localhost:{ports[1]}) does not see the chief's workdir",
            "the workers' configs differ in optimizer.learning_rate"))
    assert lines[0] == lines[1]
    for workdir in ("a", "b"):
        assert not (tmp_path / workdir / "checkpoints").exists()


STATE_CHECK = """
import tensorflow as tf
from alexnet_tf import multiworker

cluster = multiworker.Cluster.from_env()
strategy = multiworker.multi_worker_strategy(cluster, 60)
weights = {"w": tf.Variable([1.0, 2.0])}
multiworker.check_same_state(strategy, cluster, 2, 3, weights)  # the same everywhere
if cluster.rank == 1:
    weights["w"].assign([1.0, 2.5])
try:
    multiworker.check_same_state(strategy, cluster, 2, 3 + cluster.rank, weights)
except multiworker.WorkersDisagree as e:
    print(f"refused: {e}")
"""


def test_restored_states_that_differ_are_refused(tmp_path):
    """The all-gather of each worker's position and weights checksum (the real
    collective, between two processes): equal states pass, others are refused on every
    worker with one line naming each worker's state."""
    script = tmp_path / "check.py"
    script.write_text(STATE_CHECK)
    ports = free_ports(2)
    results = finish([start([], ports, i, program=str(script)) for i in range(2)])
    for code, out, err in results:
        assert code == 0, err[-3000:]
        refused = [line for line in out.splitlines() if line.startswith("refused:")]
        assert refused == [
            f"refused: workers restored different states, nothing was trained: worker 0 "
            f"(localhost:{ports[0]}) at epoch 3, step 3; worker 1 (localhost:{ports[1]}) at "
            f"epoch 3, step 4, other weights: give every worker the same --workdir, on "
            f"storage they all share, so that all restore the chief's newest checkpoint"], out


def start_two_and_kill_one(args, workdir, ports, at_step, victim=1):
    """Starts two workers, kills `victim` with SIGKILL once a checkpoint of `at_step` or
    later is written; returns the survivor's `(returncode, stdout, stderr)` and the
    seconds from the kill to its exit."""
    procs = [start(args, ports, i) for i in range(2)]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        latest = checkpoint.latest(os.path.join(workdir, "checkpoints"))
        if latest and int(latest.rsplit("-", 1)[1]) >= at_step:
            break
        assert all(p.poll() is None for p in procs), finish(procs)
        time.sleep(0.01)
    procs[victim].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    survivor = procs[1 - victim]
    out, err = survivor.communicate(timeout=300)
    took = time.monotonic() - killed
    procs[victim].communicate()
    return (survivor.returncode, out, err), took


def test_a_killed_worker_ends_the_chief_with_one_line_and_the_resume_command(tmp_path):
    ports = free_ports(2)
    workdir = str(tmp_path / "run")
    args = ["--config", TINY, "--workdir", workdir, "--config.strategy=multi_worker",
            "--config.epochs=6", "--config.checkpoint_every_steps=1"]
    (code, out, err), took = start_two_and_kill_one(args, workdir, ports, at_step=6)
    assert code == 1
    assert took < LOST_BOUND, took
    line = one_error_line(err, f"error: lost worker 1 (localhost:{ports[1]})",
                          f"worker 0 (localhost:{ports[0]}) stopped too",
                          "A restart resumes from the last checkpoint")
    assert line.endswith(": " + shlex.join(["python", TRAIN, *args])), line
    assert not os.path.exists(os.path.join(workdir, "model.keras"))


def readme_command(workdir, ports):
    """The README's two-worker command (Multi-worker training): `(argv, TF_CONFIG of
    worker 0)`, with free ports for its 12345 and 12346 and `workdir` for its own."""
    readme = open(os.path.join(ROOT, "README.md")).read()
    section = readme[readme.index("### Multi-worker training"):]
    block = re.search(r"```bash\n(.*?)\n```", section, re.S).group(1)
    export, command = block.splitlines()
    config = re.match(r"export TF_CONFIG='(.*?)'", export).group(1)
    config = config.replace("12345", str(ports[0])).replace("12346", str(ports[1]))
    argv = shlex.split(command, comments=True)
    assert argv[:2] == ["python", "tools/train.py"]
    argv[argv.index("--workdir") + 1] = workdir
    return argv[2:], json.loads(config)


@pytest.mark.slow
def test_a_rerun_after_a_kill_ends_with_the_weights_of_an_uninterrupted_run(tmp_path):
    """The README's command (configs/tiny.py, 4 epochs, op determinism, a checkpoint every
    step) uninterrupted, and killed (SIGKILL of worker 1 mid-run) then run again on both
    workers: the same final weights, optimizer slots, random states and schedule, bit for
    bit. Augmentation and dropout stay on; with two workers each all-reduce is a single
    addition, exact in either order."""
    extra = ["--config", TINY, "--config.epochs=4", "--config.checkpoint_every_steps=1",
             "--config.op_determinism=True"]
    states = {}
    for name in ("whole", "killed"):
        ports = free_ports(2)
        workdir = str(tmp_path / name)
        argv, config = readme_command(workdir, ports)
        assert config == json.loads(tf_config(ports, 0))  # the cluster `start` gives
        args = [*argv, *extra]
        if name == "killed":
            (code, _, err), took = start_two_and_kill_one(args, workdir, ports, at_step=6)
            assert code == 1 and took < LOST_BOUND, (took, err[-3000:])
            _, meta = checkpoint.read(checkpoint.latest(os.path.join(workdir, "checkpoints")))
            assert (meta["epoch"], meta["step"]) < (4, 0), "the kill should land mid-run"
            ports = free_ports(2)  # a restart may find the old ports still held
        results = finish([start(args, ports, i) for i in range(2)])
        for code, out, err in results:
            assert code == 0, out[-3000:] + err[-3000:]
        chief_out, worker_out = results[0][1], results[1][1]
        assert ("resuming from" in chief_out) == (name == "killed")
        assert "sharding over 2 workers (data.shard_policy auto): training by data" in chief_out
        # Worker 1 prints one line (where its output goes), and nothing it does not write.
        assert worker_out.strip().splitlines()[-1].startswith(
            f"worker 1 (localhost:{ports[1]}): the chief, worker 0")
        assert "Epoch" not in worker_out and "model:" not in worker_out
        states[name] = checkpoint.read(checkpoint.latest(os.path.join(workdir, "checkpoints")))
        history = json.load(open(os.path.join(workdir, "history.json")))
        assert [h["epoch"] for h in history] == [0, 1, 2, 3]
    (whole, whole_meta), (resumed, resumed_meta) = states["whole"], states["killed"]
    assert whole_meta == resumed_meta
    assert whole.keys() == resumed.keys()
    for key in whole:
        np.testing.assert_array_equal(whole[key], resumed[key], err_msg=key)


def test_the_single_device_path_imports_no_multi_worker_code(tmp_path):
    """Only the multi_worker strategy loads alexnet_tf.multiworker (TCP probes, a watchdog
    thread, TF's coordination service)."""
    code = ("import sys; from alexnet_tf import runtime, train; from configs import tiny; "
            f"rt = runtime.create(tiny.get_config(), {str(tmp_path)!r}); "
            "assert rt.is_chief and rt.workers == 1; "
            "print(sorted(m for m in sys.modules if m.startswith('alexnet_tf')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    assert "alexnet_tf.train" in out and "alexnet_tf.multiworker" not in out, out
