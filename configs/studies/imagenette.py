r"""Study B (issue 21): the paper's net on Imagenette (10 ImageNet classes at 224x224) with
configs/imagenette.py's recipe (the paper's start but biases of 0.1, found by the recipe
search), to the paper's length: the rate cut tenfold on a plateau of the 5-epoch mean
validation error, 3 times, and the run ended at the next plateau (Sec. 5's "reduced three
times prior to termination") or after 90 epochs. Two seeds.

    python tools/study.py --study configs/studies/imagenette.py --workdir runs/study-imagenette
    python tools/study.py --workdir runs/study-imagenette --study configs/studies/imagenette.py \
        --report --evaluate --results results/study-imagenette

Cost: about 2.5 minutes an epoch on 2 CPU cores (results/study-imagenette-he: a median
epoch of 2 min 34 s), so at most 3.8 hours a seed; the runner resumes where a workdir
survives. The images are this project's shared copy (../shared/data/imagenette2-224
beside the project root); point `overrides` elsewhere for your own copy. Each run builds
its TFRecords in its workdir on the first start (the second seed's build is its own: the
builder's shuffling depends on the seed).

The earlier Study B (He initialization, inputs / 64, 40 epochs, one seed) is kept in
results/study-imagenette-he, made with this file as of commit c92d079.
"""
import os

SHARED = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                       "..", "shared", "data", "imagenette2-224"))


def get_study():
    return dict(
        description="The paper's architecture (10-way fc8) and recipe (SGD momentum 0.9, "
                    "weight decay 5e-4, dropout, crops/flips/PCA lighting, N(0, 0.01) "
                    "weights, raw pixels minus the mean, lr /10 on plateau 3 times, ended at the next plateau or after 90 epochs) on "
                    "Imagenette's 9,469 training images, with biases of 0.1 where the paper "
                    "has 1 (configs/imagenette.py says why).",
        base="imagenette.py",
        overrides={"data.train": os.path.join(SHARED, "train"),
                   "data.validation": os.path.join(SHARED, "val"),
                   "histogram_freq": 0, "verbose": 2},
        variants={"baseline": {}},
        seeds=[0, 1],
    )
