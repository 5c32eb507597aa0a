"""Great Expectations suites of a model: find, parse, fill parameters from the baseline, validate, suggest."""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from watchkeeper.config import FeatureKind
from watchkeeper.exceptions import ExpectationSuiteError
from watchkeeper.results import CheckResult

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig

log = logging.getLogger(__name__)

EXPECTATIONS_DIR_ENV = "WATCHKEEPER_EXPECTATIONS_DIR"


def expectations_dir(config: LoadedConfig) -> Path:
    """Folder of GX suites: ``$WATCHKEEPER_EXPECTATIONS_DIR`` or ``expectations/`` of the project.

    The project is the folder holding ``dags/`` (configs live in ``<project>/dags/models``).
    """
    env = os.environ.get(EXPECTATIONS_DIR_ENV)
    if env:
        return Path(env)
    for parent in config.path.resolve().parents:
        if (parent / "expectations").is_dir():
            return parent / "expectations"
    return Path.cwd() / "expectations"


def suite_path(config: LoadedConfig) -> Path | None:
    """Path of the model's suite file, or None when it has no suite."""
    suite = config.model.quality.suite
    return None if suite is None else expectations_dir(config) / f"{suite}.json"


def load_suite_dict(config: LoadedConfig) -> dict[str, Any] | None:
    """The suite as JSON, validated for shape; raises :class:`ExpectationSuiteError` when unusable."""
    path = suite_path(config)
    if path is None:
        return None
    if not path.exists():
        raise ExpectationSuiteError(
            f"{config.path}: quality.suite: suite file {path} does not exist -- "
            f"create it with `watchkeeper suggest-suite {config.model.name}` or fix the name"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ExpectationSuiteError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg} -- fix the file") from exc
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        raise ExpectationSuiteError(f"{path}: not a GX suite (no 'expectations' list) -- regenerate it")
    return data


def parse_suite(config: LoadedConfig) -> Any:
    """The model's suite as a ``great_expectations.ExpectationSuite`` (imports GX)."""
    data = load_suite_dict(config)
    if data is None:
        return None
    import great_expectations as gx

    try:
        suite = gx.ExpectationSuite(**data)
    except Exception as exc:
        raise ExpectationSuiteError(
            f"{suite_path(config)}: does not parse as a GX 1.x suite: {exc} -- check expectation names and kwargs"
        ) from exc
    if len(suite.expectations) != len(data["expectations"]):  # GX logs and drops invalid entries
        kept = {getattr(e, "type", None) for e in suite.expectations}
        dropped = sorted({str(e.get("type")) for e in data["expectations"] if e.get("type") not in kept})
        raise ExpectationSuiteError(
            f"{suite_path(config)}: does not parse as a GX 1.x suite: invalid expectation(s) {dropped} -- "
            "check expectation names (snake_case, e.g. expect_column_values_to_not_be_null) and kwargs"
        )
    return suite


_PARAM_STATS = ("min", "max", "q01", "q99", "mean")
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def parameter_base(column: str) -> str:
    """The stem of the ``$PARAMETER`` names derived from a column: the name itself when GX can parse it
    (a letter, then letters, digits or ``_``), else the name with every other character as ``_``
    (``mean radius`` -> ``mean_radius``, ``1st`` -> ``c_1st``)."""
    if _IDENTIFIER.fullmatch(column):
        return column
    base = re.sub(r"[^A-Za-z0-9_]", "_", column)
    return base if base[:1].isalpha() and base[:1].isascii() else f"c_{base}"


def parameter_bases(columns: list[str]) -> dict[str, str]:
    """``parameter_base`` of every column, made unique: a rewritten name that would collide with another
    column's gets a short hash of the original name (``mean_radius_3f2a1c``)."""
    bases = {c: parameter_base(c) for c in columns}
    taken: dict[str, int] = {}
    for base in bases.values():
        taken[base] = taken.get(base, 0) + 1
    for column, base in bases.items():
        if base != column and (taken[base] > 1 or base in columns):
            bases[column] = f"{base}_{hashlib.sha1(column.encode()).hexdigest()[:6]}"
    return bases


def parameter_name(column: str, stat: str, columns: list[str] | None = None) -> str:
    """The ``$PARAMETER`` name of a baseline statistic of ``column`` (e.g. ``amount_max``)."""
    return f"{parameter_bases(columns or [column])[column]}_{stat}"


def suite_parameters(baseline: dict[str, Any]) -> dict[str, Any]:
    """Values for ``{"$PARAMETER": ...}`` placeholders from the baseline: ``<feature>_{min,max,q01,q99,mean}``
    per numerical feature, ``<feature>_categories`` per categorical one (names from :func:`parameter_name`)."""
    features: dict[str, Any] = baseline.get("features") or {}
    bases = parameter_bases(list(features))
    params: dict[str, Any] = {}
    for name, prof in features.items():
        if prof.get("kind") == "numerical":
            for key in _PARAM_STATS:
                if prof.get(key) is not None:
                    params[f"{bases[name]}_{key}"] = prof[key]
        else:
            params[f"{bases[name]}_categories"] = sorted(prof.get("counts", {}))
    return params


def quiet_gx() -> None:
    """Silence GX's analytics, progress bars and info logging."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("great_expectations"):
            logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


_quiet_gx = quiet_gx


def gx_results(config: LoadedConfig, df: pd.DataFrame, baseline: dict[str, Any]) -> list[CheckResult]:
    """Run the model's GX suite on the window (one frame); one result per expectation.

    The same code as a window fed in batches (:class:`watchkeeper.gx_runner.GxRunner`).
    """
    from watchkeeper.gx_runner import GxRunner

    runner = GxRunner(config, baseline)
    runner.add_batch(df)
    return runner.results()


# --------------------------------------------------------------------------- suggest-suite


def suggest_suite(config: LoadedConfig, reference: pd.DataFrame) -> dict[str, Any]:
    """A starter GX suite (as JSON) from the reference data: ids, ranges, category sets, score bounds.

    Severities are written where GX 1.x keeps them (top-level ``severity``): ids and the score bound are
    ``critical``, the baseline-bound ranges and category sets ``warning``. Baseline-bound parameters use
    :func:`parameter_name`, so columns with spaces or other characters get names GX can parse.
    """
    quiet_gx()
    import great_expectations as gx
    import great_expectations.expectations as gxe

    gx.get_context(mode="ephemeral")  # building a suite needs an active context
    model = config.model
    log_cfg = model.predictions
    bases = parameter_bases(list(log_cfg.features))
    suite = gx.ExpectationSuite(name=model.quality.suite or model.name)
    critical, warning = "critical", "warning"
    if log_cfg.id in reference.columns:
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=log_cfg.id, severity=critical))
        suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column=log_cfg.id, severity=critical))
    for name, kind in log_cfg.features.items():
        if name not in reference.columns:
            continue
        if kind is FeatureKind.NUMERICAL:
            # Baseline-derived bounds: filled at run time from the stored baseline, so they follow retraining.
            suite.add_expectation(
                gxe.ExpectColumnValuesToBeBetween(
                    column=name,
                    min_value={"$PARAMETER": f"{bases[name]}_min"},
                    max_value={"$PARAMETER": f"{bases[name]}_max"},
                    mostly=0.99,
                    severity=warning,
                )
            )
        else:
            values = sorted(map(str, reference[name].dropna().unique()))
            suite.add_expectation(
                gxe.ExpectColumnValuesToBeInSet(column=name, value_set=values, mostly=0.99, severity=warning)
            )
    if log_cfg.score and log_cfg.score in reference.columns:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(column=log_cfg.score, min_value=0, max_value=1, severity=critical)
        )
    return dict(suite.to_json_dict())


# --------------------------------------------------------------------------- dry run

#: Reference rows a dry run validates the suite on.
DRY_RUN_ROWS = 5_000


def dry_run_suite(loaded: LoadedConfig, reference_df: pd.DataFrame) -> list[str]:
    """Problems of the model's suite, each ``file: quality.suite: what -- fix``; empty when it is usable.

    Parses the suite, checks its severities, the columns it names (against the reference and the log's
    configured columns) and its ``$PARAMETER`` names (against what the baseline provides), then
    validates it on a sample of the reference: an expectation GX cannot run is a problem, one that
    merely fails on the reference is not (the reference may hold values the rules flag).
    """
    if loaded.model.quality.suite is None:
        return []
    where = f"{loaded.path}: quality.suite"
    try:
        data = load_suite_dict(loaded)
        parse_suite(loaded)
    except ExpectationSuiteError as exc:
        return [f"{where}: {exc}"]
    assert data is not None
    path = suite_path(loaded)
    problems: list[str] = []
    params = _dry_run_parameters(loaded, reference_df)
    known = set(map(str, reference_df.columns)) | set(loaded.model.predictions.columns())
    for i, exp in enumerate(data["expectations"]):
        label = f"expectation {i + 1} ({exp.get('type')})"
        problems += [f"{where}: {path}: {label}: {p}" for p in _static_problems(exp, params, known)]
    if problems:
        return problems
    return [f"{where}: {path}: {p}" for p in _validate_on_sample(loaded, data, params, reference_df)]


def _dry_run_parameters(loaded: LoadedConfig, reference_df: pd.DataFrame) -> dict[str, Any]:
    """The parameters a run would get, from the features' names and kinds (values from the reference)."""
    from pandas.api.types import is_numeric_dtype

    bases = parameter_bases(list(loaded.model.predictions.features))
    params: dict[str, Any] = {}
    for name, kind in loaded.model.predictions.features.items():
        col = reference_df[name] if name in reference_df.columns else pd.Series([], dtype="float64")
        if kind is FeatureKind.NUMERICAL:
            values = pd.to_numeric(col, errors="coerce") if not is_numeric_dtype(col.dtype) else col
            stats = {
                "min": values.min(),
                "max": values.max(),
                "q01": values.quantile(0.01),
                "q99": values.quantile(0.99),
                "mean": values.mean(),
            }
            for key, value in stats.items():
                params[f"{bases[name]}_{key}"] = None if pd.isna(value) else float(value)
        else:
            params[f"{bases[name]}_categories"] = sorted(map(str, col.dropna().unique()))
    return params


def _placeholders(value: Any) -> list[str]:
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            return [str(value["$PARAMETER"])]
        return [p for v in value.values() for p in _placeholders(v)]
    if isinstance(value, list):
        return [p for v in value for p in _placeholders(v)]
    return []


def _static_problems(exp: dict[str, Any], params: dict[str, Any], known: set[str]) -> list[str]:
    from watchkeeper.gx_runner import expectation_columns

    problems: list[str] = []
    top, meta = exp.get("severity"), (exp.get("meta") or {}).get("severity")
    for field_name, value in (("severity", top), ("meta.severity", meta)):
        if value is not None and str(value).lower() not in ("critical", "warning", "info"):
            problems.append(f"{field_name} {value!r} is not a GX severity -- use critical, warning or info")
    if top is not None and meta is not None and str(top).lower() != str(meta).lower():
        problems.append(f"severity {top!r} and meta.severity {meta!r} disagree (severity wins) -- remove meta.severity")
    for name in _placeholders(exp.get("kwargs") or {}):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_$]*", name):
            fixed = parameter_base(name.rsplit("_", 1)[0]) + "_" + name.rsplit("_", 1)[-1] if "_" in name else name
            problems.append(
                f"$PARAMETER {name!r} is not a name GX can parse (a letter, then letters, digits or _) -- "
                f"write {fixed!r} (`watchkeeper suggest-suite` writes valid names)"
            )
        elif name not in params:
            close = difflib.get_close_matches(name, list(params), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"available: {', '.join(sorted(params)[:8])} ..."
            problems.append(f"$PARAMETER {name!r} is not filled from the baseline -- {hint}")
    for column in expectation_columns(exp) or []:
        if column not in known:
            close = difflib.get_close_matches(column, sorted(known), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "fix the column name"
            problems.append(f"column {column!r} is neither in the reference nor in the log's config -- {hint}")
    return problems


def _validate_on_sample(
    loaded: LoadedConfig, data: dict[str, Any], params: dict[str, Any], reference_df: pd.DataFrame
) -> list[str]:
    """Run the suite on a sample of the reference; report expectations GX cannot evaluate."""
    from watchkeeper.gx_runner import expectation_columns, outcomes_of, pandas_batch_definition

    sample = reference_df.head(DRY_RUN_ROWS)
    present = set(map(str, sample.columns))
    runnable = []
    for i, exp in enumerate(data["expectations"]):
        columns = expectation_columns(exp) or []
        if all(c in present for c in columns):  # log-only columns (e.g. latency) cannot be tried here
            runnable.append({**exp, "meta": {**(exp.get("meta") or {}), "__watchkeeper_index__": i}})
    if not runnable:
        return []
    import great_expectations as gx

    batch = pandas_batch_definition(f"{loaded.model.name}_dry_run").get_batch(batch_parameters={"dataframe": sample})
    try:
        suite = gx.ExpectationSuite(name=str(data.get("name") or loaded.model.name), expectations=runnable)
        result = batch.validate(suite, expectation_parameters={k: v for k, v in params.items() if v is not None})
    except Exception as exc:  # GX refused the suite as a whole (e.g. a parameter it cannot parse)
        first = (str(exc).splitlines() or [""])[0]
        return [f"GX cannot run the suite: {type(exc).__name__}: {first} -- fix the expectation it names"]
    problems = []
    for i, outcome in sorted(outcomes_of(result).items()):
        reason = outcome.error or outcome.metric_error
        if reason:
            first = (reason.splitlines() or [""])[0]
            exp = data["expectations"][i]
            problems.append(
                f"expectation {i + 1} ({exp.get('type')}): GX cannot evaluate it on the reference: {first} -- "
                "fix its kwargs"
            )
    return problems
