"""Airflow's SimpleAuthManager, plus per-DAG limits for some users -- the kind of per-DAG access that FAB or
Keycloak auth managers give, which SimpleAuthManager (roles only) does not have.

``$WATCHKEEPER_TEST_DAG_ACCESS`` maps a user name to the DAG ids they may read, e.g.
``{"carol": ["monitor__churn"]}``. Users not listed behave exactly as with SimpleAuthManager (admin: all,
viewer: read all, no role: nothing). Used by tests/integration/test_ui_browser.py through
``AIRFLOW__CORE__AUTH_MANAGER=ui_auth_manager.PerDagAuthManager``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager


def _limits() -> dict[str, set[str]]:
    raw = json.loads(os.environ.get("WATCHKEEPER_TEST_DAG_ACCESS") or "{}")
    return {user: set(dags) for user, dags in raw.items()}


class PerDagAuthManager(SimpleAuthManager):
    """SimpleAuthManager whose listed users may read only their DAGs."""

    def is_authorized_dag(self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None) -> bool:
        allowed = _limits().get(user.username)
        if allowed is not None and details is not None and details.id is not None and details.id not in allowed:
            return False
        return bool(super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details))
