"""Detection beyond fixed per-feature thresholds (task-side: imports numpy/pandas).

:mod:`~watchkeeper.detection.bands` learns the range a statistic takes on the reference's own window-sized
chunks; :mod:`~watchkeeper.detection.multivariate` detects changes in the joint distribution of the features
(PCA reconstruction error) that per-feature tests miss.
"""
