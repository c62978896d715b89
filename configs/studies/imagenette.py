r"""Study B (issue 9): the paper's net and recipe on Imagenette (10 ImageNet classes at
224x224), trained to the end of its plateau schedule.

    python tools/study.py --study configs/studies/imagenette.py --workdir runs/study-imagenette
    python tools/study.py --workdir runs/study-imagenette --study configs/studies/imagenette.py \
        --report --evaluate --results results/study-imagenette

The images are this project's shared copy (../shared/data/imagenette2-224 beside the
project root); point `overrides` elsewhere for your own copy. Each run builds its
TFRecords in its workdir on the first start.
"""
import os

SHARED = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                       "..", "shared", "data", "imagenette2-224"))


def get_study():
    return dict(
        description="The paper's architecture (10-way fc8) and recipe (SGD momentum 0.9, "
                    "weight decay 5e-4, dropout, crops/flips/PCA lighting, lr /10 on plateau) "
                    "on Imagenette's 9,469 training images; He initialization with unit-scale "
                    "inputs, as configs/imagenette.py says why.",
        base="imagenette.py",
        overrides={"data.train": os.path.join(SHARED, "train"),
                   "data.validation": os.path.join(SHARED, "val"),
                   "epochs": 40, "histogram_freq": 0, "verbose": 2},
        variants={"baseline": {}},
        seeds=[0],
    )
