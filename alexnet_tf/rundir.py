"""The files of a training run's workdir, named in this module only.

    DIR/checkpoints/        TF checkpoints (`alexnet_tf.checkpoint`): the two newest
    DIR/logs/               TensorBoard (`alexnet_tf.monitor`), runs train/ and validation/:
                            scalars, weight histograms, conv1 kernels (Fig. 3), graph,
                            text, hyperparameters
    DIR/data/               images or generated data built into TFRecords on the first run
    DIR/config.json         the config the run started with (a resume must match it:
                            `alexnet_tf.checkpoint.check_resume_config`)
    DIR/model.keras         the trained `Classifier` (uint8 256x256 images -> logits)
    DIR/classes.txt         its classes (wnid and name), index = line - 1
    DIR/saved_model/        the same as a serving TF SavedModel (`alexnet_tf.export`)
    DIR/history.json        per-epoch metrics
    DIR/resources.json      wall time and peak memory of the process that finished the run
    DIR/conv1_init.npy      conv1's kernel at step 0 (`alexnet_tf.probe`)
    DIR/probe.json          with config.probe_every_steps: per-layer scales
    DIR/study_run.json      a study's run (`alexnet_tf.study`): its command and attempts
    DIR/train.log           a study's run: the output of its train command
    DIR/evaluation.json     a study's run after `--evaluate` (`alexnet_tf.report`)
    DIR/.run-id             multi_worker: the id the chief writes at each start
    DIR/.worker-N/          multi_worker: what worker N (not the chief) writes, laid out
                            like DIR itself
"""
import dataclasses
import os

from alexnet_tf.files import read_json

MODEL_FILE = "model.keras"
CLASSES_FILE = "classes.txt"
SAVED_MODEL_DIR = "saved_model"
SAVED_MODEL_PB = "saved_model.pb"  # TF's own name for a SavedModel's graph


@dataclasses.dataclass(frozen=True)
class RunDir:
    """A run's workdir `path` and the path of each file in it."""
    path: str

    def _join(self, name):
        return os.path.join(self.path, name)

    checkpoints = property(lambda self: self._join("checkpoints"))
    tmp_checkpoints = property(lambda self: self._join("tmp-checkpoints"))
    logs = property(lambda self: self._join("logs"))
    data = property(lambda self: self._join("data"))
    config = property(lambda self: self._join("config.json"))
    model = property(lambda self: self._join(MODEL_FILE))
    classes = property(lambda self: self._join(CLASSES_FILE))
    saved_model = property(lambda self: self._join(SAVED_MODEL_DIR))
    history = property(lambda self: self._join("history.json"))
    resources = property(lambda self: self._join("resources.json"))
    conv1_init = property(lambda self: self._join("conv1_init.npy"))
    probe = property(lambda self: self._join("probe.json"))
    study_run = property(lambda self: self._join("study_run.json"))
    train_log = property(lambda self: self._join("train.log"))
    evaluation = property(lambda self: self._join("evaluation.json"))
    run_id = property(lambda self: self._join(".run-id"))

    def worker(self, index):
        """The folder of worker `index` (not the chief) under multi_worker."""
        return RunDir(self._join(f".worker-{index}"))

    def read_history(self):
        """The per-epoch metrics, [] if there are none yet."""
        return read_json(self.history, [])

    def read_config(self):
        """The config the run started with (a dict), None if it has not started."""
        return read_json(self.config)

    def makedirs(self):
        os.makedirs(self.path, exist_ok=True)
        return self

    def result_files(self):
        """The small files of the run a study commits (`report.copy_results`): records,
        no model, images or checkpoints."""
        return [self.history, self.config, self.evaluation, self.probe, self.resources]


def model_beside(path):
    """The model file of a workdir `path`, or `path` itself."""
    run = RunDir(path)
    return run.model if os.path.isdir(path) and os.path.exists(run.model) else path


def classes_beside(model_file):
    """The class list beside a model file (a workdir's, or any .keras file's)."""
    return os.path.join(os.path.dirname(model_file), CLASSES_FILE)


def saved_model_folder(path):
    """The serving SavedModel at `path`: the folder itself if it holds TF's graph file,
    else a workdir's SavedModel; None if neither is one."""
    path = os.fspath(path)
    for folder in (path, RunDir(path).saved_model):
        if os.path.isfile(os.path.join(folder, SAVED_MODEL_PB)):
            return folder
    return None
