"""Watchkeeper: one monitor DAG per model config in dags/models/ (see README)."""

from pathlib import Path

from watchkeeper.airflow.dag_builder import register

register(globals(), Path(__file__).parent / "models")
