"""Check families run on one window's profile, and the runner that ties them together.

A window is read once (:func:`watchkeeper.profile.scan.build_profile`): every batch is folded into a
mergeable :class:`~watchkeeper.profile.window.WindowProfile` and fed to the GX suite runner. The
families (``quality``, ``drift``, ``prediction``, ``service``) are computed from the profile, never
from rows. The CLI builds the profile and runs every family in one process; the Airflow DAG builds and
stores it in its ``profile`` task, and each mapped ``check`` task loads the stored profile. Both call
:func:`run_family`, so both produce exactly the same results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from watchkeeper.exceptions import BaselineError, UnknownNameError
from watchkeeper.results import CheckResult, Status, Window, worst

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig
    from watchkeeper.profile.window import WindowProfile
    from watchkeeper.store import MetricStore

log = logging.getLogger(__name__)


@dataclass
class CheckContext:
    """Everything a check family needs: the config, the window, its profile and the stored baseline."""

    config: LoadedConfig
    window: Window
    profile: WindowProfile
    baseline: dict[str, Any]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    store: MetricStore | None = None

    @property
    def n_rows(self) -> int:
        """Rows in the window."""
        return self.profile.rows


CheckFamily = Callable[[CheckContext], list[CheckResult]]
FAMILIES: dict[str, CheckFamily] = {}


def family(name: str) -> Callable[[CheckFamily], CheckFamily]:
    """Register a check family under ``name``."""

    def register(func: CheckFamily) -> CheckFamily:
        FAMILIES[name] = func
        return func

    return register


def get_family(name: str) -> CheckFamily:
    """The family registered as ``name``; an unknown name lists the available ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise UnknownNameError(f"No check family named {name!r}. Available: {', '.join(FAMILIES)}") from None


def rate_change_is_real(cur: float, n: int, ref: float, ref_n: int) -> bool:
    """Whether a rate moved beyond sampling noise (see :func:`watchkeeper.profile.families.rate_change_is_real`)."""
    from watchkeeper.profile.families import rate_change_is_real as real

    return real(cur, n, ref, ref_n)


@family("quality")
def quality_family(ctx: CheckContext) -> list[CheckResult]:
    """Schema, volume, freshness, per-column quality, duplicate ids and the GX suite."""
    from watchkeeper.profile.families import quality_results

    return quality_results(ctx.config, ctx.window, ctx.profile, ctx.baseline, ctx.now)


@family("drift")
def drift_family(ctx: CheckContext) -> list[CheckResult]:
    """Feature drift, one result per feature."""
    from watchkeeper.profile.families import drift_results

    return drift_results(ctx.config, ctx.profile)


@family("prediction")
def prediction_family(ctx: CheckContext) -> list[CheckResult]:
    """Score drift, predicted-class rates, mean confidence and the share of low-confidence predictions."""
    from watchkeeper.profile.families import prediction_results

    return prediction_results(ctx.config, ctx.profile, ctx.baseline)


@family("service")
def service_family(ctx: CheckContext) -> list[CheckResult]:
    """Latency p50/p95/p99 and error rate, when the log has those columns."""
    from watchkeeper.profile.families import service_results

    return service_results(ctx.config, ctx.profile)


# --------------------------------------------------------------------------- running


def load_context(
    config: LoadedConfig, window: Window, store: MetricStore, *, now: datetime | None = None
) -> CheckContext:
    """Read the window once into its profile, against the (possibly rebuilt) baseline."""
    from watchkeeper.baseline import ensure_baseline
    from watchkeeper.profile.scan import build_profile

    content_hash, baseline = ensure_baseline(config, store)
    profile = build_profile(config, window, baseline, baseline_hash=content_hash)
    return CheckContext(config, window, profile, baseline, now or datetime.now(UTC), store)


def stored_context(
    config: LoadedConfig, window: Window, store: MetricStore, *, now: datetime | None = None
) -> CheckContext:
    """The context of a window whose profile is stored (by the DAG's ``profile`` task): nothing is re-read."""
    from watchkeeper.profile.codec import from_payload
    from watchkeeper.profile.window import ProfileSpec

    stored = store.window_profile(config.model.name, window)
    if stored is None:
        raise BaselineError(
            f"model {config.model.name}: no stored profile for window {window.start.isoformat()}.."
            f"{window.end.isoformat()} -- run the profile task (or `watchkeeper check`) for it first"
        )
    baseline = store.baseline_by_hash(config.model.name, stored.baseline_hash)
    if baseline is None:
        raise BaselineError(
            f"model {config.model.name}: the baseline {stored.baseline_hash} the window was profiled against is "
            "gone -- re-run the window"
        )
    spec = ProfileSpec.from_config(config, baseline, stored.baseline_hash)
    profile = from_payload(stored.payload, spec)
    return CheckContext(config, window, profile, baseline, now or datetime.now(UTC), store)


def run_family(name: str, ctx: CheckContext) -> list[CheckResult]:
    """Run one family; a crash of the check itself becomes an ``error`` result, never a silent pass."""
    func = get_family(name)
    try:
        results = func(ctx)
        if ctx.config.model.rules and ctx.store is not None:
            from watchkeeper.rules import apply_rules

            results = apply_rules(
                results, ctx.config.model.rules, model=ctx.config.model.name, window=ctx.window, store=ctx.store
            )
        return results
    except Exception as exc:  # a bug or odd data must show as a failed check, not as a healthy model
        log.exception("model=%s window=%s: check family %s failed", ctx.config.model.name, ctx.window.as_dict(), name)
        msg = f"monitoring failed: the {name} checks raised {type(exc).__name__}: {exc}"
        return [CheckResult(name, "check_failed", "", None, None, Status.ERROR, msg, {"error": repr(exc)})]


@dataclass
class WindowReport:
    """All results of one window plus its row count."""

    model: str
    window: Window
    n_rows: int
    results: list[CheckResult]
    #: The window's profile (``watchkeeper check`` stores it with the run unless ``--dry-run``).
    profile: WindowProfile | None = None

    @property
    def status(self) -> Status:
        """Worst status of all results."""
        return worst([r.status for r in self.results])

    @property
    def findings(self) -> list[CheckResult]:
        """Results to report to people, most severe first."""
        return sorted((r for r in self.results if r.status.is_finding), key=lambda r: -r.status.rank)

    def summary(self) -> dict[str, Any]:
        """A small JSON summary (what goes through XCom)."""
        counts: dict[str, int] = {}
        for r in self.results:
            counts[str(r.status)] = counts.get(str(r.status), 0) + 1
        return {
            "model": self.model,
            "window": self.window.as_dict(),
            "n_rows": self.n_rows,
            "status": str(self.status),
            "counts": counts,
            "findings": len(self.findings),
        }


def run_checks(
    config: LoadedConfig,
    window: Window,
    store: MetricStore,
    *,
    families: list[str] | None = None,
    now: datetime | None = None,
) -> WindowReport:
    """Read the window once and run every family (or the given ones) on its profile, in one process.

    Nothing is written: store ``report.profile`` with :meth:`MetricStore.save_window_profile` and the
    results with :meth:`MetricStore.record_window`.
    """
    ctx = load_context(config, window, store, now=now)
    results: list[CheckResult] = []
    for name in families or list(FAMILIES):
        results += run_family(name, ctx)
    return WindowReport(config.model.name, window, ctx.n_rows, results, ctx.profile)
