"""What every ``watchkeeper`` subcommand shares: exit codes, loading the model, opening the store."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchkeeper import settings
from watchkeeper.config import LoadedConfig, find_config

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_FINDINGS = 0, 1, 2, 3

#: ``model_cmd(name, func, help)`` adds a subcommand that takes a model name and ``--config-dir``.
ModelCommand = Callable[[str, Any, str], argparse.ArgumentParser]


def load_model(args: argparse.Namespace) -> LoadedConfig:
    """The config of ``args.model`` from ``--config-dir`` (default: the configured folder)."""
    return find_config(args.model, Path(args.config_dir) if args.config_dir else settings.config_dir())


def open_store() -> Any:
    """The metric store, migrated."""
    from watchkeeper.store import MetricStore

    store = MetricStore()
    store.migrate()
    return store
