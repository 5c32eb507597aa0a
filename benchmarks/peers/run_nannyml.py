"""Run NannyML's UnivariateDriftCalculator on one window (run with the nannyml virtualenv's python).

Fit on the reference, then calculate on the window (one chunk); prints one JSON line with the timings.
"""

import json
import time

import nannyml as nml
from peer_input import read_input

reference, window, features, read_s = read_input()
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
print(json.dumps({"read_s": read_s, "fit_s": t_fit - t_read, "calculate_s": t_calc - t_fit, "alerts": alerts}))
