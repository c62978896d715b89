r"""The transfer study, step 2 (issue 23): what fine-tuning buys at each data size.
Imagenette's other five classes (set B, configs/classes/imagenette_b.txt: French horn,
garbage truck, gas pump, golf ball, parachute) with 10, 50 and all (about 950) training
images per class: the net fine-tuned from the source model of step 1
(configs/studies/transfer_source.py, trained on set A) against the same net trained on B
from scratch, at equal steps; two seeds; B's validation error (its 1,991 validation
images, all of them in every run).

    python tools/study.py --study configs/studies/transfer_source.py --workdir runs/transfer-source
    python tools/study.py --study configs/studies/transfer.py --workdir runs/transfer
    python tools/study.py --workdir runs/transfer --study configs/studies/transfer.py \
        --report --results results/transfer

The source is the repository's `runs/transfer-source/a/seed-0` (the first command's run),
or the workdir in the environment variable ALEXNET_TRANSFER_SOURCE (a study whose runs
started with one source refuses another).

Every run: the paper's net on 112-pixel inputs, 5 classes, batch 50 (so that 10 images
per class make a batch), the images of each class drawn by the seed
(`data.train_per_class`: the two arms of a size and seed train on the same images), a
fixed schedule, the rate cut tenfold after 80 % of the steps, validation every few
epochs where epochs are one to five steps long (`validation_every`):

    images per class   steps an epoch   epochs   steps   validated every
    10                 1                300      300     30 epochs
    50                 5                100      500     10 epochs
    all (~950)         95               20       1,900   epoch

    finetune_N   from the source: every layer trains, fc8 new (other classes) with 10x
                 the rate (Caffe's lr_mult, configs/finetune.py), lr 0.001, the source's
                 mean and PCA statistics
    scratch_N    configs/imagenette.py's start (N(0, 0.01), biases 0.1), lr 0.01

The report compares each finetune_N with scratch_N (`baseline` pairs). Cost: the 12
runs, one at a time, took 53 minutes on 2 cores of an AMD EPYC, part of it beside a test
run (each run's wall time is in results/transfer/REPORT.md).
"""
import os

from configs.studies.transfer_source import SMALL, data

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCE = os.path.abspath(os.environ.get("ALEXNET_TRANSFER_SOURCE", os.path.join(
    ROOT, "runs", "transfer-source", "a", "seed-0")))  # the repository's runs/ by default
SIZES = {"10": (10, 300, 30), "50": (50, 100, 10), "all": (None, 20, 1)}  # per class, epochs,
                                                                           # validation every


def get_study():
    variants, pairs = {}, {}
    for name, (per_class, epochs, every) in SIZES.items():
        common = {"epochs": epochs, "validation_every": every,
                  "optimizer.step_epochs": (round(0.8 * epochs),),
                  **({"data.train_per_class": per_class} if per_class else {})}
        variants[f"finetune_{name}"] = {**common, "finetune.init_from": SOURCE,
                                        "finetune.lr_mult": "fc8=10",
                                        "optimizer.learning_rate": 0.001}
        variants[f"scratch_{name}"] = common
        pairs[f"finetune_{name}"] = f"scratch_{name}"
    return dict(
        description="Transfer from 5 Imagenette classes (A) to the other 5 (B): fine-tuned "
                    "from the A model against from scratch, at equal steps, with 10, 50 and "
                    "all training images per class of B; 112-pixel inputs, batch 50, two "
                    "seeds.",
        base="imagenette.py",
        overrides={**data("imagenette_b.txt"), **SMALL, "batch_size": 50,
                   "optimizer.schedule": "step"},
        variants=variants,
        baseline=pairs,
        seeds=[0, 1],
    )
