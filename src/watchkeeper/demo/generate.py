"""Synthetic prediction log of ``demo_fraud``, a binary fraud classifier, with faults on known days.

The data is deterministic for a seed: the reference (training/validation) rows and every day's rows
come from their own random stream (keyed by the seed and the calendar date), so a day looks the same
whatever period is generated, and injecting a fault never changes anything but the faulty column.

Layout written by :func:`generate` under ``out_dir``::

    reference.parquet                       # 30 days before ``start``, with the true ``label``
    predictions/date=YYYY-MM-DD.parquet     # one file per day: the prediction log
    labels/date=YYYY-MM-DD.parquet          # delayed ground truth per day: prediction_id, ts, label
    manifest.json                           # parameters of the run (reruns with the same ones are skipped)

Faults (day N = the N-th day of the period, 2026-10-N with the default start; each lasts to the end):

* day 15, ``amount``: logged x1.8 (currency-conversion bug in logging; scores use the true amount);
* day 18, ``merchant_category``: 12% of rows logged as the unseen ``crypto_exchange``;
* day 21, ``account_age_days``: 30% null;
* day 24, ``latency_ms``: x5 (p95 ~600 ms instead of ~120 ms).

Run ``python -m watchkeeper.demo.generate --out DIR`` (default DIR: ``$WATCHKEEPER_HOME/demo_data/demo_fraud``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

log = logging.getLogger(__name__)

#: Model name of the demo (``dags/models/demo_fraud.yaml``).
MODEL = "demo_fraud"
#: Bumped whenever the generated data changes, so that old data on disk is regenerated.
GENERATOR_VERSION = 2
#: Folder of the demo data under the state folder (the YAML config reads it from there).
DATA_SUBDIR = Path("demo_data") / MODEL

DEFAULT_START = date(2026, 10, 1)
#: A day without any fault (day 5) and a day with all four faults (day 28), for demos and tests.
CLEAN_DAY = date(2026, 10, 5)
FAULTY_DAY = date(2026, 10, 28)
#: Days of reference traffic just before ``start``.
REFERENCE_DAYS = 30

# --------------------------------------------------------------------------- faults

AMOUNT_FACTOR = 1.8
CRYPTO_CATEGORY = "crypto_exchange"
CRYPTO_SHARE = 0.12
MISSING_SHARE = 0.30
LATENCY_FACTOR = 5.0


@dataclass(frozen=True)
class Fault:
    """A fault injected into the prediction log from day ``day`` (1-based) of the period onward."""

    day: int
    name: str
    column: str
    description: str

    def first_date(self, start: date = DEFAULT_START) -> date:
        """Calendar date of the first faulty day for a period beginning on ``start``."""
        return start + timedelta(days=self.day - 1)

    def active_on(self, day: date, start: date = DEFAULT_START) -> bool:
        """Whether the fault is present on ``day``."""
        return day >= self.first_date(start)


FAULTS: list[Fault] = [
    Fault(
        15,
        "amount_shift",
        "amount",
        f"amount is logged x{AMOUNT_FACTOR} (a currency-conversion bug in the logging pipeline); the score is "
        "computed on the true amount, so predictions do not change",
    ),
    Fault(
        18,
        "new_category",
        "merchant_category",
        f"{CRYPTO_SHARE:.0%} of rows are logged with the category '{CRYPTO_CATEGORY}', never seen in training "
        "(taken evenly from the other categories); the score is computed on the true category",
    ),
    Fault(
        21,
        "missing_values",
        "account_age_days",
        f"{MISSING_SHARE:.0%} of account_age_days is null (a broken join to the accounts table)",
    ),
    Fault(
        24,
        "latency_regression",
        "latency_ms",
        f"inference latency x{LATENCY_FACTOR:g} (p95 ~600 ms instead of ~120 ms) after a bad deployment",
    ),
]

#: Concept drift: from this day on, fraudsters use a new tactic the model never learned -- small
#: purchases of digital goods and gaming credit. Those rows are fraud far more often, while the
#: features and scores look exactly as before: only the labels (arriving days later) reveal it.
CONCEPT_DRIFT_DAY = 20
CONCEPT_DRIFT_CATEGORIES = ("digital_goods", "gaming")
#: Extra fraud probability among the targeted rows: ramps up by this much per day, up to the cap.
CONCEPT_DRIFT_STEP = 0.08
CONCEPT_DRIFT_CAP = 0.40


def concept_drift_rate(day: date, start: date = DEFAULT_START) -> float:
    """Probability that a targeted row is (new-tactic) fraud on ``day``; 0 before the drift begins."""
    n = (day - start).days + 1 - CONCEPT_DRIFT_DAY + 1
    return 0.0 if n <= 0 else min(CONCEPT_DRIFT_CAP, CONCEPT_DRIFT_STEP * n)


# --------------------------------------------------------------------------- the data-generating process

#: Feature columns and their kind, as in the YAML config.
FEATURES: dict[str, str] = {
    "amount": "numerical",
    "merchant_category": "categorical",
    "country": "categorical",
    "hour": "numerical",
    "account_age_days": "numerical",
    "txn_count_24h": "numerical",
    "device_type": "categorical",
}
#: Columns of a prediction-log file, in order; the reference adds ``label``.
COLUMNS: list[str] = [
    "ts",
    "prediction_id",
    *FEATURES,
    "fraud_score",
    "predicted_label",
    "latency_ms",
    "status",
]

# Category frequencies: none below 5%, so a day of 2,000 rows never lacks a category the reference has.
MERCHANT_CATEGORIES: dict[str, float] = {
    "grocery": 0.22,
    "restaurants": 0.15,
    "fuel": 0.12,
    "fashion": 0.10,
    "electronics": 0.09,
    "digital_goods": 0.08,
    "utilities": 0.07,
    "pharmacy": 0.07,
    "travel": 0.05,
    "gaming": 0.05,
}
COUNTRIES: dict[str, float] = {
    "US": 0.38,
    "GB": 0.14,
    "DE": 0.12,
    "FR": 0.10,
    "CA": 0.09,
    "ES": 0.07,
    "NL": 0.05,
    "BR": 0.05,
}
DEVICE_TYPES: dict[str, float] = {"mobile": 0.62, "desktop": 0.30, "tablet": 0.08}
STATUS_ERROR_RATE = 0.002

# Median ticket (log dollars) and fraud log-odds per merchant category.
_CATEGORY_LOG_AMOUNT = {
    "grocery": 3.4, "restaurants": 3.3, "fuel": 3.7, "fashion": 4.1, "electronics": 4.9,
    "digital_goods": 3.0, "utilities": 4.4, "pharmacy": 3.2, "travel": 5.6, "gaming": 3.1,
}  # fmt: skip
_CATEGORY_RISK = {
    "grocery": -1.6, "restaurants": -1.2, "fuel": -0.4, "fashion": 0.0, "electronics": 0.4,
    "digital_goods": 2.6, "utilities": -2.6, "pharmacy": -1.4, "travel": -1.4, "gaming": 2.4,
}  # fmt: skip
_COUNTRY_RISK = {"US": 0.0, "GB": -0.2, "DE": -0.4, "FR": -0.2, "CA": -0.1, "ES": 0.2, "NL": -0.3, "BR": 0.8}
_DEVICE_RISK = {"mobile": 0.0, "desktop": 0.3, "tablet": -0.2}
# Traffic per UTC hour: quiet nights, busy evenings.
_HOURLY_TRAFFIC = np.array([
    1.2, 0.9, 0.7, 0.6, 0.6, 0.8, 1.5, 2.5, 3.6, 4.3, 4.7, 5.0,  # 00-11 h
    5.4, 5.3, 5.1, 5.0, 5.1, 5.4, 5.8, 6.0, 5.6, 4.6, 3.3, 2.0,  # 12-23 h
])  # fmt: skip
# Latency: log-normal with median 50 ms and p95 = 50 * exp(1.645 * 0.532) ~ 120 ms.
_LATENCY_MEDIAN_MS = 50.0
_LATENCY_SIGMA = 0.532
_NEW_ACCOUNT_SHARE = 0.08

# Random streams (the second entropy word keeps them apart).
_STREAM_REFERENCE = 0
_STREAM_DAY = 1
_STREAM_FAULT = 2


def fraud_score(features: pd.DataFrame) -> np.ndarray:
    """The model: a fixed logistic function of the true features (~4.6% mean score, ~3.5% scored >= 0.5)."""
    amount = features["amount"].to_numpy(dtype=float)
    age = features["account_age_days"].to_numpy(dtype=float)
    logit = (
        -6.6
        + 1.8 * np.log(amount / 60.0)
        + 4.4 * (age < 30)
        - 0.5 * np.log1p(age / 30.0)
        + 0.9 * features["txn_count_24h"].to_numpy(dtype=float)
        + 2.2 * (features["hour"].to_numpy() < 6)
        + features["merchant_category"].map(_CATEGORY_RISK).to_numpy(dtype=float)
        + features["country"].map(_COUNTRY_RISK).to_numpy(dtype=float)
        + features["device_type"].map(_DEVICE_RISK).to_numpy(dtype=float)
    )
    return np.asarray(1.0 / (1.0 + np.exp(-logit)))


def _strata(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniforms, one in each of ``n`` equal strata, in random order (a Latin-hypercube column).

    Stratified draws keep a day's marginal distributions much closer to the population than i.i.d. draws
    would, so clean days do not trip significance tests by chance and the demo shows only the injected faults.
    """
    return np.asarray((rng.permutation(n) + rng.random(n)) / n)


def _categorical(rng: np.random.Generator, freqs: dict[str, float], n: int) -> pd.Series:
    names = np.array(list(freqs), dtype=object)
    cumulative = np.cumsum(list(freqs.values()))
    picked = np.minimum(np.searchsorted(cumulative / cumulative[-1], _strata(rng, n), side="right"), len(names) - 1)
    return pd.Series(names[picked], dtype="str")


def _normal(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.asarray(ndtri(_strata(rng, n)))


def _timestamps(rng: np.random.Generator, n: int, first_day: date, n_days: int) -> pd.Series:
    """``n`` sorted UTC timestamps over ``n_days`` days from ``first_day``, following the hourly traffic."""
    day = np.floor(_strata(rng, n) * n_days)
    # Inverse CDF of the piecewise-uniform time of day: the traffic is constant within each hour.
    weights = _HOURLY_TRAFFIC / _HOURLY_TRAFFIC.sum()
    upper = np.cumsum(weights)
    u = _strata(rng, n)
    hour = np.minimum(np.searchsorted(upper, u, side="right"), 23)
    within = np.clip((u - (upper[hour] - weights[hour])) / weights[hour], 0.0, 1.0 - 1e-9)
    ms = (day * 86_400_000 + (hour + within) * 3_600_000).astype(np.int64)
    stamps = np.datetime64(first_day.isoformat(), "ms") + np.sort(ms).astype("timedelta64[ms]")
    return pd.Series(pd.DatetimeIndex(stamps).tz_localize("UTC").as_unit("us"), name="ts")


def _account_age(rng: np.random.Generator, n: int) -> np.ndarray:
    """Days since sign-up: 8% new accounts (under 30 days), the rest log-normal around 16 months."""
    u = _strata(rng, n)
    new = u < _NEW_ACCOUNT_SHARE
    old_u = np.clip((u - _NEW_ACCOUNT_SHARE) / (1 - _NEW_ACCOUNT_SHARE), 1e-12, 1 - 1e-12)
    old = np.minimum(np.round(np.exp(6.2 + 0.9 * ndtri(old_u))), 7300.0)
    return np.asarray(np.where(new, np.floor(u / _NEW_ACCOUNT_SHARE * 30), old))


def _txn_count(rng: np.random.Generator, n: int) -> np.ndarray:
    """Transactions of the card in the last 24 h: negative binomial (r=2, p=1/2), mean 2."""
    k = np.arange(200)
    cdf = np.cumsum((k + 1) * 0.5 ** (k + 2))
    return np.asarray(np.minimum(np.searchsorted(cdf, _strata(rng, n), side="right"), k[-1]), dtype=np.int64)


def _traffic(rng: np.random.Generator, n: int, first_day: date, n_days: int, id_prefix: str) -> pd.DataFrame:
    """Clean rows: true features, score, prediction, service columns and the true ``label``."""
    ts = _timestamps(rng, n, first_day, n_days)
    category = _categorical(rng, MERCHANT_CATEGORIES, n)
    log_amount = category.map(_CATEGORY_LOG_AMOUNT).to_numpy(dtype=float) + 0.8 * _normal(rng, n)
    frame = pd.DataFrame(
        {
            "ts": ts,
            "prediction_id": pd.array([f"{id_prefix}-{i:06d}" for i in range(1, n + 1)], dtype="str"),
            "amount": np.round(np.exp(log_amount), 2),
            "merchant_category": category,
            "country": _categorical(rng, COUNTRIES, n),
            "hour": ts.dt.hour.to_numpy(dtype=np.int64),
            # float so that a day with missing values keeps the reference dtype
            "account_age_days": _account_age(rng, n).astype(np.float64),
            "txn_count_24h": _txn_count(rng, n),
            "device_type": _categorical(rng, DEVICE_TYPES, n),
        }
    )
    score = fraud_score(frame)
    frame["fraud_score"] = score
    frame["predicted_label"] = (score >= 0.5).astype(np.int64)
    frame["latency_ms"] = np.round(_LATENCY_MEDIAN_MS * np.exp(_LATENCY_SIGMA * _normal(rng, n)), 1)
    frame["status"] = pd.array(np.where(_strata(rng, n) < STATUS_ERROR_RATE, "error", "ok"), dtype="str")
    # The true class: the score is calibrated, so the label is a coin flip with the score's probability.
    frame["label"] = (rng.random(n) < score).astype(np.int64)
    return frame


def reference_frame(*, start: date = DEFAULT_START, rows: int = 20_000, seed: int = 7) -> pd.DataFrame:
    """Training/validation rows spread over the 30 days before ``start``, with the true ``label``."""
    rng = np.random.default_rng([seed, _STREAM_REFERENCE])
    first = start - timedelta(days=REFERENCE_DAYS)
    return _traffic(rng, rows, first, REFERENCE_DAYS, "ref")


def _day_with_labels(day: date, *, start: date, rows_per_day: int, seed: int, inject_faults: bool) -> pd.DataFrame:
    rng = np.random.default_rng([seed, _STREAM_DAY, day.toordinal()])
    frame = _traffic(rng, rows_per_day, day, 1, f"pred-{day:%Y%m%d}")
    rate = concept_drift_rate(day, start)
    if rate > 0:  # the world changes, not the log: applied with or without logging faults
        drift_rng = np.random.default_rng([seed, _STREAM_FAULT, 99, day.toordinal()])
        targeted = frame["merchant_category"].isin(CONCEPT_DRIFT_CATEGORIES).to_numpy() & (
            frame["amount"].to_numpy() < 150
        )
        new_fraud = targeted & (drift_rng.random(len(frame)) < rate)
        frame.loc[new_fraud, "label"] = 1
    if inject_faults:
        for number, fault in enumerate(FAULTS):
            if fault.active_on(day, start):
                fault_rng = np.random.default_rng([seed, _STREAM_FAULT, number, day.toordinal()])
                _INJECTORS[fault.name](frame, fault_rng)
    return frame


def day_frame(
    day: date,
    *,
    start: date = DEFAULT_START,
    rows_per_day: int = 2000,
    seed: int = 7,
    inject_faults: bool = True,
) -> pd.DataFrame:
    """The prediction log of ``day`` (columns :data:`COLUMNS`), with the faults active that day unless disabled."""
    frame = _day_with_labels(day, start=start, rows_per_day=rows_per_day, seed=seed, inject_faults=inject_faults)
    return frame[COLUMNS]


# --------------------------------------------------------------------------- fault injectors (in place)


def _pick(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    return np.asarray(rng.choice(n, size=round(share * n), replace=False))


def _shift_amount(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    frame["amount"] = np.round(frame["amount"].to_numpy() * AMOUNT_FACTOR, 2)


def _new_category(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    rows = _pick(rng, len(frame), CRYPTO_SHARE)
    frame.loc[frame.index[rows], "merchant_category"] = CRYPTO_CATEGORY


def _missing_values(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    rows = _pick(rng, len(frame), MISSING_SHARE)
    frame.loc[frame.index[rows], "account_age_days"] = np.nan


def _slow_latency(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    frame["latency_ms"] = np.round(frame["latency_ms"].to_numpy() * LATENCY_FACTOR, 1)


_INJECTORS: dict[str, Callable[[pd.DataFrame, np.random.Generator], None]] = {
    "amount_shift": _shift_amount,
    "new_category": _new_category,
    "missing_values": _missing_values,
    "latency_regression": _slow_latency,
}

# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class DemoData:
    """What :func:`generate` wrote (or found up to date)."""

    out_dir: Path
    reference_path: Path
    predictions_dir: Path
    labels_dir: Path
    manifest_path: Path
    start: date
    days: int
    faults: list[Fault] = field(default_factory=list)
    """Faults that begin within the generated period."""
    regenerated: bool = True
    """False when the files were already there with the same parameters."""

    @property
    def dates(self) -> list[date]:
        """Every generated day."""
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def prediction_path(self, day: date) -> Path:
        """The prediction-log file of ``day``."""
        return self.predictions_dir / f"date={day.isoformat()}.parquet"

    def label_path(self, day: date) -> Path:
        """The ground-truth file of ``day``."""
        return self.labels_dir / f"date={day.isoformat()}.parquet"

    @property
    def prediction_paths(self) -> list[Path]:
        """Every prediction-log file, in date order."""
        return [self.prediction_path(d) for d in self.dates]


def default_out_dir() -> Path:
    """``$WATCHKEEPER_HOME/demo_data/demo_fraud``: where ``dags/models/demo_fraud.yaml`` reads the data."""
    from watchkeeper.settings import state_dir

    return state_dir() / DATA_SUBDIR


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    # Write then rename, so a reader (or a crash) never sees half a file.
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def generate(
    out_dir: Path,
    *,
    start: date = DEFAULT_START,
    days: int = 31,
    rows_per_day: int = 2000,
    reference_rows: int = 20_000,
    seed: int = 7,
    force: bool = False,
) -> DemoData:
    """Write the reference and one prediction file per day under ``out_dir``.

    Idempotent: files are overwritten, stale day files of an earlier run are removed, and when
    ``manifest.json`` records the same parameters and every file exists nothing is written (unless ``force``).
    """
    if days < 1 or rows_per_day < 1 or reference_rows < 1:
        raise ValueError(
            f"days, rows_per_day and reference_rows must be positive (got {days}, {rows_per_day}, {reference_rows})"
        )
    out_dir = Path(out_dir)
    data = DemoData(
        out_dir=out_dir,
        reference_path=out_dir / "reference.parquet",
        predictions_dir=out_dir / "predictions",
        labels_dir=out_dir / "labels",
        manifest_path=out_dir / "manifest.json",
        start=start,
        days=days,
        faults=[f for f in FAULTS if f.day <= days],
    )
    params: dict[str, Any] = {
        "model": MODEL,
        "generator_version": GENERATOR_VERSION,
        "start": start.isoformat(),
        "days": days,
        "rows_per_day": rows_per_day,
        "reference_rows": reference_rows,
        "seed": seed,
    }
    files = [data.reference_path, *data.prediction_paths, *(data.label_path(d) for d in data.dates)]
    if not force and _manifest_params(data.manifest_path) == params and all(p.exists() for p in files):
        log.info("demo data of %s in %s is up to date -- skipped", MODEL, out_dir)
        return replace(data, regenerated=False)

    # Drop the manifest first: an interrupted run must not look complete.
    data.manifest_path.unlink(missing_ok=True)
    data.predictions_dir.mkdir(parents=True, exist_ok=True)
    data.labels_dir.mkdir(parents=True, exist_ok=True)
    wanted = set(files)
    for folder in (data.predictions_dir, data.labels_dir):
        for stale in folder.glob("date=*.parquet"):
            if stale not in wanted:
                stale.unlink()

    _write_parquet(reference_frame(start=start, rows=reference_rows, seed=seed), data.reference_path)
    for day in data.dates:
        frame = _day_with_labels(day, start=start, rows_per_day=rows_per_day, seed=seed, inject_faults=True)
        _write_parquet(frame[COLUMNS], data.prediction_path(day))
        _write_parquet(frame[["prediction_id", "ts", "label"]], data.label_path(day))

    manifest = {**params, "faults": [asdict(f) | {"first_date": f.first_date(start).isoformat()} for f in data.faults]}
    data.manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    log.info(
        "wrote demo data of %s: %d days x %d rows, %d reference rows, to %s",
        MODEL,
        days,
        rows_per_day,
        reference_rows,
        out_dir,
    )
    return data


def _manifest_params(path: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    manifest.pop("faults", None)
    return manifest


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m watchkeeper.demo.generate``: write the demo data and list the faults."""
    parser = argparse.ArgumentParser(prog="python -m watchkeeper.demo.generate", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: $WATCHKEEPER_HOME/demo_data/demo_fraud)"
    )
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START, help="first day (YYYY-MM-DD)")
    parser.add_argument("--days", type=int, default=31, help="number of days of predictions")
    parser.add_argument("--rows-per-day", type=int, default=2000, help="predictions per day")
    parser.add_argument("--reference-rows", type=int, default=20_000, help="rows of reference data")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument("--force", action="store_true", help="regenerate even if the data is up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    data = generate(
        args.out if args.out is not None else default_out_dir(),
        start=args.start,
        days=args.days,
        rows_per_day=args.rows_per_day,
        reference_rows=args.reference_rows,
        seed=args.seed,
        force=args.force,
    )
    print(f"{'wrote' if data.regenerated else 'up to date'}: {data.out_dir}")
    print(f"  reference:   {data.reference_path}")
    print(f"  predictions: {data.predictions_dir}/date=*.parquet ({data.days} days)")
    print(f"  labels:      {data.labels_dir}/date=*.parquet")
    for fault in data.faults:
        print(f"  from {fault.first_date(data.start)} (day {fault.day}): {fault.column}: {fault.description}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
