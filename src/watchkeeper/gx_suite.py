"""Great Expectations suites of a model: find, parse, fill parameters from the baseline, validate, suggest."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from watchkeeper.config import FeatureKind
from watchkeeper.exceptions import ExpectationSuiteError
from watchkeeper.results import CheckResult, Status

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


def suite_parameters(baseline: dict[str, Any]) -> dict[str, Any]:
    """Values for ``{"$PARAMETER": ...}`` placeholders: ``<feature>_{min,max,q01,q99,mean}`` from the baseline."""
    params: dict[str, Any] = {}
    for name, prof in (baseline.get("features") or {}).items():
        if prof.get("kind") == "numerical":
            for key in ("min", "max", "q01", "q99", "mean"):
                if prof.get(key) is not None:
                    params[f"{name}_{key}"] = prof[key]
        else:
            params[f"{name}_categories"] = sorted(prof.get("counts", {}))
    return params


def _quiet_gx() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("great_expectations"):
            logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


def gx_results(config: LoadedConfig, df: pd.DataFrame, baseline: dict[str, Any]) -> list[CheckResult]:
    """Run the model's GX suite on the window; one result per expectation."""
    if config.model.quality.suite is None:
        return []
    if df.empty:
        return [
            CheckResult(
                "quality", "gx_suite", config.model.quality.suite, None, None, Status.SKIPPED, "no data in window"
            )
        ]
    _quiet_gx()
    suite = parse_suite(config)
    import great_expectations as gx

    _quiet_gx()  # GX configures its loggers on import
    context = gx.get_context(mode="ephemeral")
    try:
        context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    except Exception:  # older/newer GX: progress bars only cost log noise
        log.debug("cannot disable GX progress bars")
    batch_def = (
        context.data_sources.add_pandas("watchkeeper")
        .add_dataframe_asset(config.model.name)
        .add_batch_definition_whole_dataframe("window")
    )
    batch = batch_def.get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(suite, expectation_parameters=suite_parameters(baseline))
    out = []
    for res in result.results:
        cfg = res.expectation_config
        kwargs = cfg.kwargs
        meta = cfg.meta or {}
        column = str(kwargs.get("column", kwargs.get("column_list", "")) or "")
        unexpected = res.result.get("unexpected_percent") if res.result else None
        value = None if unexpected is None else float(unexpected) / 100.0
        severity = Status.CRITICAL if str(meta.get("severity", "")).lower() == "critical" else Status.WARNING
        if res.exception_info and res.exception_info.get("raised_exception"):
            status = Status.ERROR
            msg = f"{cfg.type} could not run: {res.exception_info.get('exception_message')}"
        elif res.success:
            status, msg = Status.OK, f"{cfg.type} passed"
        else:
            status = severity
            detail = f" ({value:.2%} unexpected)" if value is not None else ""
            observed = res.result.get("observed_value") if res.result else None
            detail += f" (observed {observed})" if observed is not None and value is None else ""
            msg = f"{cfg.type} failed on {column or 'table'}{detail}"
        out.append(
            CheckResult(
                "quality",
                f"gx.{cfg.type}",
                column,
                value,
                kwargs.get("mostly"),
                status,
                msg,
                {"kwargs": _jsonable(kwargs)},
            )
        )
    return out


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# --------------------------------------------------------------------------- suggest-suite


def suggest_suite(config: LoadedConfig, reference: pd.DataFrame) -> dict[str, Any]:
    """A starter GX suite (as JSON) from the reference data: ids, ranges, category sets, score bounds."""
    _quiet_gx()
    import great_expectations as gx
    import great_expectations.expectations as gxe

    gx.get_context(mode="ephemeral")  # building a suite needs an active context
    model = config.model
    log_cfg = model.predictions
    suite = gx.ExpectationSuite(name=model.quality.suite or model.name)
    if log_cfg.id in reference.columns:
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=log_cfg.id))
        suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column=log_cfg.id))
    for name, kind in log_cfg.features.items():
        if name not in reference.columns:
            continue
        if kind is FeatureKind.NUMERICAL:
            # Baseline-derived bounds: filled at run time from the stored baseline, so they follow retraining.
            suite.add_expectation(
                gxe.ExpectColumnValuesToBeBetween(
                    column=name,
                    min_value={"$PARAMETER": f"{name}_min"},
                    max_value={"$PARAMETER": f"{name}_max"},
                    mostly=0.99,
                )
            )
        else:
            values = sorted(map(str, reference[name].dropna().unique()))
            suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column=name, value_set=values, mostly=0.99))
    if log_cfg.score and log_cfg.score in reference.columns:
        suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column=log_cfg.score, min_value=0, max_value=1))
    return dict(suite.to_json_dict())
