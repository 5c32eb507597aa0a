"""``watchkeeper validate``, ``schema``, ``init``, ``suggest-suite`` and ``dag-files``: commands about configs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from watchkeeper import settings
from watchkeeper.cli.common import EXIT_ERROR, EXIT_OK, ModelCommand, load_model
from watchkeeper.config import (
    LoadedConfig,
    config_paths,
    duplicate_errors,
    json_schema,
    load_config,
    load_configs,
)
from watchkeeper.exceptions import ConfigError


def load_targets(targets: list[Path]) -> tuple[list[Path], list[LoadedConfig], dict[Path, ConfigError]]:
    """Load the configs named by ``targets`` (folders or files) with the loader the DAG files use.

    A folder goes through :func:`load_configs` (as its DAG files do); a single file through
    :func:`load_config`, plus the duplicate check against the other files of its folder.
    """
    files: list[Path] = []
    good: list[LoadedConfig] = []
    bad: dict[Path, ConfigError] = {}
    for target in targets:
        if target.is_dir():
            files += config_paths(target)
            loaded, errors = load_configs(target)
            good += loaded
            bad |= errors
            continue
        files.append(target)
        twins = [p for p in config_paths(target.parent) if p.stem == target.stem]
        duplicate = duplicate_errors(twins if target in twins else [*twins, target]).get(target)
        if duplicate is not None:
            bad[target] = duplicate
            continue
        try:
            good.append(load_config(target))
        except ConfigError as exc:
            bad[target] = exc
    return files, good, bad


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate configs; print every problem as `file: field: what -- how to fix`."""
    from watchkeeper.validation import deep_problems

    targets = [Path(p) for p in args.paths] or [settings.config_dir()]
    files, good, bad = load_targets(targets)
    if not files:
        print(f"no model configs found in {', '.join(map(str, targets))}", file=sys.stderr)
        return EXIT_ERROR
    problems = [p for error in bad.values() for p in error.problems]
    invalid = set(bad)
    for loaded in good:
        found = [] if args.schema_only else deep_problems(loaded)
        if found:
            invalid.add(loaded.path)
        problems += found
    for problem in problems:
        print(problem)
    ok = len(set(files)) - len(invalid)
    print(f"{len(set(files))} config(s) checked, {ok} valid, {len(problems)} problem(s)", file=sys.stderr)
    return EXIT_ERROR if problems else EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of model configs."""
    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def cmd_suggest_suite(args: argparse.Namespace) -> int:
    """Write a starter GX suite from the model's reference data."""
    from watchkeeper.gx_suite import expectations_dir, suggest_suite
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


def cmd_init(args: argparse.Namespace) -> int:
    """Write a commented model config (and a starter GX suite) inferred from the reference data."""
    from watchkeeper.scaffold import init_model

    written = init_model(
        args.model,
        Path(args.reference),
        task=args.task,
        output=Path(args.output) if args.output else None,
        predictions=args.predictions,
        suite_output=Path(args.suite_output) if args.suite_output else None,
        force=args.force,
        with_suite=not args.no_suite,
    )
    for path, what in written.items():
        print(f"wrote {path} ({what})")
    config = next(iter(written))
    print(f"next: fill in the lines marked TODO, then run `watchkeeper validate {config}`")
    return EXIT_OK


def cmd_dag_files(args: argparse.Namespace) -> int:
    """Write Watchkeeper's DAG files (the shards that build every model's DAGs) into a DAG folder."""
    from watchkeeper.scaffold import write_dag_files

    written = write_dag_files(Path(args.dags_folder), shards=args.shards)
    print(f"wrote {len(written)} DAG file(s) in {written[0].parent}" if written else "DAG files are up to date")
    return EXIT_OK


def add_commands(sub: Any, model_cmd: ModelCommand) -> None:
    """Register this module's subcommands."""
    p = sub.add_parser("validate", help="check model configs; exits 1 listing every problem")
    p.add_argument("paths", nargs="*", help="config files or folders (default: $WATCHKEEPER_CONFIG_DIR or dags/models)")
    p.add_argument("--schema-only", action="store_true", help="skip file, column, suite and DAG checks")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of model configs")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("init", help="write a commented config for a new model, inferred from its reference data")
    p.add_argument("model", help="model name: lower case letters, digits and '_'")
    p.add_argument("--reference", required=True, help="reference (training/validation) data: a .csv or .parquet file")
    p.add_argument(
        "--task",
        choices=["binary_classification", "multiclass_classification", "regression"],
        help="what the model predicts (default: guessed from the reference's prediction column)",
    )
    p.add_argument("--predictions", help="path or glob of the prediction log (default: a TODO placeholder)")
    p.add_argument("-o", "--output", help="config file to write (default: <config dir>/<model>.yaml)")
    p.add_argument("--suite-output", help="GX suite file to write (default: <project>/expectations/<model>.json)")
    p.add_argument("--no-suite", action="store_true", help="do not write a starter GX suite")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=cmd_init)

    p = model_cmd("suggest-suite", cmd_suggest_suite, "write a starter GX suite from the reference data")
    p.add_argument("-o", "--output", help="output file (default: expectations/<suite>.json)")
    p.add_argument("--force", action="store_true", help="overwrite an existing suite")

    p = sub.add_parser("dag-files", help="write the DAG files that build every model's DAGs into a DAG folder")
    p.add_argument("dags_folder", nargs="?", default="dags", help="the Airflow DAG folder (default: dags)")
    p.add_argument("--shards", type=int, default=None, help="number of DAG files (default: 16)")
    p.set_defaults(func=cmd_dag_files)
