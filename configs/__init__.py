"""Training configurations: Python files whose `get_config()` returns an ml_collections
ConfigDict. `paper.py` holds the paper's recipe; the others change a few fields of it."""
