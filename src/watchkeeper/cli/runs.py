"""``watchkeeper check``, ``baseline`` and ``report``: commands that run a model's checks without Airflow."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from watchkeeper.cli.common import EXIT_FINDINGS, EXIT_OK, ModelCommand, load_model, open_store
from watchkeeper.exceptions import ConfigError


def cmd_check(args: argparse.Namespace) -> int:
    """Run every check on one window, like the monitor DAG does."""
    from watchkeeper.checks import run_checks
    from watchkeeper.reporting import render_text
    from watchkeeper.results import Status, Window

    loaded = load_model(args)
    try:
        window = Window.parse(args.start, args.end)
    except ValueError as exc:
        raise ConfigError(f"--start/--end: {exc}") from exc
    store = open_store()
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

    loaded = load_model(args)
    content_hash, payload = ensure_baseline(loaded, open_store(), force=True)
    print(
        f"baseline of {loaded.model.name}: hash {content_hash}, {payload['n_rows']} reference rows, "
        f"{len(payload['features'])} features profiled"
    )
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Write the self-contained HTML report of one window (the latest when no window is given)."""
    from watchkeeper.report import write_report
    from watchkeeper.results import Window

    if (args.start is None) != (args.end is None):
        raise ConfigError("--start/--end: give both, or neither for the latest window")
    loaded = load_model(args)
    window = Window.parse(args.start, args.end) if args.start and args.end else None
    path = write_report(loaded, loaded.model.name, window, open_store(), args.output)
    print(f"wrote {path}")
    return EXIT_OK


def add_commands(sub: Any, model_cmd: ModelCommand) -> None:
    """Register this module's subcommands."""
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
