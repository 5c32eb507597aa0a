"""What ``watchkeeper validate`` checks beyond loading a config: the parts that need data or Airflow.

Loading (``watchkeeper.config.load_configs``, the same function the DAG files call) already checks the
schema, every name (schedules, rule keys, drift tests...) and duplicates. Here, for each loaded
config: the source files exist; every configured column is in the prediction log's schema, features
are in the reference data, and label columns are where they are joined (schemas are read cheaply:
Parquet footers, CSV headers; SQL sources are not queried); the GX suite parses and dry-runs on a
sample of the reference; the model's DAGs build and pass Airflow's validation exactly as the DAG
processor will build them; the retraining DAG exists. Each check is contained: one that crashes is
reported as a problem of that config, never a traceback.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchkeeper.alerting.checks import sink_problems
from watchkeeper.config import LoadedConfig, TaskType
from watchkeeper.config.sources import CsvSource, ParquetSource
from watchkeeper.exceptions import WatchkeeperError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Columns:
    """Column names of a data source and what to call it in messages."""

    names: list[str]
    where: str

    def problem(self, path: Path, field: str, column: str, what: str = "") -> str | None:
        """``file: field: column 'x' is not in <where> -- did you mean 'y'?``, or None when present."""
        if column in self.names:
            return None
        close = difflib.get_close_matches(column, self.names, n=1)
        fix = f"did you mean '{close[0]}'?" if close else f"{what or 'fix the column name'} (columns: "
        if not close:
            shown = ", ".join(self.names[:12]) + (", ..." if len(self.names) > 12 else "")
            fix += f"{shown})"
        return f"{path}: {field}: column '{column}' is not in {self.where} -- {fix}"


def schema_of(source: Any, base: Path, label: str) -> Columns | None:
    """Columns of a csv/parquet source from its newest file, read cheaply; None for SQL or when no file exists."""
    if not isinstance(source, CsvSource | ParquetSource):
        return None  # a SQL source is not queried by validate
    from watchkeeper.sources import expand_files

    try:
        files = expand_files(source, base)
    except WatchkeeperError:
        return None  # reported by the file check
    newest = os.path.normpath(files[-1])
    if source.kind == "parquet":
        import pyarrow.parquet as pq

        names = list(pq.read_schema(newest).names)
    else:
        import pandas as pd

        names = [str(c) for c in pd.read_csv(newest, nrows=0).columns]
    return Columns(names, f"{label} ({newest})")


def file_problems(loaded: LoadedConfig) -> list[str]:
    """A csv/parquet source whose path matches no file."""
    from watchkeeper.sources import expand_files

    model = loaded.model
    sources = [("predictions.source", model.predictions.source), ("reference.source", model.reference.source)]
    if model.performance is not None:
        sources.append(("performance.labels.source", model.performance.labels.source))
    problems = []
    for field, source in sources:
        if isinstance(source, CsvSource | ParquetSource):
            try:
                expand_files(source, loaded.base_dir)
            except WatchkeeperError as exc:
                problems.append(f"{loaded.path}: {field}.path: {exc}")
    return problems


def column_problems(
    loaded: LoadedConfig, reference: Columns | None, log_schema: Columns | None, labels: Columns | None
) -> list[str]:
    """Every configured column checked where it is read, with "did you mean".

    The prediction log must hold every role column, per-class score column and feature; the reference
    every feature (and, with labels, the label and prediction columns its reference performance needs);
    the labels source its id and label columns. A role column missing from the reference is only
    reported when a near match shows a typo: a reference may legitimately hold no predictions.
    """
    model = loaded.model
    log_cfg = model.predictions
    path = loaded.path
    found: list[str | None] = []
    roles = {f"predictions.{role}": col for role, col in log_cfg.role_columns().items() if col is not None}
    roles |= {f"predictions.scores.{label}": col for label, col in log_cfg.score_columns().items()}
    features = {f"predictions.features.{name}": name for name in log_cfg.features}
    if log_schema is not None:
        found += [log_schema.problem(path, field, col) for field, col in {**roles, **features}.items()]
    if reference is not None:
        found += [
            reference.problem(path, field, col, "add it to the reference data or remove the feature")
            for field, col in features.items()
        ]
        needed = {}
        if model.performance is not None:
            needed = {"performance.labels.label": model.performance.labels.label}
            needed["predictions.prediction"] = log_cfg.prediction
            if model.task is TaskType.BINARY_CLASSIFICATION and log_cfg.score:
                needed["predictions.score"] = log_cfg.score
        why = "the reference performance (the baseline of performance rules) is computed from it"
        found += [reference.problem(path, field, col, f"add it: {why}") for field, col in needed.items()]
        for field, col in roles.items():
            typo = col not in reference.names and difflib.get_close_matches(col, reference.names, n=1)
            if field not in needed and typo:
                found.append(reference.problem(path, field, col))
    if labels is not None and model.performance is not None:
        found += [
            labels.problem(path, "performance.labels.id", model.performance.labels.id),
            labels.problem(path, "performance.labels.label", model.performance.labels.label),
        ]
    return list(dict.fromkeys(p for p in found if p is not None))


def schema_problems(loaded: LoadedConfig) -> list[str]:
    """:func:`column_problems` on the schemas of the reference, the prediction log and the labels."""
    model = loaded.model
    base = loaded.base_dir
    reference = schema_of(model.reference.source, base, "the reference data")
    log_schema = schema_of(model.predictions.source, base, "the prediction log")
    labels = None
    if model.performance is not None:
        labels = schema_of(model.performance.labels.source, base, "the labels")
    return column_problems(loaded, reference, log_schema, labels)


def suite_problems(loaded: LoadedConfig) -> list[str]:
    """The GX suite parsed and dry-run on a sample of the reference (``gx_suite.dry_run_suite``)."""
    if loaded.model.quality.suite is None:
        return []
    from watchkeeper import gx_suite

    try:
        from watchkeeper.sources import read_reference

        reference = read_reference(loaded)
    except WatchkeeperError:  # the reference is reported elsewhere: still parse the suite
        try:
            gx_suite.parse_suite(loaded)
        except WatchkeeperError as exc:
            text = str(exc)
            return [text if text.startswith(str(loaded.path)) else f"{loaded.path}: quality.suite: {text}"]
        return []
    return gx_suite.dry_run_suite(loaded, reference)


def probability_problems(loaded: LoadedConfig) -> list[str]:
    """Multiclass ``predictions.scores`` on the reference: every probability within [0, 1], each row's
    probabilities summing to 1 (``quality.probability_tolerance``), and every class of the reference's
    labels and predictions with a probability column."""
    model = loaded.model
    scores = model.predictions.score_columns()
    if model.task is not TaskType.MULTICLASS_CLASSIFICATION or not scores:
        return []
    from watchkeeper.performance.labels import normalize_labels
    from watchkeeper.profile.probabilities import ProbabilityCounts
    from watchkeeper.sources import read_reference

    try:
        reference = read_reference(loaded)
    except WatchkeeperError:  # reported by file_problems / schema_problems
        return []
    where = f"{loaded.path}: predictions.scores"
    problems = []
    counts = ProbabilityCounts(model.quality.probability_tolerance)
    counts.add_frame(reference, list(scores.values()))
    if counts.out_of_range:
        problems.append(
            f"{where}: {counts.out_of_range} of {counts.checked} reference rows have a class probability outside "
            "[0, 1] -- name the per-class probability columns (softmax outputs), not logits or scores"
        )
    if counts.off:
        problems.append(
            f"{where}: {counts.off} of {counts.checked} reference rows have class probabilities that do not sum "
            f"to 1 (+/- {counts.tolerance:g}; worst off by {counts.worst_sum_error:.3g}) -- list one column per "
            "class, every class, or raise quality.probability_tolerance if the log rounds them"
        )
    columns = {"predictions.prediction": model.predictions.prediction}
    if model.performance is not None:
        columns["performance.labels.label"] = model.performance.labels.label
    for field_name, column in columns.items():
        if column not in reference.columns:
            continue
        seen = {v for v in normalize_labels(reference[column]) if v is not None}
        orphans = sorted(seen - set(scores))
        if orphans:
            problems.append(
                f"{where}: the reference's {field_name} ({column!r}) holds class(es) {orphans[:10]} with no "
                f"probability column -- add them to predictions.scores (class: column); known: {sorted(scores)}"
            )
    return problems


def dag_problems(loaded: LoadedConfig) -> list[str]:
    """The model's DAGs built and validated exactly as the DAG files build them."""
    from watchkeeper.airflow.dag_builder import build_model_dags

    try:
        build_model_dags(loaded)
    except Exception as exc:
        return [f"{loaded.path}: (dag): Airflow rejected the model's DAG: {type(exc).__name__}: {str(exc)[:300]}"]
    return []


_DAG_IDS: dict[Path, set[str]] = {}


def dag_ids_near(loaded: LoadedConfig) -> set[str] | None:
    """DAG ids defined by the user's DAG files next to the config folder (``dags/*.py`` for ``dags/models``).

    Each file is parsed once with Airflow's DagBag; Watchkeeper's own shard files are skipped (they only
    define model DAGs). None when the config does not live in a DAG folder.
    """
    folder = loaded.path.resolve().parent.parent
    files = sorted(folder.glob("*.py"))
    if not files:
        return None
    if folder not in _DAG_IDS:
        from airflow.dag_processing.dagbag import DagBag

        ids: set[str] = set()
        for file in files:
            ids |= set(DagBag(dag_folder=str(file)).dag_ids)
        _DAG_IDS[folder] = ids
    return _DAG_IDS[folder]


def retraining_problems(loaded: LoadedConfig) -> list[str]:
    """A retraining DAG id that no DAG file defines."""
    retrain = loaded.model.retraining.dag_id
    known = dag_ids_near(loaded) if retrain else None
    if not retrain or known is None or retrain in known:
        return []
    close = difflib.get_close_matches(retrain, sorted(known), n=1)
    fix = f"did you mean '{close[0]}'?" if close else "create that DAG or fix the id"
    return [f"{loaded.path}: retraining.dag_id: no DAG '{retrain}' in {loaded.path.parent.parent} -- {fix}"]


#: The checks of :func:`deep_problems`, in order.
CHECKS: tuple[Callable[[LoadedConfig], list[str]], ...] = (
    file_problems,
    schema_problems,
    suite_problems,
    probability_problems,
    dag_problems,
    retraining_problems,
    sink_problems,
)


def deep_problems(loaded: LoadedConfig) -> list[str]:
    """Every problem of a loaded config that needs data, the GX suite or Airflow; one crashing check is one problem."""
    problems: list[str] = []
    for check in CHECKS:
        try:
            problems += check(loaded)
        except WatchkeeperError as exc:
            text = str(exc)
            problems.append(text if text.startswith(str(loaded.path)) else f"{loaded.path}: ({check.__name__}): {text}")
        except Exception as exc:  # a check that crashes is this config's problem, never a traceback
            log.debug("validate check %s crashed on %s", check.__name__, loaded.path, exc_info=True)
            first = (str(exc).splitlines() or [""])[0][:300]
            problems.append(
                f"{loaded.path}: ({check.__name__.removesuffix('_problems')}): could not be checked: "
                f"{type(exc).__name__}: {first} -- fix the file it names, or run with -v for details"
            )
    return problems
