"""Watchkeeper's web UI: model-health pages and a JSON API (:func:`watchkeeper.ui.app.create_app`)."""
