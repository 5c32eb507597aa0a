"""Model performance on ground-truth labels, and estimated while labels are pending (task-side: heavy imports).

- :mod:`~watchkeeper.performance.metrics`: metrics registered by name per task type
  (:func:`compute_metrics`, :func:`get_metric`, :func:`available_metrics`);
- :mod:`~watchkeeper.performance.labels`: label normalisation and validation (:func:`validate_labels`);
- :mod:`~watchkeeper.performance.intervals`: Wilson and bootstrap confidence intervals
  (:func:`confidence_intervals`);
- :mod:`~watchkeeper.performance.evaluate`: all of the above for one window (:func:`evaluate`);
- :mod:`~watchkeeper.performance.segments`: segments clearly worse than the rest (:func:`segment_findings`);
- :mod:`~watchkeeper.performance.detectors`: slow declines in a metric's history (:func:`detect`);
- :mod:`~watchkeeper.performance.estimation`: CBPE-like estimates without labels (:class:`Calibrator`,
  :func:`estimate_performance`).

``docs/performance.md`` documents every metric, test and detector.
"""

from watchkeeper.performance.detectors import (
    ChangeResult,
    Detector,
    available_detectors,
    detect,
    get_detector,
    register_detector,
)
from watchkeeper.performance.estimation import ESTIMATED_METRICS, Calibrator, estimate_performance
from watchkeeper.performance.evaluate import WindowPerformance, evaluate
from watchkeeper.performance.intervals import Interval, confidence_intervals, wilson_interval
from watchkeeper.performance.labels import LabelReport, known_classes, normalize_label, validate_labels
from watchkeeper.performance.metrics import (
    Metric,
    MetricValue,
    available_metrics,
    compute_metrics,
    get_metric,
    metric_info,
    prepare,
    register_metric,
)
from watchkeeper.performance.segments import DEFAULT_SEGMENT_METRIC, SegmentResult, holm_adjust, segment_findings

__all__ = [
    "DEFAULT_SEGMENT_METRIC",
    "ESTIMATED_METRICS",
    "Calibrator",
    "ChangeResult",
    "Detector",
    "Interval",
    "LabelReport",
    "Metric",
    "MetricValue",
    "SegmentResult",
    "WindowPerformance",
    "available_detectors",
    "available_metrics",
    "compute_metrics",
    "confidence_intervals",
    "detect",
    "estimate_performance",
    "evaluate",
    "get_detector",
    "get_metric",
    "holm_adjust",
    "known_classes",
    "metric_info",
    "normalize_label",
    "prepare",
    "register_detector",
    "register_metric",
    "segment_findings",
    "validate_labels",
    "wilson_interval",
]
