"""Run Evidently's DataDriftPreset on one window (run with the evidently virtualenv's python).

Prints one JSON line with the timings and the number of drifted columns.
"""

import json
import sys
import time

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

reference_path, window_path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
reference = pd.read_parquet(reference_path)
window = pd.read_parquet(window_path)
features = [c for c in reference.columns if c.startswith(("num_", "cat_"))]
t_read = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current_data=window[features], reference_data=reference[features])
t_run = time.perf_counter()
drifted = None
for metric in snapshot.dict().get("metrics", []):
    value = metric.get("value")
    if isinstance(value, dict) and "count" in value and "DriftedColumnsCount" in str(metric.get("metric_name", "")):
        drifted = value["count"]
print(json.dumps({"read_s": t_read - t0, "run_s": t_run - t_read, "drifted_columns": drifted}))
