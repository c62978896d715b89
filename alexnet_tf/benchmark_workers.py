"""How fast a multi-worker run notices a lost worker (`alexnet_tf.multiworker`).

`lost_worker_detection` starts two local workers on configs/tiny.py (strategy
multi_worker, a checkpoint every step), kills worker 1 with SIGKILL once a checkpoint of
step 6 is on disk, and times worker 0 from the kill to its exit, with the peer watch
(`config.peer_watch`, a thread probing the peers' addresses every
`multiworker.PROBE_EVERY` seconds) and without it (TF's own detection: a failed
collective, or the coordination service's heartbeat, `multiworker.HEARTBEAT_TIMEOUT`).
The two settings run in turns, trial by trial, since these machines are shared.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from alexnet_tf import checkpoint
from alexnet_tf.rundir import RunDir


def free_ports(n):
    """`n` distinct free local ports (all bound at once, so they differ)."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _one_kill(peer_watch, at_step=6, timeout=300):
    """`(seconds from the kill to worker 0's exit, its exit status, its error line)`."""
    with tempfile.TemporaryDirectory(prefix="lost-worker-") as folder:
        return _kill_in(os.path.join(folder, "run"), peer_watch, at_step, timeout)


def _kill_in(workdir, peer_watch, at_step, timeout):
    import configs
    ports = free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    command = [sys.executable, "-m", "alexnet_tf.train", "--config",
               os.path.join(os.path.dirname(configs.__file__), "tiny.py"), "--workdir", workdir,
               "--config.strategy=multi_worker", "--config.epochs=6",
               "--config.checkpoint_every_steps=1", f"--config.peer_watch={peer_watch}"]
    procs = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "TF_CONFIG": json.dumps(
                                  {"cluster": cluster, "task": {"type": "worker", "index": i}})})
             for i in range(2)]
    try:
        deadline = time.monotonic() + timeout
        while True:
            latest = checkpoint.latest(RunDir(workdir).checkpoints)
            if latest and int(latest.rsplit("-", 1)[1]) >= at_step:  # ckpt-<global step>
                break
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                for p in procs:  # before reading: a worker may still wait for its peer
                    p.kill()
                raise RuntimeError(f"the two workers did not reach step {at_step}: "
                                   + procs[0].communicate()[1][-500:])
            time.sleep(0.01)
        procs[1].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        _, err = procs[0].communicate(timeout=timeout)
        took = time.monotonic() - killed
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()
    line = next((x for x in err.splitlines() if x.startswith("error:")), "")
    return round(took, 2), procs[0].returncode, machine_free(line, workdir)


def machine_free(line, workdir):
    """`line` with this machine's paths in it (the run's temporary workdir, the config
    file) written as `RUN` and `configs/...`, for a committed record."""
    import configs
    return line.replace(workdir, "RUN").replace(os.path.dirname(configs.__file__) + os.sep,
                                                "configs/")


def lost_worker_detection(trials=3, log=print):
    """The rows `{trial, peer_watch, seconds, exit_code, error}` of `trials` kills with
    the peer watch and as many without, in turns."""
    rows = []
    for trial in range(trials):
        for peer_watch in (True, False):
            seconds, code, line = _one_kill(peer_watch)
            rows.append({"trial": trial, "peer_watch": peer_watch, "seconds": seconds,
                         "exit_code": code, "error": line})
            log(f"trial {trial + 1}: peer watch {'on ' if peer_watch else 'off'}: worker 0 "
                f"ended {seconds:.2f} s after the kill (exit {code})")
    return rows
