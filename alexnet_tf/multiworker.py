"""Multi-worker training: `tf.distribute.MultiWorkerMirroredStrategy` over several machines,
configured by the `TF_CONFIG` environment variable on each (README, "Multi-worker
training"). Imported only when `config.strategy` is `multi_worker` (`alexnet_tf.runtime`).

`Cluster` reads TF_CONFIG, `multi_worker_strategy` forms the cluster with bounded waits,
`check_same_run` and `check_same_state` make the workers agree before the first step,
`PeerWatch` and `report_lost_workers` end every worker when one is lost (`exit_lost`),
`shard_policy` and `shard_policies` pick how each split is divided between the workers, and
`MultiWorkerRuntime` is the `alexnet_tf.runtime.Runtime` of a worker.
"""
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time

import numpy as np
import tensorflow as tf

from alexnet_tf import data
from alexnet_tf.config import flatten
from alexnet_tf.build import count_examples
from alexnet_tf.rundir import RunDir
from alexnet_tf.runtime import Runtime

# ---------------------------------------------------------------------------- multi-worker

PEER_TIMEOUT = 300.0
"""Default of `config.peer_timeout`: seconds a worker waits for the others to join."""
PROBE_EVERY = 0.5
"""Seconds between two probes of the peers' addresses (`PeerWatch`): a closed address is
lost at its second refusal, so a killed worker ends the others in about 1 s plus their
exit (measured: results/multiworker/lost_worker_detection.json, tools/benchmark_workers.py)."""
HEARTBEAT_TIMEOUT = 10
"""Seconds without a heartbeat after which TF's coordination service declares a worker lost
(TF's default, set here explicitly: it bounds how long survivors of a silent failure, e.g.
a machine that lost power, wait). A killed worker is noticed by TF at the next collective
that needs it, or by this heartbeat: 6 to 8 s on tiny runs without `PeerWatch`, which
ends them sooner (results/multiworker)."""
SHUTDOWN_TIMEOUT = 600
"""Seconds a finished worker waits at exit for the others (the chief exports the model
after the last step)."""
RUN_ID_WAIT = 5.0
"""Seconds another worker keeps looking for the chief's run id: shared file systems may
show a new file late."""


class PeersMissing(RuntimeError):
    """Workers of the cluster did not join within `config.peer_timeout`."""


class WorkerLost(RuntimeError):
    """A worker of a running cluster was lost (killed, crashed, unreachable)."""


class WorkersDisagree(ValueError):
    """The workers were given different workdirs or configs, or restored different
    states."""


@dataclasses.dataclass(frozen=True)
class Cluster:
    """A cluster as `TF_CONFIG` describes it.

    `tasks` lists every task as `(type, index, address)`: the chief task first, then the
    workers in order, so that a task's position is its rank, and rank 0 is the chief (the
    "chief" task, or worker 0 when there is none, as in TF). `task` is this process'
    `(type, index)`.
    """
    tasks: tuple
    task: tuple

    @classmethod
    def from_env(cls, environ=None):
        """The cluster of the `TF_CONFIG` environment variable. Raises `ValueError`, one
        line saying what is wrong, if it is missing or malformed."""
        text = (os.environ if environ is None else environ).get("TF_CONFIG")
        hint = ("e.g. TF_CONFIG='{\"cluster\": {\"worker\": [\"hostA:12345\", "
                "\"hostB:12345\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}' (README: "
                "Multi-worker training)")
        if not text:
            raise ValueError(f"strategy 'multi_worker' needs the TF_CONFIG environment "
                             f"variable, {hint}")
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"TF_CONFIG is not valid JSON ({e}); {hint}") from None
        cluster, task = ((spec.get("cluster"), spec.get("task")) if isinstance(spec, dict)
                         else (None, None))
        if not isinstance(cluster, dict) or not isinstance(task, dict):
            raise ValueError(f"TF_CONFIG needs a \"cluster\" and a \"task\"; {hint}")
        other = sorted(set(cluster) - {"chief", "worker"})
        if other:
            raise ValueError(f"TF_CONFIG's cluster has {', '.join(other)} tasks; "
                             f"multi_worker training has chief and worker tasks only")
        tasks = []
        for job in ("chief", "worker"):
            addresses = cluster.get(job, [])
            if not (isinstance(addresses, list)
                    and all(isinstance(a, str) and ":" in a for a in addresses)):
                raise ValueError(f"TF_CONFIG's cluster[\"{job}\"] must be a list of "
                                 f"\"host:port\" addresses, got {addresses!r}")
            tasks += [(job, i, a) for i, a in enumerate(addresses)]
        if len(cluster.get("chief", [])) > 1:
            raise ValueError("TF_CONFIG's cluster has more than one chief; give it one "
                             "(or none: worker 0 is then the chief)")
        try:
            me = (task.get("type"), int(task.get("index", 0)))
        except (TypeError, ValueError):
            raise ValueError(f"TF_CONFIG's task index must be a number, got "
                             f"{task.get('index')!r}") from None
        if me not in [t[:2] for t in tasks]:
            known = ", ".join(f"{t} {i}" for t, i, _ in tasks) or "none"
            raise ValueError(f"TF_CONFIG's task {me[0]} {me[1]} is not in its cluster "
                             f"(tasks: {known}); give each worker its own task")
        return cls(tuple(tasks), me)

    @property
    def rank(self):
        return [t[:2] for t in self.tasks].index(self.task)

    @property
    def is_chief(self):
        return self.rank == 0

    @property
    def size(self):
        return len(self.tasks)

    @property
    def peers(self):
        return [t for t in self.tasks if t[:2] != self.task]

    def name(self, task=None):
        """A task as messages name it, `worker 1 (hostB:12345)`; this one by default."""
        task = self.tasks[self.rank] if task is None else task
        return f"{task[0]} {task[1]} ({task[2]})"


def probe(address, timeout=1.0):
    """"up" if something accepts TCP connections at `address` ("host:port"), "refused"
    if its host refuses them (nothing listens there), "silent" if nothing answers. A
    worker's server listens there from the moment its strategy starts until it exits."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return "up"
    except ConnectionRefusedError:
        return "refused"
    except (OSError, ValueError):
        return "silent"


def reachable(address, timeout=1.0):
    """Whether something accepts TCP connections at `address` (`probe`)."""
    return probe(address, timeout) == "up"


def _names(tasks, cluster):
    return ", ".join(cluster.name(t) for t in tasks)


def _silent_peers(cluster):
    """The peers whose address does not answer, named; or what is known when all do."""
    silent = [t for t in cluster.peers if not reachable(t[2])]
    if silent:
        return _names(silent, cluster), silent
    return ("the other workers (every address answers, but not every worker has "
            "registered: do all have the same TF_CONFIG cluster?)"), cluster.peers


def _not_joined(cluster, peer_timeout):
    who, tasks = _silent_peers(cluster)
    return (f"{cluster.name()}: {who} did not join within {peer_timeout:g} s: start "
            f"{'it' if len(tasks) == 1 else 'each'} with the same command and its own "
            f"TF_CONFIG task, check that "
            f"{', '.join(t[2] for t in tasks)} can be reached from this machine, or wait "
            f"longer with config.peer_timeout")


def multi_worker_strategy(cluster, peer_timeout=None, log=print):
    """`tf.distribute.MultiWorkerMirroredStrategy` for `cluster`, with every wait bounded.

    TF's coordination service forms the cluster and watches it. It is configured here
    as MultiWorkerMirroredStrategy would configure it itself, but for its timeouts: every
    task must register within `peer_timeout` seconds (default `PEER_TIMEOUT`; with TF's
    defaults worker 0 waits for the others for ever), a task without a heartbeat for
    `HEARTBEAT_TIMEOUT` seconds is lost, and a finished worker waits up to
    `SHUTDOWN_TIMEOUT` seconds at exit for the others.

    If some peers' addresses do not answer yet (they have not started), `log`s one line
    naming them before it waits. Raises `PeersMissing` (one line: who, where, how to fix)
    if the cluster does not form in time (measured here: after `peer_timeout` plus 4 to
    9 s, TF's own deadlines), `ValueError` if this worker cannot start.
    """
    # TF internals, both replacing `tf.distribute.MultiWorkerMirroredStrategy()`'s own
    # coordination set-up (the public API), which has no timeouts to give: with its
    # defaults worker 0 waits for the others for ever. They are set where the strategy
    # sets them, on the eager context, before it starts.
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context

    peer_timeout = PEER_TIMEOUT if peer_timeout is None else peer_timeout
    if not isinstance(peer_timeout, (int, float)) or not peer_timeout > 0:
        raise ValueError(f"config.peer_timeout must be a positive number of seconds, got "
                         f"{peer_timeout!r}")
    jobs = [coordination_config_pb2.CoordinatedJob(
        name=job, num_tasks=sum(t[0] == job for t in cluster.tasks))
        for job in ("chief", "worker") if any(t[0] == job for t in cluster.tasks)]
    eager = context.context()
    eager.configure_coordination_service(
        service_type="standalone",
        service_leader=f"/job:{cluster.tasks[0][0]}/replica:0/task:0",
        cluster_register_timeout_in_ms=int(peer_timeout * 1000),
        heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT * 1000,
        shutdown_barrier_timeout_in_ms=SHUTDOWN_TIMEOUT * 1000, coordinated_jobs=jobs)
    # Without the registration barrier, the service's leader (worker 0) ignores the
    # register timeout and waits for the others for ever.
    eager.coordination_service.cluster_register_with_barrier = True

    # Said before the wait, not during it: TF holds Python's lock while it waits, so no
    # thread could speak (nor end the wait: TF's own deadlines do). A worker's address
    # answers from the moment its strategy starts, so the first worker up names the others.
    silent = [t for t in cluster.peers if not reachable(t[2])]
    if silent:
        log(f"{cluster.name()}: waiting for {_names(silent, cluster)} to join (giving up "
            f"after {peer_timeout:g} s: config.peer_timeout)")
        sys.stdout.flush()
    # For the same reason Python's Ctrl-C handler cannot run during the wait (and TF holds
    # SIGTERM): the system's default action for Ctrl-C, ending the process, stands in.
    main = threading.current_thread() is threading.main_thread()
    interrupt = signal.signal(signal.SIGINT, signal.SIG_DFL) if main else None
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except tf.errors.DeadlineExceededError:
        raise PeersMissing(_not_joined(cluster, peer_timeout)) from None
    except tf.errors.OpError as e:
        raise ValueError(f"{cluster.name()} could not start ({_first_line(e)}): check that "
                         f"its address is free and that TF_CONFIG's addresses are right") \
            from None
    finally:
        if main:
            signal.signal(signal.SIGINT, interrupt)


def _first_line(error, limit=200):
    text = getattr(error, "message", None) or str(error)
    return (text.strip().splitlines() or [type(error).__name__])[0][:limit]


_LOST_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                tf.errors.AbortedError, tf.errors.CancelledError, tf.errors.InternalError)


def lost_peers(error, cluster):
    """The peers (`cluster.tasks` entries) whose loss `error` reports, or None if it does
    not report a lost peer. A peer whose address no longer answers is lost (a process
    that died closes its port); else the tasks TF's message names (a missed heartbeat)."""
    if not isinstance(error, _LOST_ERRORS):
        return None
    text = getattr(error, "message", None) or str(error)
    named = {(job, int(i)) for job, i in
             re.findall(r"/job:(\w+)/(?:replica:\d+/)?task:(\d+)", text)} - {cluster.task}
    if not named and not re.search(r"[Cc]ollective|[Cc]oordination|heartbeat", text):
        return None
    silent = [t for t in cluster.peers if not reachable(t[2])]
    return silent or [t for t in cluster.peers if t[:2] in named]


def _lost(cluster, lost, why, resume_from):
    return WorkerLost(
        f"lost {_names(lost, cluster) if lost else 'a worker'} ({why}); {cluster.name()} "
        f"stopped too: TF restarts a multi-worker run as a whole. {resume_from()}; start "
        f"every worker again, each with its own TF_CONFIG, with the same command")


@contextlib.contextmanager
def report_lost_workers(cluster, resume_from):
    """Turns a TF error raised in the block because a peer was lost into `WorkerLost`:
    one line naming the lost worker(s), TF's reason, and `resume_from()` (where a restart
    resumes)."""
    try:
        yield
    except _LOST_ERRORS as e:
        lost = lost_peers(e, cluster)
        if lost is None:
            raise
        text = getattr(e, "message", None) or str(e)
        why = re.search(r"aborted by: (.*)", text)
        why = (why.group(1) if why else _first_line(e)).strip().rstrip(":")[:160]
        raise _lost(cluster, lost, why, resume_from) from None


class PeerWatch:
    """Watches the peers' addresses from a thread of its own, so that a lost peer ends
    this worker at once, even while it works alone (the chief writing summaries or a
    checkpoint): TF itself notices only at the next exchange of data.

    Every `every` seconds each peer's address is probed (`probe`): a peer is lost when
    its address refuses connections twice in a row (its process has ended) or has not
    answered for `HEARTBEAT_TIMEOUT` seconds (a silent machine). The thread then calls
    `on_lost(error)` with a `WorkerLost` (`resume_from()` says where a restart resumes),
    which must end the process: the main thread may be inside TF, out of reach. Stop the
    watch (`stop`, or leaving the `with` block) before a peer may end normally.
    """

    def __init__(self, cluster, on_lost, resume_from, every=PROBE_EVERY):
        self.cluster, self.on_lost, self.resume_from = cluster, on_lost, resume_from
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peer-watch", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()

    def _run(self):
        refused, silent_since = {}, {}
        while not self._stop.wait(self.every):
            lost, why = [], ""
            for task in self.cluster.peers:
                state = probe(task[2])
                if state == "up":
                    refused.pop(task, None)
                    silent_since.pop(task, None)
                elif state == "refused":
                    refused[task] = refused.get(task, 0) + 1
                    if refused[task] >= 2:
                        lost.append(task)
                        why = "its address refuses connections: it ended, see its own output"
                elif time.monotonic() - silent_since.setdefault(task, time.monotonic()) \
                        >= HEARTBEAT_TIMEOUT:
                    lost.append(task)
                    why = why or f"no answer at its address for {HEARTBEAT_TIMEOUT} s"
            if lost and not self._stop.is_set():
                self.on_lost(_lost(self.cluster, lost, why, self.resume_from))
                return


_ending = threading.Lock()


def exit_lost(error, suffix=""):
    """Prints `error: {error}{suffix}` and ends the process with status 1, once: the
    peer watch and TF's own error may both report a loss; the second caller waits for
    the first to end the process. `os._exit`, as a thread must: checkpoints are written
    atomically and TensorBoard's events are flushed at each epoch's end, so at most the
    step summaries since are lost (a restart writes them again from its checkpoint)."""
    if not _ending.acquire(blocking=False):
        while True:
            time.sleep(1)
    sys.stdout.flush()
    print(f"error: {error}{suffix}", file=sys.stderr, flush=True)
    os._exit(1)


def all_gather(strategy, cluster, values):
    """Every worker's `values` (integers, as many on each worker), by rank: a
    `[workers, len(values)]` int64 array, the same on every worker. A collective: every
    worker calls it, at the same point."""
    row = tf.constant([[cluster.rank, *values]], tf.int64)
    gathered = strategy.gather(
        strategy.experimental_distribute_values_from_function(lambda _: row), axis=0).numpy()
    # One row per replica: a worker with several local devices sends its row once each.
    _, first = np.unique(gathered[:, 0], return_index=True)
    return gathered[first, 1:]


def _hash(data):
    """A 62-bit hash of bytes or text (fits an int64 collective)."""
    data = data.encode() if isinstance(data, str) else data
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 2


def _read_run_id(path, expected):
    deadline = time.monotonic() + RUN_ID_WAIT
    while True:
        try:
            with open(path) as f:
                if int(f.read().strip() or 0) == expected:
                    return True
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def check_same_run(strategy, cluster, workdir, config):
    """Refuses, on every worker alike, workers given different workdirs or configs; call
    it on every worker before the first step.

    The chief writes a new random id to the workdir (`RunDir.run_id`); every other worker must read
    that id from its own `workdir` (the same folder, on shared storage). Every field of
    `config` (a dict, `ConfigDict.to_dict()`) must be the same on every worker. Raises
    `WorkersDisagree`, one line naming each disagreement and its fix.
    """
    fields = flatten(config)
    names = sorted(fields)
    path = RunDir(workdir).run_id
    run_id = 0
    if cluster.is_chief:
        run_id = secrets.randbits(62) + 1
        # Rewritten in place, not renamed over: a shared file system may keep showing
        # another machine the file a name pointed to before.
        with open(path, "w") as f:
            f.write(str(run_id))
    first = all_gather(strategy, cluster, [run_id, _hash(json.dumps(names))])
    # The gather is also a barrier: the chief's id is on disk when it returns.
    sees = cluster.is_chief or _read_run_id(path, int(first[0, 0]))
    same_names = len(set(first[:, 1])) == 1
    hashes = [_hash(json.dumps(fields[k], sort_keys=True, default=str)) for k in names]
    second = all_gather(strategy, cluster, [int(sees), *(hashes if same_names else [])])
    problems = []
    blind = [cluster.tasks[r] for r in range(cluster.size) if not second[r, 0]]
    if blind:
        problems.append(f"{_names(blind, cluster)} {'does' if len(blind) == 1 else 'do'} "
                        f"not see the chief's workdir (the {os.path.basename(path)} it has just written "
                        f"there is not in {'its' if len(blind) == 1 else 'their'} --workdir): "
                        f"give every worker the same --workdir, on storage they all share")
    if not same_names:
        problems.append("the workers' configs have different fields (another --config "
                        "file?): give every worker the same command")
    else:
        differ = [n for i, n in enumerate(names) if len(set(second[:, 1 + i])) > 1]
        if differ:
            problems.append(f"the workers' configs differ in {', '.join(differ[:8])}"
                            f"{' ...' if len(differ) > 8 else ''}: give every worker the "
                            f"same --config and --config.* flags")
    if problems:
        raise WorkersDisagree("workers disagree, nothing was trained: " + "; ".join(problems))


def weights_checksum(variables):
    """A 62-bit checksum of the values of `variables` (`{name: variable}`)."""
    digest = hashlib.blake2b(digest_size=8)
    for name in sorted(variables):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(variables[name].numpy()).tobytes())
    return int.from_bytes(digest.digest(), "little") >> 2


def check_same_state(strategy, cluster, epoch, step, variables):
    """Refuses, on every worker alike, workers that restored different states: their
    `(epoch, step)` and a checksum of `variables` (`{name: variable}`: weights, optimizer
    slots, random states) must be the same on every worker. Call it on every worker after
    restoring, before the first step. Raises `WorkersDisagree`, one line."""
    rows = all_gather(strategy, cluster, [epoch, step, weights_checksum(variables)])
    if (rows == rows[0]).all():
        return
    states = [f"{cluster.name(t)} at epoch {rows[r, 0] + 1}, step {rows[r, 1]}"
              + (", other weights" if rows[r, 2] != rows[0, 2] else "")
              for r, t in enumerate(cluster.tasks)]
    raise WorkersDisagree(f"workers restored different states, nothing was trained: "
                          f"{'; '.join(states)}: give every worker the same --workdir, on "
                          f"storage they all share, so that all restore the chief's newest "
                          f"checkpoint")


def shard_policy(policy, files, workers):
    """`(policy, why)`: how tf.distribute splits one split's data between `workers`.

    "auto" is "file" (each worker reads whole files of its own) when the split is read
    from `files` files and there are at least as many as workers, else "data" (each
    worker reads everything and keeps every `workers`-th batch). `files` is None for data
    that is not read from files. Any other `policy` is kept. TF's own AUTO policy fails
    instead when there are fewer files than workers."""
    if policy != "auto":
        return policy, "config.data.shard_policy"
    if files is None:
        return "data", "not read from files"
    if files >= workers:
        return "file", f"{files} file{'s' if files > 1 else ''} for {workers} workers"
    return "data", f"{files} file{'s' if files > 1 else ''} for {workers} workers"


def shard_options(policy):
    """`tf.data.Options` that set only the auto-shard policy ("file", "data", "off",
    "auto"); applied last with `with_options`, they override a pipeline's own."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = getattr(
        tf.data.experimental.AutoShardPolicy, policy.upper())
    return options


def work_around_keras_multi_worker(model, strategy, local_batch):
    """Keras 3's fit fails under MultiWorkerMirroredStrategy (keras-team/keras#20585,
    tensorflow#72388) in two places, both fixed here on this model instance only:

    * before training it all-reduces the first batch to build the metrics: we build them
      from a local batch and skip that step;
    * it reduces each per-replica log with `strategy.reduce("MEAN", v, axis=0)`, which
      fails for scalars: our steps return each log as a 1-element vector, which that
      reduction averages back to a scalar.
    """
    with strategy.scope():
        # Keras internals, replacing `Model.build` / the first `fit` step (the public
        # API), which builds the metrics by all-reducing a batch and fails (above).
        model._symbolic_build(data_batch=local_batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    train_step, test_step = model.train_step, model.test_step
    model.train_step = lambda data: {k: tf.reshape(v, [1]) for k, v in train_step(data).items()}
    model.test_step = lambda data: {k: tf.reshape(v, [1]) for k, v in test_step(data).items()}


# ---------------------------------------------------------------------------- sharding

def shard_policies(config, d, workers, steps, log=print):
    """The auto-shard policies `(training, validation)` of a multi-worker run, `log`ged in
    one line. Training: `shard_policy` of config.data.shard_policy and the training
    files, where file sharding also needs every worker's files to hold its `steps`
    batches of batch_size / workers images, whichever files it gets. Validation: always
    data sharding (see below)."""
    policy = config.data.shard_policy
    if config.batch_size % workers:
        raise ValueError(f"config.batch_size ({config.batch_size}, the global batch) must be "
                         f"a multiple of the {workers} workers")
    files = _train_files(config, d)
    train, why_train = shard_policy(policy, files and len(files), workers)
    # Validation is one pass that must see each image once: Keras runs as many steps as
    # the pass has global batches, which only data sharding gives every worker (by file,
    # uneven files leave one worker short: the pass ends early and some images are never
    # evaluated).
    val, why_val = "data", "one pass over every image"
    if train == "file":
        # Each worker gets len // workers files at least; the smallest ones, at worst.
        sizes = sorted(count_examples(f) if isinstance(f, str) else f.take for f in files)
        least = sum(sizes[:len(sizes) // workers])
        need = steps * config.batch_size // workers
        if least < need and policy == "auto":
            train, why_train = "data", (f"file sharding could leave a worker {least:,} "
                                        f"images for its {need:,} per epoch")
        elif least < need:
            raise ValueError(f"config.data.shard_policy is file, but a worker could get only "
                             f"{least:,} training images for the {need:,} an epoch needs of "
                             f"it: set data.shard_policy to auto or data, or split the data "
                             f"into more, even files")
    log(f"sharding over {workers} workers (data.shard_policy {policy}): training by "
        f"{train} ({why_train}), validation by {val} ({why_val})")
    return train, val


def _train_files(config, d):
    """The files (for tfds, the file instructions) the training data is read from; None
    for data not read from files."""
    if d.patterns:  # TFRecords: training, validation
        return data.shard_files(d.patterns[0])
    if config.data.source == "tfds":
        name = config.data.train
        if str(name).startswith(data.TFDS_PREFIX):  # the tools' syntax, as make_data takes it
            name = data.tfds_path(name, None)[0]
        builder = data.tfds_builder(name, config.data.data_dir)
        return list(builder.info.splits[config.data.train_split].file_instructions)
    return None


# ---------------------------------------------------------------------------- runtime

class MultiWorkerRuntime(Runtime):
    """A worker of a multi-worker cluster (`alexnet_tf.runtime.Runtime`). Only the chief
    writes to the workdir; another worker's own files (its copy of built data, checkpoint
    copies it deletes at once) go to a folder of its own there (`RunDir.worker`)."""

    def __init__(self, strategy, cluster, workdir, on_lost, peer_watch=True):
        super().__init__(strategy, None, workdir)
        self.cluster, self.on_lost = cluster, on_lost or exit_lost
        self.peer_watch = peer_watch
        self.is_chief, self.workers = cluster.is_chief, cluster.size
        if not self.is_chief:
            self.out = self.run.worker(cluster.task[1]).makedirs()
        self._watch = None

    @classmethod
    def create(cls, config, workdir, on_lost=None):
        """Forms the cluster of TF_CONFIG. A thread then watches the other workers
        (`PeerWatch`, during `guard`, unless config.peer_watch is false) and, when one is lost while this one works alone,
        calls `on_lost(WorkerLost)`, which must end the process (default: `exit_lost`,
        one line and exit status 1)."""
        cluster = Cluster.from_env()
        strategy = multi_worker_strategy(cluster, config.get("peer_timeout", PEER_TIMEOUT))
        runtime = cls(strategy, cluster, workdir, on_lost, config.get("peer_watch", True))
        if not cluster.is_chief:
            print(f"{cluster.name()}: the chief, {cluster.name(cluster.tasks[0])}, prints the "
                  f"progress and writes the checkpoints, logs and model to {workdir}; this "
                  f"worker prints only errors and writes only to {runtime.out.path} (its "
                  f"copy of built data, and checkpoint copies it deletes at once)", flush=True)
        return runtime

    @contextlib.contextmanager
    def guard(self, resume_from):
        watch = (PeerWatch(self.cluster, self.on_lost, resume_from) if self.peer_watch
                 else contextlib.nullcontext())
        with report_lost_workers(self.cluster, resume_from), watch:
            self._watch = watch if self.peer_watch else None
            yield

    def agree_on_run(self, config):
        check_same_run(self.strategy, self.cluster, self.run.path, config.to_dict())

    def split(self, config, d, steps):
        train, val = shard_policies(config, d, self.workers, steps, self.say)
        # Under file sharding each worker reads only its own files, and tf.distribute
        # splits every batch a worker reads into one batch per worker, all of them its
        # own: a step then takes batch_size / workers images of the worker's files.
        return train, val, (config.batch_size // self.workers if train == "file" else None)

    def shard(self, dataset, policy):
        return dataset.with_options(shard_options(policy))

    def prepare(self, model, batch):
        work_around_keras_multi_worker(model, self.strategy, batch)

    def agree_on_state(self, epoch, step, variables):
        check_same_state(self.strategy, self.cluster, epoch, step, variables)

    def barrier(self):
        # A worker done first waits here for the others' last callbacks, so that no watch
        # sees a peer end normally; the chief then exports alone.
        all_gather(self.strategy, self.cluster, [])
        if self._watch:
            self._watch.stop()
