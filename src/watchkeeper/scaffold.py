"""Scaffolding: ``watchkeeper init`` (a commented model config inferred from the reference data, plus a
starter GX suite) and ``watchkeeper dag-files`` (the DAG files that build every model's DAGs).

The config is written as text, not dumped, so that it carries comments saying what each line is and
what was guessed; column names that YAML would misread (spaces, ``yes``, numbers) are quoted.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from watchkeeper import settings
from watchkeeper.config import FeatureKind, TaskType, parse_config
from watchkeeper.exceptions import ConfigError

if TYPE_CHECKING:
    import pandas as pd

#: Integer columns with at most this many distinct values are categorical (codes, flags).
MAX_CODE_VALUES = 5
#: Names that mark a role column, most specific first (compared lower-cased, spaces as '_').
ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "timestamp": ("ts", "timestamp", "prediction_time", "event_time", "created_at", "time", "datetime", "date"),
    "id": ("prediction_id", "request_id", "id", "uuid", "event_id", "row_id"),
    "prediction": ("predicted_label", "prediction", "predicted", "predicted_class", "y_pred", "pred", "yhat"),
    "score": ("score", "probability", "proba", "prob", "predict_proba", "confidence"),
    "latency": ("latency_ms", "latency", "duration_ms", "response_time_ms", "inference_ms", "elapsed_ms"),
    "status": ("status", "request_status", "response_status", "outcome_status"),
    "label": ("label", "target", "y", "y_true", "ground_truth", "actual", "class"),
}
_SCORE_SUFFIXES = ("_score", "_proba", "_probability", "_prob")
_CLASS_PREFIXES = ("p_", "proba_", "prob_", "probability_", "score_")
_TODO = "TODO"


@dataclass
class Inferred:
    """What ``init`` read off the reference data."""

    columns: list[str]
    roles: dict[str, str | None]
    scores: dict[str, str] = field(default_factory=dict)
    features: dict[str, tuple[FeatureKind, str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    task: TaskType = TaskType.BINARY_CLASSIFICATION
    task_reason: str = ""


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _find_role(df: pd.DataFrame, role: str, taken: set[str]) -> str | None:
    from pandas.api.types import is_datetime64_any_dtype, is_numeric_dtype

    names = {_norm(str(c)): str(c) for c in df.columns if str(c) not in taken}
    for wanted in ROLE_NAMES[role]:
        if wanted in names:
            return names[wanted]
    for norm, col in names.items():
        if role == "timestamp" and is_datetime64_any_dtype(df[col].dtype):
            return col
        if role == "id" and norm.endswith("_id") and df[col].is_unique:
            return col
        if role == "score" and norm.endswith(_SCORE_SUFFIXES) and is_numeric_dtype(df[col].dtype):
            values = df[col].dropna()
            if len(values) and values.min() >= 0 and values.max() <= 1:
                return col
    return None


def _class_scores(df: pd.DataFrame, taken: set[str]) -> dict[str, str]:
    """Per-class probability columns such as ``p_setosa``, ``proba_0`` (two or more, values in [0, 1])."""
    from pandas.api.types import is_numeric_dtype

    found: dict[str, str] = {}
    for col in map(str, df.columns):
        norm = _norm(col)
        prefix = next((p for p in _CLASS_PREFIXES if norm.startswith(p) and len(norm) > len(p)), None)
        if prefix is None or col in taken or not is_numeric_dtype(df[col].dtype):
            continue
        values = df[col].dropna()
        if len(values) and values.min() >= 0 and values.max() <= 1:
            found[col[len(prefix) :]] = col
    return found if len(found) >= 2 else {}


def _guess_task(df: pd.DataFrame, column: str | None) -> tuple[TaskType, str]:
    from pandas.api.types import is_float_dtype

    if column is None:
        return TaskType.BINARY_CLASSIFICATION, "no prediction or label column found: check it"
    values = df[column].dropna()
    distinct = values.nunique()
    if is_float_dtype(values.dtype) and distinct > 20:
        return TaskType.REGRESSION, f"'{column}' holds {distinct} distinct numbers"
    if distinct <= 2:
        return TaskType.BINARY_CLASSIFICATION, f"'{column}' holds {distinct} classes"
    return TaskType.MULTICLASS_CLASSIFICATION, f"'{column}' holds {distinct} classes"


def _feature_kind(series: pd.Series) -> tuple[FeatureKind | None, str]:
    from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_integer_dtype, is_numeric_dtype

    distinct = int(series.nunique())
    if is_datetime64_any_dtype(series.dtype):
        return None, "a datetime column (not a feature the monitor compares)"
    if is_bool_dtype(series.dtype):
        return FeatureKind.CATEGORICAL, "true/false"
    if is_numeric_dtype(series.dtype):
        if is_integer_dtype(series.dtype) and distinct <= MAX_CODE_VALUES:
            return FeatureKind.CATEGORICAL, f"{distinct} distinct whole numbers: codes"
        return FeatureKind.NUMERICAL, f"numbers, {distinct} distinct"
    return FeatureKind.CATEGORICAL, f"{distinct} distinct values"


def infer(df: pd.DataFrame, task: str | None = None) -> Inferred:
    """Roles, per-class scores, features and their kinds, and the task, read off a reference frame."""
    taken: set[str] = set()
    roles: dict[str, str | None] = {}
    for role in ("timestamp", "id", "label", "prediction", "latency", "status"):
        roles[role] = _find_role(df, role, taken)
        if roles[role] is not None:
            taken.add(str(roles[role]))
    guessed, reason = _guess_task(df, roles["prediction"] or roles["label"])
    chosen = TaskType(task) if task else guessed
    scores = _class_scores(df, taken) if chosen is TaskType.MULTICLASS_CLASSIFICATION else {}
    taken |= set(scores.values())
    roles["score"] = None if chosen is TaskType.REGRESSION else _find_role(df, "score", taken)
    if roles["score"] is not None:
        taken.add(str(roles["score"]))
    inferred = Inferred([str(c) for c in df.columns], roles, scores, task=chosen)
    inferred.task_reason = "given with --task" if task else reason
    for col in inferred.columns:
        if col in taken:
            continue
        kind, why = _feature_kind(df[col])
        if kind is None:
            inferred.skipped[col] = why
        else:
            inferred.features[col] = (kind, why)
    return inferred


def yaml_key(text: str) -> str:
    """``text`` as a YAML scalar that reads back as the same string (quoted only when needed)."""
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-/]*", text) is not None
    if plain and yaml.safe_load(f"k: {text}") == {"k": text}:
        return text
    return json.dumps(text, ensure_ascii=False)


def _path_for_yaml(target: Path, config_dir: Path) -> str:
    """How the config refers to ``target``: under the state folder as ``${WATCHKEEPER_HOME}/...``, else relative."""
    target = target.resolve()
    home = settings.state_dir()
    if target.is_relative_to(home):
        return "${WATCHKEEPER_HOME}/" + target.relative_to(home).as_posix()
    return Path(os.path.relpath(target, config_dir.resolve())).as_posix()


def _role_line(role: str, column: str | None, comment: str) -> str:
    if column is None:
        return f"  {role}: {_TODO}_{role}_column   # TODO: {comment} (no obvious column in the reference)"
    return f"  {role}: {yaml_key(column)}   # {comment}"


def _source_lines(indent: str, kind: str, path: str, todo: str = "") -> list[str]:
    return [f"{indent}source:", f"{indent}  kind: {kind}", f"{indent}  path: {yaml_key(path)}{todo}"]


def render_config(name: str, inferred: Inferred, reference: str, predictions: str | None, suite: str | None) -> str:
    """The commented YAML of a new model config."""
    roles = inferred.roles
    ref_kind = "csv" if reference.lower().endswith(".csv") else "parquet"
    if predictions is None:
        pred_path = f"{_TODO}/path/to/predictions/*.{ref_kind}"
        pred_todo = "   # TODO: where the prediction log lands (file or glob; or kind: sql with a query)"
    else:
        pred_path, pred_todo = predictions, "   # file or glob of the prediction log"
    pred_kind = "csv" if pred_path.lower().endswith(".csv") else "parquet"
    lines = [
        f"# Watchkeeper model config written by `watchkeeper init {name}` from {Path(reference).name}.",
        "# Check every line marked TODO and the guesses in the comments, then run `watchkeeper validate`.",
        "# `watchkeeper schema` lists every key; see dags/models/demo_fraud.yaml for a complete example.",
        "",
        f"name: {name}",
        f"owner: {_TODO}-team   # TODO: the owning team (shown in Airflow and alerts)",
        f"description: Monitor of {name}.",
        'schedule: "@daily"      # a preset (@hourly, @daily, @weekly, @monthly) or a 5-field cron expression',
        "start_date: 2026-01-01  # first data interval (UTC)",
        "paused: false           # true: the DAGs start paused in Airflow",
        f"task: {inferred.task}   # guessed: {inferred.task_reason}",
        "",
        "predictions:",
        *_source_lines("  ", pred_kind, pred_path, pred_todo),
        _role_line("timestamp", roles["timestamp"], "when the prediction was made"),
        "  timezone: UTC",
        _role_line("id", roles["id"], "unique per prediction; joins to the labels"),
        _role_line("prediction", roles["prediction"], "the predicted class or value"),
    ]
    if inferred.task is TaskType.BINARY_CLASSIFICATION:
        lines.append(_role_line("score", roles["score"], "probability of the positive class"))
    elif roles["score"] is not None:
        lines.append(_role_line("score", roles["score"], "probability of the predicted class"))
    if inferred.scores:
        lines.append("  scores:   # probability column per class")
        lines += [f"    {yaml_key(label)}: {yaml_key(col)}" for label, col in inferred.scores.items()]
    for role, what in (("latency", "inference latency in ms"), ("status", "request status")):
        column = roles[role]
        lines.append(
            f"  {role}: {yaml_key(column)}   # {what}" if column else f"  # {role}: <column>   # optional: {what}"
        )
    lines.append("  features:   # kind guessed from the reference: numerical or categorical")
    lines += [f"    {yaml_key(col)}: {kind}   # {why}" for col, (kind, why) in inferred.features.items()]
    lines += [f"    # {yaml_key(col)}: not a feature: {why}" for col, why in inferred.skipped.items()]
    lines += ["", "reference:", *_source_lines("  ", ref_kind, reference)]
    if suite:
        lines += ["", "quality:", f"  suite: {suite}   # expectations/{suite}.json, written by init: review it"]
    lines += _performance_lines(inferred)
    return "\n".join(lines) + "\n"


def _performance_lines(inferred: Inferred) -> list[str]:
    label = inferred.roles["label"]
    lines = [
        "",
        "# Performance on ground truth: uncomment when labels arrive (see README, Labels and performance).",
        "# performance:",
        "#   labels:",
        "#     source: {kind: parquet, path: TODO/labels/*.parquet}",
        f"#     id: {yaml_key(inferred.roles['id'] or 'TODO_id_column')}",
        f"#     label: {yaml_key(label or 'TODO_label_column')}"
        + ("   # found in the reference: its performance is the baseline" if label else ""),
        "#     delay: 3d",
    ]
    return lines


def _read_reference(path: Path) -> pd.DataFrame:
    from watchkeeper.config import CsvSource, ParquetSource
    from watchkeeper.sources import reader_for

    suffix = path.suffix.lower()
    if suffix not in {".csv", ".parquet", ".pq"}:
        raise ConfigError(f"{path}: (file): not a .csv or .parquet file -- export the reference data to one of them")
    if not path.is_file():
        raise ConfigError(f"{path}: (file): no such file -- pass the reference data with --reference")
    source = CsvSource(path=str(path.resolve())) if suffix == ".csv" else ParquetSource(path=str(path.resolve()))
    return reader_for(source.kind).read(source, path.parent, None, None)


def init_model(
    name: str,
    reference: Path,
    *,
    task: str | None = None,
    output: Path | None = None,
    predictions: str | None = None,
    suite_output: Path | None = None,
    force: bool = False,
    with_suite: bool = True,
) -> dict[Path, str]:
    """Write ``<config dir>/<name>.yaml`` (and a starter GX suite) for a new model; return what was written."""
    from watchkeeper import gx_suite

    output = output or settings.config_dir() / f"{name}.yaml"
    if output.stem != name:
        raise ConfigError(f"{output}: (file): the file name must be the model name -- write it to {name}.yaml")
    if output.exists() and not force:
        raise ConfigError(f"{output}: (file): exists -- pass --force to overwrite it or -o to write elsewhere")
    df = _read_reference(reference)
    inferred = infer(df, task)
    config_dir = output.parent
    suite = name if with_suite else None
    text = render_config(name, inferred, _path_for_yaml(reference, config_dir), predictions, suite)
    loaded = parse_config(output, text)  # the scaffold must load: same loader as the DAGs
    written: dict[Path, str] = {}
    suite_data: dict[str, Any] | None = None
    suite_file: Path | None = None
    if with_suite:
        suite_data = gx_suite.suggest_suite(loaded, df)
        suite_file = suite_output or gx_suite.expectations_dir(loaded) / f"{name}.json"
        if suite_file.exists() and not force:
            raise ConfigError(f"{suite_file}: (file): exists -- pass --force to overwrite it or --no-suite")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    todo = text.count(f"# {_TODO}:")
    written[output] = f"{len(inferred.features)} features" + (f"; {todo} TODO(s) to fill in" if todo else "")
    if suite_data is not None and suite_file is not None:
        suite_file.parent.mkdir(parents=True, exist_ok=True)
        suite_file.write_text(json.dumps(suite_data, indent=2) + "\n", encoding="utf-8")
        written[suite_file] = f"GX suite, {len(suite_data['expectations'])} expectations"
    return written


# --------------------------------------------------------------------------- DAG files


def write_dag_files(dags_folder: Path, shards: int | None = None) -> list[Path]:
    """Write the shard DAG files into ``dags_folder/watchkeeper_shards/`` and remove stale ones; return changes.

    Only files this function writes are ever removed (a shard file of another count, recognised by its
    name and first line). The models folder ``dags_folder/models`` is created if missing.
    """
    from watchkeeper.airflow.dag_common import SHARD_FOLDER, SHARDS, shard_file_name, shard_file_text

    count = shards or SHARDS
    if not 1 <= count <= 256:
        raise ConfigError(f"--shards {count}: use a number of DAG files from 1 to 256 (default {SHARDS})")
    folder = dags_folder / SHARD_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    (dags_folder / "models").mkdir(exist_ok=True)
    written = []
    wanted = {shard_file_name(i, count): shard_file_text(i, count) for i in range(count)}
    for name, text in wanted.items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    for path in folder.glob("shard_*_of_*.py"):
        if path.name not in wanted and path.read_text(encoding="utf-8").startswith('"""Watchkeeper DAGs, shard'):
            path.unlink()
            written.append(path)
    return written
