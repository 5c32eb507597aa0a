"""Ground-truth labels: read them, join them to a window's predictions, measure coverage.

Labels join to predictions by id. Defined outcomes for bad input:

- duplicate ids with the same label are collapsed; with conflicting labels the last row wins
  (the source order, i.e. the latest file/row) and the conflicts are counted;
- labels whose id is not among the window's predictions are ignored for that window (they belong to
  other windows or to nothing) and counted as ``unmatched``;
- predictions without a label lower the coverage; below ``min_coverage`` the window is not scored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from watchkeeper.exceptions import ConfigError, DataError
from watchkeeper.sources import reader_for

if TYPE_CHECKING:
    from watchkeeper.config import LabelSettings, LoadedConfig
    from watchkeeper.results import Window

log = logging.getLogger(__name__)

#: Column names used in joined frames.
TRUE = "__label__"


@dataclass(frozen=True)
class LabelJoin:
    """The window's predictions with their labels (only labelled rows), plus join statistics."""

    df: pd.DataFrame
    n_predictions: int
    n_labelled: int
    duplicates: int
    conflicts: int
    unmatched: int

    @property
    def coverage(self) -> float:
        """Share of the window's predictions that have a label (0 for an empty window)."""
        return self.n_labelled / self.n_predictions if self.n_predictions else 0.0

    def stats(self) -> dict[str, Any]:
        """JSON-friendly statistics of the join."""
        return {
            "n_predictions": self.n_predictions,
            "n_labelled": self.n_labelled,
            "coverage": self.coverage,
            "duplicate_label_ids": self.duplicates,
            "conflicting_label_ids": self.conflicts,
            "unmatched_labels": self.unmatched,
        }


def label_settings(config: LoadedConfig) -> LabelSettings:
    """The model's label settings; a clear error when the config has no ``performance`` section."""
    perf = config.model.performance
    if perf is None:
        raise ConfigError(
            f"{config.path}: performance: the model has no performance section -- add performance.labels "
            "to measure performance on ground truth"
        )
    return perf.labels


def read_labels(config: LoadedConfig, window: Window) -> pd.DataFrame:
    """Label rows (id and label columns) from the labels source; SQL sources may filter with :start/:end."""
    settings = label_settings(config)
    source = settings.source
    df = reader_for(source.kind).read(source, config.base_dir, None, window)
    missing = [c for c in (settings.id, settings.label) if c not in df.columns]
    if missing:
        raise DataError(
            f"{config.path}: performance.labels: column(s) {missing} not in the labels source "
            f"(columns: {', '.join(map(str, df.columns))}) -- fix performance.labels.id/label"
        )
    return df


def join_labels(
    predictions: pd.DataFrame, labels: pd.DataFrame, *, prediction_id: str, label_id: str, label: str
) -> LabelJoin:
    """Attach labels to predictions by id (ids compared as strings)."""
    lab = pd.DataFrame({"id": labels[label_id].astype("string"), TRUE: labels[label]})
    lab = lab[lab["id"].notna()]
    dup_mask = lab["id"].duplicated(keep=False)
    duplicates = int(lab.loc[dup_mask, "id"].nunique())
    conflicts = 0
    if duplicates:
        as_text = lab.loc[dup_mask, TRUE].astype("string").fillna("<NA>")
        conflicts = int((as_text.groupby(lab.loc[dup_mask, "id"]).nunique() > 1).sum())
        lab = lab.drop_duplicates("id", keep="last")
    pred_ids = predictions[prediction_id].astype("string")
    known = set(pred_ids.dropna())
    unmatched = int((~lab["id"].isin(known)).sum())
    mapping = pd.Series(lab[TRUE].to_numpy(), index=lab["id"].to_numpy())
    joined = predictions.assign(**{TRUE: pred_ids.map(mapping).to_numpy()})
    labelled = joined[joined[TRUE].notna()].reset_index(drop=True)
    if conflicts:
        log.warning("%d prediction ids have conflicting labels; the last label of each was kept", conflicts)
    return LabelJoin(labelled, len(predictions), len(labelled), duplicates, conflicts, unmatched)
