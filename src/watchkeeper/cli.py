"""The ``watchkeeper`` command: validate configs, export the schema, run checks without Airflow."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from watchkeeper import settings
from watchkeeper.config import LoadedConfig, config_paths, find_config, json_schema, load_config
from watchkeeper.exceptions import ConfigError, WatchkeeperError

log = logging.getLogger("watchkeeper")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_FINDINGS = 0, 1, 2, 3


# --------------------------------------------------------------------------- validate


def deep_problems(loaded: LoadedConfig) -> list[str]:
    """Problems beyond the schema: files that don't exist, a broken GX suite, columns not in the reference."""
    from watchkeeper.quality import load_suite_dict, parse_suite
    from watchkeeper.sources import expand_files

    problems: list[str] = []
    model = loaded.model
    path = loaded.path
    sources = [("predictions.source", model.predictions.source), ("reference.source", model.reference.source)]
    if model.performance is not None:
        sources.append(("performance.labels.source", model.performance.labels.source))
    for field, source in sources:
        if source.kind in {"csv", "parquet"}:
            try:
                expand_files(source, loaded.base_dir)
            except WatchkeeperError as exc:
                problems.append(f"{path}: {field}.path: {exc}")
    try:
        if load_suite_dict(loaded) is not None:
            parse_suite(loaded)
    except WatchkeeperError as exc:
        text = str(exc)
        problems.append(text if text.startswith(str(path)) else f"{path}: quality.suite: {text}")
    retrain = model.retraining.dag_id
    if retrain:
        known = dag_ids_near(loaded)
        if known is not None and retrain not in known:
            import difflib

            close = difflib.get_close_matches(retrain, sorted(known), n=1)
            fix = f"did you mean '{close[0]}'?" if close else "create that DAG or fix the id"
            problems.append(f"{path}: retraining.dag_id: no DAG '{retrain}' in {path.parent.parent} -- {fix}")
    columns = reference_columns(loaded)
    if columns is not None:
        import difflib

        for name in model.predictions.features:
            if name not in columns:
                close = difflib.get_close_matches(name, columns, n=1)
                fix = f"did you mean '{close[0]}'?" if close else "add it to the reference data or remove the feature"
                problems.append(f"{path}: predictions.features.{name}: column not in the reference data -- {fix}")
    return problems


_DAG_IDS: dict[Path, set[str]] = {}


def dag_ids_near(loaded: LoadedConfig) -> set[str] | None:
    """DAG ids defined in the DAG folder that holds the config's folder (``dags/`` for ``dags/models``).

    Parsed once per folder with Airflow's DagBag; None when the config does not live in a DAG folder.
    """
    folder = loaded.path.resolve().parent.parent
    if not any(folder.glob("*.py")):
        return None
    if folder not in _DAG_IDS:
        from airflow.dag_processing.dagbag import DagBag

        _DAG_IDS[folder] = set(DagBag(dag_folder=str(folder)).dag_ids)
    return _DAG_IDS[folder]


def reference_columns(loaded: LoadedConfig) -> list[str] | None:
    """Column names of the reference data, read cheaply (None when unknown, e.g. SQL sources)."""
    source = loaded.model.reference.source
    if source.kind == "sql":
        return None
    from watchkeeper.sources import expand_files

    try:
        first = expand_files(source, loaded.base_dir)[0]
    except WatchkeeperError:
        return None
    if source.kind == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(first).names)
    import pandas as pd

    return [str(c) for c in pd.read_csv(first, nrows=0).columns]


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate configs; print every problem as `file: field: what -- how to fix`."""
    targets = [Path(p) for p in args.paths] or [settings.config_dir()]
    files: list[Path] = []
    for target in targets:
        if target.is_dir():
            files += config_paths(target)
        else:
            files.append(target)
    if not files:
        print(f"no model configs found in {', '.join(map(str, targets))}", file=sys.stderr)
        return EXIT_ERROR
    problems: list[str] = []
    for file in files:
        try:
            loaded = load_config(file)
        except ConfigError as exc:
            problems += exc.problems
            continue
        if not args.schema_only:
            problems += deep_problems(loaded)
    for problem in problems:
        print(problem)
    ok = len(files) - len({p.split(": ", 1)[0] for p in problems})
    print(f"{len(files)} config(s) checked, {ok} valid, {len(problems)} problem(s)", file=sys.stderr)
    return EXIT_ERROR if problems else EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of model configs."""
    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


# --------------------------------------------------------------------------- checks


def _load(args: argparse.Namespace) -> LoadedConfig:
    return find_config(args.model, Path(args.config_dir) if args.config_dir else settings.config_dir())


def _store() -> Any:
    from watchkeeper.store import MetricStore

    store = MetricStore()
    store.migrate()
    return store


def cmd_check(args: argparse.Namespace) -> int:
    """Run every check on one window, like the monitor DAG does."""
    from watchkeeper.checks import run_checks
    from watchkeeper.reporting import render_text
    from watchkeeper.results import Status, Window

    loaded = _load(args)
    try:
        window = Window.parse(args.start, args.end)
    except ValueError as exc:
        raise ConfigError(f"--start/--end: {exc}") from exc
    store = _store()
    report = run_checks(loaded, window, store)
    if not args.dry_run:
        store.record_window(
            loaded.model.name,
            window,
            report.results,
            run_id="cli",
            source="cli",
            n_rows=report.n_rows,
            summary=report.summary(),
        )
    if loaded.model.performance is not None:
        from watchkeeper.scoring import score_window

        perf = score_window(loaded, window, store, record=not args.dry_run)
        report.results += perf.results
        if not perf.scored:
            print(f"performance not scored: {perf.reason}", file=sys.stderr)
    if args.json:
        for r in report.results:
            row = {
                "model": report.model,
                "window": window.as_dict(),
                "check": r.check,
                "metric": r.metric,
                "subject": r.subject,
                "value": r.value,
                "threshold": r.threshold,
                "status": str(r.status),
                "message": r.message,
            }
            print(json.dumps(row))
    else:
        print(render_text(report.model, window, report.results, n_rows=report.n_rows))
    if args.fail_on:
        bar = Status(args.fail_on).rank
        if any(r.status.rank >= bar for r in report.results):
            return EXIT_FINDINGS
    return EXIT_OK


def cmd_baseline(args: argparse.Namespace) -> int:
    """Force a rebuild of the model's baseline from its reference data."""
    from watchkeeper.baseline import ensure_baseline

    loaded = _load(args)
    content_hash, payload = ensure_baseline(loaded, _store(), force=True)
    print(
        f"baseline of {loaded.model.name}: hash {content_hash}, {payload['n_rows']} reference rows, "
        f"{len(payload['features'])} features profiled"
    )
    return EXIT_OK


def cmd_suggest_suite(args: argparse.Namespace) -> int:
    """Write a starter GX suite from the model's reference data."""
    from watchkeeper.quality import expectations_dir, suggest_suite
    from watchkeeper.sources import read_reference

    loaded = _load(args)
    suite = suggest_suite(loaded, read_reference(loaded))
    out = Path(args.output) if args.output else expectations_dir(loaded) / f"{suite['name']}.json"
    if out.exists() and not args.force:
        raise ConfigError(f"{out}: exists -- pass --force to overwrite it or -o to write elsewhere")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(suite, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(suite['expectations'])} expectations)")
    if loaded.model.quality.suite != suite["name"]:
        print(f"set `quality: {{suite: {suite['name']}}}` in {loaded.path} to use it")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Write the self-contained HTML report of one window (the latest when no window is given)."""
    from watchkeeper.report import write_report
    from watchkeeper.results import Window

    if (args.start is None) != (args.end is None):
        raise ConfigError("--start/--end: give both, or neither for the latest window")
    loaded = _load(args)
    window = Window.parse(args.start, args.end) if args.start and args.end else None
    path = write_report(loaded, loaded.model.name, window, _store(), args.output)
    print(f"wrote {path}")
    return EXIT_OK


# --------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``watchkeeper`` command."""
    parser = argparse.ArgumentParser(prog="watchkeeper", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check model configs; exits 1 listing every problem")
    p.add_argument("paths", nargs="*", help="config files or folders (default: $WATCHKEEPER_CONFIG_DIR or dags/models)")
    p.add_argument("--schema-only", action="store_true", help="skip file, suite and column checks")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of model configs")
    p.set_defaults(func=cmd_schema)

    def model_cmd(name: str, func: Any, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("model")
        p.add_argument("--config-dir", help="folder of model configs (default: dags/models)")
        p.set_defaults(func=func)
        return p

    p = model_cmd("check", cmd_check, "run every check on one window, without Airflow")
    p.add_argument("--start", required=True, help="window start, ISO 8601 (naive = UTC)")
    p.add_argument("--end", required=True, help="window end, ISO 8601 (exclusive)")
    p.add_argument("--json", action="store_true", help="print one JSON object per result")
    p.add_argument("--dry-run", action="store_true", help="do not record results in the metric store")
    p.add_argument("--fail-on", choices=["warning", "critical", "error"], help="exit 3 on findings this severe")

    model_cmd("baseline", cmd_baseline, "rebuild the model's baseline from its reference data")

    p = model_cmd("report", cmd_report, "write the self-contained HTML report of a window")
    p.add_argument("--start", help="window start, ISO 8601 (default: the latest recorded window)")
    p.add_argument("--end", help="window end, ISO 8601 (exclusive)")
    p.add_argument("-o", "--output", default="report.html", help="output file (default: report.html)")

    p = model_cmd("suggest-suite", cmd_suggest_suite, "write a starter GX suite from the reference data")
    p.add_argument("-o", "--output", help="output file (default: expectations/<suite>.json)")
    p.add_argument("--force", action="store_true", help="overwrite an existing suite")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors print one clear message and exit 1, never a traceback."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except WatchkeeperError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
