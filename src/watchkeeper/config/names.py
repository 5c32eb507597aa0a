"""Names in a config resolved against the light catalogs when it loads, with "did you mean".

A rule keyed by a metric the monitor never produces would silently never fire: the user would
believe in an alert that does not exist. Imported at DAG parse time: catalogs only, nothing heavy.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Annotated

from pydantic import AfterValidator

from watchkeeper.catalogs.monitor import FAMILIES, METRICS, known_metric, suggest
from watchkeeper.config.common import FieldError

_KEY_RE = re.compile(r"^(?P<family>[^.\[\]]+)\.(?P<metric>[^\[\]]+)(\[(?P<subject>[^\]]*)\])?$")
#: Quality metrics computed per feature: their subject is a feature name.
PER_FEATURE_QUALITY = frozenset({"missing_share", "out_of_range_share", "nonfinite_count", "unseen_category_share"})


def check_rule_key(key: str) -> str:
    """``key`` if it names a metric the monitor produces (``family.metric`` or ``family.metric[subject]``)."""
    match = _KEY_RE.match(key)
    if not match:
        raise ValueError(
            f"rules key {key!r} is not 'check.metric' or 'check.metric[subject]' -- "
            "e.g. 'service.latency_p95_ms' or 'drift.psi[amount]'"
        )
    family, metric = match.group("family"), match.group("metric")
    if family not in FAMILIES:
        raise ValueError(f"unknown check family '{family}' in rules key {key!r} -- {suggest(family, FAMILIES)}")
    if not known_metric(family, metric):
        raise ValueError(
            f"'{metric}' is not a metric of the {family} checks, so this rule would never fire -- "
            f"{suggest(metric, METRICS[family])}"
        )
    return key


def check_rule_subject(key: str, features: Collection[str]) -> None:
    """Raise :class:`FieldError` when a per-feature rule key names a feature the model does not have."""
    match = _KEY_RE.match(key)
    if not match or match.group("subject") is None:
        return
    family, metric, subject = match.group("family"), match.group("metric"), match.group("subject")
    per_feature = family == "drift" or (family == "quality" and metric in PER_FEATURE_QUALITY)
    if per_feature and subject not in features:
        names = tuple(sorted(features))
        raise FieldError(
            f"rules.{key}",
            f"'{subject}' is not a feature of predictions.features, so this rule would never fire -- "
            f"{suggest(subject, names)}",
        )


#: A ``rules`` key, checked against the catalog as the config loads.
RuleKey = Annotated[str, AfterValidator(check_rule_key)]
