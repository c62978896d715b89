r"""A test study: configs/tiny.py with and without local response normalization, two seeds,
two epochs each (seconds per run on a CPU).

    python tools/study.py --study configs/studies/tiny.py --workdir runs/study-tiny
    python tools/study.py --workdir runs/study-tiny --report
"""


def get_study():
    return dict(
        description="Response normalization on the tiny net (a test of the study runner, "
                    "not of the paper: 32 images are far too few to show the effect).",
        base="tiny.py",
        overrides={"epochs": 2, "histogram_freq": 0},
        variants={
            "baseline": {},
            "no_lrn": {"model.lrn": False},
        },
        seeds=[0, 1],
        # Sec. 3.3: "Response normalization reduces our top-1 and top-5 error rates by 1.4%
        # and 1.2%", so removing it raises the top-1 error by 1.4 points.
        paper_effects={"no_lrn": {"top1": +0.014, "text": "LRN reduces top-1 error by 1.4 %"}},
        threshold=0.25,
    )
