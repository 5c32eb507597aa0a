"""The retraining part of the metric store: an audit trail of retraining triggers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.results import Window
from watchkeeper.store.common import StoreBase, _copy_row, _now, to_jsonable
from watchkeeper.store.schema import RetrainTrigger


@dataclass(frozen=True)
class RetrainRow:
    """One recorded trigger of a model's retraining DAG. Datetimes are aware UTC."""

    id: int
    model: str
    dag_id: str
    triggered_at: datetime
    window_start: datetime
    window_end: datetime
    reason: str
    failing_metrics: list[Any]
    conf: dict[str, Any]
    run_url: str | None = None

    @property
    def window(self) -> Window:
        """The window whose results triggered retraining."""
        return Window(self.window_start, self.window_end)


class RetrainRepository(StoreBase):
    """Retraining triggers (a mixin of :class:`~watchkeeper.store.store.MetricStore`)."""

    # -- retraining triggers -------------------------------------------------------------------

    def record_retrain_trigger(
        self,
        model: str,
        *,
        dag_id: str,
        window: Window,
        reason: str,
        failing_metrics: Sequence[Mapping[str, Any]],
        conf: Mapping[str, Any],
        run_url: str | None = None,
        triggered_at: datetime | None = None,
    ) -> int:
        """Record that the retraining DAG ``dag_id`` was triggered for ``model``; returns the row id."""

        def work(session: Session) -> int:
            row = RetrainTrigger(
                model=model,
                dag_id=dag_id,
                triggered_at=triggered_at or _now(),
                window_start=window.start,
                window_end=window.end,
                reason=reason,
                failing_metrics=to_jsonable(list(failing_metrics)),
                conf=to_jsonable(dict(conf)),
                run_url=run_url,
            )
            session.add(row)
            session.flush()
            return row.id

        return self._transact(f"record a retraining trigger of model {model!r}", work)

    def retrain_triggers(self, model: str) -> list[RetrainRow]:
        """Recorded retraining triggers of ``model``, newest first."""
        stmt = (
            select(RetrainTrigger)
            .where(RetrainTrigger.model == model)
            .order_by(RetrainTrigger.triggered_at.desc(), RetrainTrigger.id.desc())
        )
        return self._transact(
            f"read retraining triggers of model {model!r}",
            lambda session: [_retrain_row(r) for r in session.scalars(stmt)],
            write=False,
        )


# -- helpers ---------------------------------------------------------------------------------------


def _retrain_row(r: RetrainTrigger) -> RetrainRow:
    return _copy_row(RetrainRow, r)
