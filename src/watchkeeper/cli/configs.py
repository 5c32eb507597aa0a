"""``watchkeeper validate``, ``schema`` and ``suggest-suite``: commands about model configs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from watchkeeper import settings
from watchkeeper.cli.common import EXIT_ERROR, EXIT_OK, ModelCommand, load_model
from watchkeeper.config import LoadedConfig, config_paths, json_schema, load_config
from watchkeeper.exceptions import ConfigError, WatchkeeperError


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


def cmd_suggest_suite(args: argparse.Namespace) -> int:
    """Write a starter GX suite from the model's reference data."""
    from watchkeeper.quality import expectations_dir, suggest_suite
    from watchkeeper.sources import read_reference

    loaded = load_model(args)
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


def add_commands(sub: Any, model_cmd: ModelCommand) -> None:
    """Register this module's subcommands."""
    p = sub.add_parser("validate", help="check model configs; exits 1 listing every problem")
    p.add_argument("paths", nargs="*", help="config files or folders (default: $WATCHKEEPER_CONFIG_DIR or dags/models)")
    p.add_argument("--schema-only", action="store_true", help="skip file, suite and column checks")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of model configs")
    p.set_defaults(func=cmd_schema)

    p = model_cmd("suggest-suite", cmd_suggest_suite, "write a starter GX suite from the reference data")
    p.add_argument("-o", "--output", help="output file (default: expectations/<suite>.json)")
    p.add_argument("--force", action="store_true", help="overwrite an existing suite")
