"""Studies: Python files whose `get_study()` names a base config, variants, seeds and the
paper's numbers; run and reported by tools/study.py (see alexnet_tf/study.py)."""
