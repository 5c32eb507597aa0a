"""Run NannyML's UnivariateDriftCalculator on one window (run with the nannyml virtualenv's python).

Fit on the reference, then calculate on the window (one chunk); prints one JSON line with the timings.
"""

import json
import sys
import time

import nannyml as nml
import pandas as pd

reference_path, window_path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
reference = pd.read_parquet(reference_path)
window = pd.read_parquet(window_path)
features = [c for c in reference.columns if c.startswith(("num_", "cat_"))]
t_read = time.perf_counter()
calc = nml.UnivariateDriftCalculator(
    column_names=features,
    continuous_methods=["kolmogorov_smirnov", "jensen_shannon"],
    categorical_methods=["chi2", "jensen_shannon"],
    chunk_number=1,
)
calc.fit(reference[features])
t_fit = time.perf_counter()
result = calc.calculate(window[features])
t_calc = time.perf_counter()
frame = result.filter(period="analysis").to_df()
alerts = int(sum(frame[c].sum() for c in frame.columns if c[-1] == "alert"))
print(json.dumps({"read_s": t_read - t0, "fit_s": t_fit - t_read, "calculate_s": t_calc - t_fit, "alerts": alerts}))
