r"""The transfer study, step 1 (issue 23): the source model, the paper's net trained from
scratch on Imagenette's first five classes (set A, configs/classes/imagenette_a.txt:
tench, English springer, cassette player, chain saw, church; 4,710 training images).

    python tools/study.py --study configs/studies/transfer_source.py --workdir runs/transfer-source

Then step 2, configs/studies/transfer.py, fine-tunes this run's model on the other five
classes (set B). The recipe is configs/imagenette.py's (the paper's, with biases of 0.1)
on 112-pixel inputs (224 crops box-averaged, `model.input_downsample` 2, as the recipe
search and Study C), 30 epochs with the rate cut tenfold at epochs 20 and 26 (a fixed
schedule, shorter than the paper's 90: the source only has to give features worth
transferring, and its validation images decide nothing). One seed: every fine-tuning run
of step 2 starts from the same source.

Cost: results/transfer-source/REPORT.md gives the run's wall time and median epoch (10
minutes on 2 cores of an AMD EPYC there).
"""
import os

from configs.studies.imagenette import SHARED  # this project's copy of Imagenette

CLASSES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "classes")
SMALL = {"model.input_downsample": 2, "model.num_classes": 5, "data.select_classes": True,
         "probe_every_steps": 0, "histogram_freq": 0, "verbose": 2}  # every transfer run


def data(classes):
    """Imagenette's images of the classes in `classes` (a file of configs/classes)."""
    return {"data.train": os.path.join(SHARED, "train"),
            "data.validation": os.path.join(SHARED, "val"),
            "data.classes": os.path.join(CLASSES, classes)}


def get_study():
    return dict(
        description="The source of the transfer study: the paper's net and recipe (biases "
                    "0.1, 112-pixel inputs) trained from scratch on 5 Imagenette classes "
                    "(set A), 30 epochs, lr 0.01 cut at epochs 20 and 26.",
        base="imagenette.py",
        overrides={**data("imagenette_a.txt"), **SMALL, "epochs": 30,
                   "optimizer.schedule": "step", "optimizer.step_epochs": (20, 26)},
        variants={"a": {}},
        seeds=[0],
    )
