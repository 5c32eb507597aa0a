"""What each peer script reads first: the reference and the window named on its command line.

Imported by ``run_*.py`` inside the peers' own virtualenvs (the script's folder is on ``sys.path``): pandas
and the standard library only.
"""

import sys
import time

import pandas as pd


def read_input() -> tuple[pd.DataFrame, pd.DataFrame, list[str], float]:
    """The reference and the window (``argv[1]``, ``argv[2]``), their feature columns and the reading's seconds."""
    start = time.perf_counter()
    reference = pd.read_parquet(sys.argv[1])
    window = pd.read_parquet(sys.argv[2])
    features = [c for c in reference.columns if c.startswith(("num_", "cat_"))]
    return reference, window, features, time.perf_counter() - start
