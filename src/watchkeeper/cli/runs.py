"""``watchkeeper check``, ``baseline`` and ``report``: commands that run a model's checks without Airflow."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from watchkeeper.cli.common import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, ModelCommand, load_model, open_store
from watchkeeper.exceptions import ConfigError


def cmd_check(args: argparse.Namespace) -> int:
    """Run every check on one window, like the monitor DAG does, and publish it through the same pipeline.

    Exit 0; 1 (reason on stderr) when a check family errored, the store was down or ``--alert`` could not
    deliver; 3 with ``--fail-on`` when a finding is that severe.
    """
    from watchkeeper import publish
    from watchkeeper.checks import run_checks
    from watchkeeper.reporting import render_text
    from watchkeeper.results import Status, Window

    loaded = load_model(args)
    try:
        window = Window.parse(args.start, args.end)
    except ValueError as exc:
        raise ConfigError(f"--start/--end: {exc}") from exc
    if args.alert and args.dry_run:
        raise ConfigError("--alert keeps the alert state in the metric store -- drop --dry-run to send alerts")
    model = loaded.model.name
    store = open_store()
    report = run_checks(loaded, window, store)
    results = list(report.results)
    if not args.dry_run:
        if report.profile is not None:
            store.save_window_profile(model, window, report.profile)  # the report and UI draw from it
        # the performance scoring pairs realised metrics with this window's estimates: store them first
        estimates = [r for r in results if r.check == "prediction"]
        store.record_results(model, window, estimates, checks={"prediction"})
    if loaded.model.performance is not None:
        from watchkeeper.scoring import score_window

        perf = score_window(loaded, window, store, record=False)
        results += perf.results  # recorded with the run below: its summary counts them
        if not perf.scored:
            print(f"performance not scored: {perf.reason}", file=sys.stderr)
    if args.dry_run:
        outcome = publish.PublishOutcome(model, window, publish.summarize(model, window, report.n_rows, results))
        outcome.failures = [r.message for r in results if r.status is Status.ERROR]
    else:
        outcome = publish.publish_window(
            loaded,
            window,
            results,
            store,
            run_id="cli",
            dag_id="cli",
            source="cli",
            n_rows=report.n_rows,
            send_alerts=args.alert,
            report_url=publish.report_url(model, window, publish.env_base_url()),
        )
    if args.json:
        for r in results:
            print(json.dumps(json_row(model, window.as_dict(), r), allow_nan=False))
    else:
        print(render_text(model, window, results, n_rows=report.n_rows))
        if outcome.alerts is not None:
            alerts = outcome.alerts
            print(f"alerts: {alerts.get('sent', 0)} sent via {alerts.get('sink')}, {alerts.get('pending', 0)} pending")
    if not outcome.ok:
        print(f"error: {outcome.reason}", file=sys.stderr)
        return EXIT_ERROR
    if args.fail_on:
        bar = Status(args.fail_on).rank
        if any(r.status.rank >= bar for r in results):
            return EXIT_FINDINGS
    return EXIT_OK


def json_row(model: str, window: dict[str, str], result: Any) -> dict[str, Any]:
    """One result as a JSON-safe object: the row plus its details (intervals, p-values, estimates...)."""
    return {
        "model": model,
        "window": window,
        "check": result.check,
        "metric": result.metric,
        "subject": result.subject,
        "value": json_safe(result.value),
        "threshold": json_safe(result.threshold),
        "status": str(result.status),
        "message": result.message,
        "details": json_safe(result.details),
    }


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf as null, numpy scalars and arrays as Python values, other objects as text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        return json_safe(value.tolist())  # numpy scalars and arrays
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def cmd_baseline(args: argparse.Namespace) -> int:
    """Force a rebuild of the model's baseline from its reference data."""
    from watchkeeper.baseline import ensure_baseline

    loaded = load_model(args)
    content_hash, payload = ensure_baseline(loaded, open_store(), force=True)
    print(
        f"baseline of {loaded.model.name}: hash {content_hash}, {payload['n_rows']} reference rows, "
        f"{len(payload['features'])} features profiled"
    )
    learned = payload.get("learned")
    if learned:
        from watchkeeper.baseline import SELF_FIRING_SHARE

        bands = payload.get("learned_bands") or {}
        without = sorted(set(learned.get("n_chunks") or {}) - set(bands))
        print(
            f"learned drift bands for {len(bands)} features from {learned['chunks']} reference chunks "
            f"(~{learned['chunk_rows']} rows each)"
            + (
                f"; fixed threshold for {', '.join(without)} (fewer than {learned['min_chunks']} chunks)"
                if without
                else ""
            )
        )
        shares = learned.get("at_fixed_warning") or {}
        noisy = sorted(n for n, share in shares.items() if share > SELF_FIRING_SHARE)
        if noisy:
            print(
                f"the reference fires on itself: {', '.join(noisy)} reach the fixed drift warning level on more than "
                f"{SELF_FIRING_SHARE:.0%} of its own chunks -- see `watchkeeper calibrate {loaded.model.name}`"
            )
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Run the model's feature drift checks on its reference's own window-sized chunks and print how often each
    fires under the fixed thresholds and under the learned bands. Exit 0."""
    from watchkeeper.baseline import SELF_FIRING_SHARE, self_check

    loaded = load_model(args)
    report = self_check(loaded)
    features = report["features"]
    print(
        f"{loaded.model.name}: drift checks on the reference's own {report['chunks']} chunks "
        f"(~{report['chunk_rows']} rows each, one window); mode in config: {loaded.model.drift.threshold_mode}"
    )
    width = max([len("feature"), *(len(n) for n in features)])
    print(f"{'feature':<{width}}  {'test':<13} {'fixed':>13}  {'learned':>13}  band")
    flagged = []
    for name, row in features.items():
        n = row["chunks"]
        fixed = _rate(row["fixed"], n)
        learned = _rate(row["learned"], n) if row["learned"] is not None else "-"
        print(f"{name:<{width}}  {row['test']:<13} {fixed:>13}  {learned:>13}  {row['band'] or row['note']}")
        if row["fires_on_itself"]:
            flagged.append(name)
    if flagged:
        print(
            f"the reference fires on itself under the fixed thresholds (> {SELF_FIRING_SHARE:.0%} of its own chunks): "
            f"{', '.join(flagged)} -- the reference is not stationary; consider drift.threshold_mode: learned "
            "(see docs/drift.md) or a steadier reference"
        )
    else:
        print(f"no feature fires on more than {SELF_FIRING_SHARE:.0%} of the reference's own chunks (fixed thresholds)")
    return EXIT_OK


def _rate(count: int, n: int) -> str:
    """``3/20 (15%)``."""
    return f"{count}/{n} ({count / n:.0%})" if n else "0/0"


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
    p.add_argument(
        "--alert",
        action="store_true",
        help="send the window's alerts like the DAG does (Slack, webhook, or the log + alerts.jsonl sink)",
    )

    model_cmd("baseline", cmd_baseline, "rebuild the model's baseline from its reference data")
    model_cmd(
        "calibrate",
        cmd_calibrate,
        "how often each drift check fires on the reference's own chunks, fixed vs learned thresholds",
    )

    p = model_cmd("report", cmd_report, "write the self-contained HTML report of a window")
    p.add_argument("--start", help="window start, ISO 8601 (default: the latest recorded window)")
    p.add_argument("--end", help="window end, ISO 8601 (exclusive)")
    p.add_argument("-o", "--output", default="report.html", help="output file (default: report.html)")
