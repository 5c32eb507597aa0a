"""The thin Airflow layer: DAG builder, task bodies and (later) the UI plugin."""
