"""Where this process stands in a run, decided once from `config.strategy`: the `Runtime`.

It answers what `alexnet_tf.train` asks of the strategy: the `tf.distribute` strategy and
the towers' devices, whether this process is the chief (the one that prints progress and
writes the run's files), where this process writes, how each split's data is divided
between workers, the checks every worker must pass together, and the barrier at the end.
One process alone (`default`, `towers`, `mirrored`) is `Runtime`; a worker of a
multi-worker cluster is `alexnet_tf.multiworker.MultiWorkerRuntime`, and that module (TCP
probes, a watchdog thread, TF's coordination service) is imported only for that strategy.
"""
import contextlib

from alexnet_tf import distribute
from alexnet_tf.rundir import RunDir


class Runtime:
    """A run trained by this process alone: the chief, writing to the workdir itself."""
    is_chief = True
    workers = 1

    def __init__(self, strategy, devices, workdir):
        self.strategy, self.devices = strategy, devices
        self.run = RunDir(workdir).makedirs()  # the run's workdir
        self.out = self.run                    # where this process writes

    def say(self, *args, **kwargs):
        """`print`, on the chief only: other workers print only errors."""
        if self.is_chief:
            print(*args, **kwargs)

    def guard(self, resume_from):
        """A context for the whole of training: turns a lost worker into one line.
        `resume_from()` says, in words, where a restart resumes."""
        return contextlib.nullcontext()

    def agree_on_run(self, config):
        """Before anything is built: every worker trains the same config in one workdir."""

    def split(self, config, d, steps):
        """How `d` (an `inputs.TrainData`) is divided between workers: `(training policy,
        validation policy, per-worker batch or None)`; None: not divided."""
        return None, None, None

    def shard(self, dataset, policy):
        """`dataset` with the auto-shard `policy` of `split` applied."""
        return dataset

    def prepare(self, model, batch):
        """After compiling: whatever the strategy needs of the model (`batch`: one local
        batch of validation data)."""

    def agree_on_state(self, epoch, step, variables):
        """After restoring: every worker goes on from the same state."""

    def barrier(self):
        """At the end of training, before the chief alone exports: every worker is done."""


def create(config, workdir, on_lost=None):
    """The `Runtime` of `config.strategy`; under `multi_worker` this forms the cluster
    (`alexnet_tf.multiworker.MultiWorkerRuntime`, where `on_lost` is explained)."""
    if config.strategy == "multi_worker":
        from alexnet_tf import multiworker
        return multiworker.MultiWorkerRuntime.create(config, workdir, on_lost)
    strategy, devices = distribute.get_strategy(config.strategy)
    return Runtime(strategy, devices, workdir)
