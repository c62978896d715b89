r"""Study B at 112 pixels (issue 21): Study B (configs/studies/imagenette.py) with one more
departure, the 224 crops box-averaged to 112 pixels inside the net
(`model.input_downsample` 2, as in the recipe search, Study C and the transfer study),
so that a seed to the paper's length takes under an hour on 2 CPU cores. Everything else
is Study B's: configs/imagenette.py's recipe (the paper's start with biases of 0.1), the
rate cut tenfold on a plateau of the 5-epoch mean validation error 3 times, the run ended
at the next plateau or after 90 epochs, two seeds.

    python tools/study.py --study configs/studies/imagenette_112.py \
        --workdir runs/study-imagenette-112
    python tools/study.py --workdir runs/study-imagenette-112 \
        --study configs/studies/imagenette_112.py --report --evaluate \
        --results results/study-imagenette-112

What the smaller input changes: conv1 sees each kernel's 11x11 window over a 22x22-pixel
patch of the 224 crop, and conv5's maps are 6x6 -> 2x2 after the last pooling (fc6 has
1,024 inputs against the paper's 9,216): 23,354,762 weights with the 10-way fc8, against
56,909,194 at 224 pixels. This is not the paper's network; it is the paper's recipe on a
smaller net, run to its length.

Cost: results/study-imagenette-112/REPORT.md gives each seed's wall time and median epoch
(28 and 45 minutes on 2 cores of an AMD EPYC, the second beside a test run).
"""
from configs.studies import imagenette


def get_study():
    study = imagenette.get_study()
    study["description"] = ("Study B at 112 pixels (224 crops box-averaged inside the net, "
                            "model.input_downsample 2, so fc6 has 1,024 inputs): "
                            + study["description"])
    study["overrides"] = {**study["overrides"], "model.input_downsample": 2}
    return study
