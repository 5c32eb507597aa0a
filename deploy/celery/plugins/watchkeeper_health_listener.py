"""Registers Watchkeeper's DAG-run note listener with Airflow (until the Watchkeeper plugin lists it itself).

Put this folder on ``[core] plugins_folder`` (``deploy/celery/launch.py`` does). Registering the listener
twice is harmless: Airflow's listener manager skips a module it already has.
"""

from airflow.plugins_manager import AirflowPlugin

from watchkeeper.airflow import health_listener


class WatchkeeperHealthListener(AirflowPlugin):
    """Writes each monitor/performance run's health into its DAG-run note."""

    name = "watchkeeper_health_listener"
    listeners = [health_listener]
