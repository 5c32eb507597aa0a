"""Run Evidently's DataDriftPreset on one window (run with the evidently virtualenv's python).

Prints one JSON line with the timings and the number of drifted columns.
"""

import json
import time

from evidently import Report
from evidently.presets import DataDriftPreset
from peer_input import read_input

reference, window, features, read_s = read_input()
t_read = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current_data=window[features], reference_data=reference[features])
t_run = time.perf_counter()
drifted = None
for metric in snapshot.dict().get("metrics", []):
    value = metric.get("value")
    if isinstance(value, dict) and "count" in value and "DriftedColumnsCount" in str(metric.get("metric_name", "")):
        drifted = value["count"]
print(json.dumps({"read_s": read_s, "run_s": t_run - t_read, "drifted_columns": drifted}))
