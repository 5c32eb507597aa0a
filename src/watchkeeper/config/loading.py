"""Loading config files: one file at a time, every failure contained to its file.

``load_config`` turns any problem with one file -- unreadable, too large, not UTF-8, an alias bomb,
invalid YAML, a schema error, an invalid schedule, even an unexpected exception -- into a
:class:`ConfigError` naming that file. ``load_configs`` loads a folder (or one shard of it), reports
two files that define the same model as errors naming both, and never raises for a bad file. The
DAG builder, ``watchkeeper validate``, the CLI and the UI all load configs through these functions.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from watchkeeper.config.messages import format_errors
from watchkeeper.config.model import LoadedConfig, ModelConfig
from watchkeeper.config.reading import load_yaml, read_text
from watchkeeper.exceptions import ConfigError
from watchkeeper.sharding import SUFFIXES, config_names, shard_of

log = logging.getLogger(__name__)

__all__ = ["config_paths", "duplicate_errors", "find_config", "load_config", "load_configs", "parse_config", "shard_of"]


def parse_config(path: Path, text: str, cache: _YamlCache | None = None) -> LoadedConfig:
    """Validate YAML ``text`` read from ``path``; raise :class:`ConfigError` listing every problem."""
    data = cache.load(path, text) if cache is not None else load_yaml(path, text)
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: (top level): expected a mapping of keys, got {type(data).__name__} -- "
            "start from an example in dags/models/ or run `watchkeeper init`"
        )
    try:
        model = ModelConfig.model_validate(data)
    except ValidationError as exc:
        problems = format_errors(path, exc, data)
        raise ConfigError("\n".join(problems), problems) from None
    if model.name != path.stem:
        msg = (
            f"{path}: name: model name '{model.name}' differs from the file name '{path.stem}' -- "
            f"rename the file to {model.name}.yaml or set name: {path.stem}"
        )
        others = [p.name for p in _files_of(path.parent, model.name)]
        if others:
            msg += f" (model '{model.name}' is already defined in {' and '.join(others)}: one file per model)"
        raise ConfigError(msg)
    return LoadedConfig(path=path, text=text, model=model)


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class _YamlCache:
    """Parsed YAML keyed by a hash of the text, kept as JSON in the state folder (one file per ``tag``).

    Constructing Python objects from YAML is the slowest step of parsing hundreds of configs; JSON
    loads an order of magnitude faster. Keys are content hashes, so an entry can never be stale. Only
    documents that passed :func:`load_yaml`'s bounds are stored: the cache never expands an alias bomb.
    """

    def __init__(self, tag: str = "all") -> None:
        from watchkeeper.settings import state_dir

        self.path = state_dir() / "cache" / f"config-yaml-{tag}.json"
        self.entries: dict[str, Any] = {}
        self.used: set[str] = set()
        self.dirty = False
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))
            self.entries = entries if isinstance(entries, dict) else {}
        except (OSError, ValueError):
            self.entries = {}

    def load(self, path: Path, text: str) -> Any:
        key = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
        self.used.add(key)
        if key in self.entries:
            return self.entries[key]
        data = load_yaml(path, text)
        try:  # dates become ISO strings, which the schema parses back to the same values
            data = json.loads(json.dumps(data, default=_iso))
        except (TypeError, ValueError):  # other non-JSON scalars: parse every time
            return data
        self.entries[key] = data
        self.dirty = True
        return data

    def save(self) -> None:
        if not self.dirty and self.used == set(self.entries):
            return
        keep = {k: v for k, v in self.entries.items() if k in self.used}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(keep), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:  # a read-only state folder only costs speed
            pass


def load_config(path: str | Path, cache: _YamlCache | None = None) -> LoadedConfig:
    """Read and validate one config file; any failure is a :class:`ConfigError` naming the file."""
    path = Path(path)
    try:
        return parse_config(path, read_text(path), cache)
    except ConfigError:
        raise
    except Exception as exc:  # contain anything else to this one file (e.g. RecursionError, MemoryError)
        log.exception("unexpected error loading %s", path)
        detail = str(exc)[:300]
        raise ConfigError(
            f"{path}: (file): could not be loaded: {type(exc).__name__}: {detail} -- "
            "run `watchkeeper validate` on it and fix or remove the file"
        ) from exc


def config_paths(folder: Path, shard: tuple[int, int] | None = None) -> list[Path]:
    """Config files in ``folder`` (``*.yaml`` and ``*.yml``), sorted; with ``shard=(i, n)`` only shard i of n."""
    return [folder / name for name in config_names(folder, shard)]


def _files_of(folder: Path, model: str) -> list[Path]:
    return [folder / f"{model}{suffix}" for suffix in SUFFIXES if (folder / f"{model}{suffix}").exists()]


def duplicate_errors(paths: list[Path]) -> dict[Path, ConfigError]:
    """Files that define the same model (``m.yaml`` and ``m.yml``): every one of them is an error naming all."""
    by_model: dict[str, list[Path]] = defaultdict(list)
    for path in paths:
        by_model[path.stem].append(path)
    errors: dict[Path, ConfigError] = {}
    for model, files in by_model.items():
        if len(files) < 2:
            continue
        names = " and ".join(str(f) for f in files)
        for path in files:
            errors[path] = ConfigError(
                f"{path}: name: model '{model}' is defined by {len(files)} files ({names}) -- "
                "keep one file per model: delete or rename the others"
            )
    return errors


def load_configs(
    folder: str | Path, shard: tuple[int, int] | None = None
) -> tuple[list[LoadedConfig], dict[Path, ConfigError]]:
    """Load every config of ``folder`` (or of one shard of it); bad ones are returned as errors, never raised."""
    paths = config_paths(Path(folder), shard)
    bad = duplicate_errors(paths)
    good: list[LoadedConfig] = []
    cache = _YamlCache("all" if shard is None else f"{shard[0]}-of-{shard[1]}")
    for path in paths:
        if path in bad:
            continue
        try:
            good.append(load_config(path, cache))
        except ConfigError as exc:
            bad[path] = exc
    cache.save()
    return good, dict(sorted(bad.items()))


def find_config(model: str, folder: str | Path) -> LoadedConfig:
    """The config of ``model`` in ``folder``; a clear error lists the known models otherwise."""
    folder = Path(folder)
    files = _files_of(folder, model)
    if len(files) > 1:
        raise duplicate_errors(files)[files[0]]
    if files:
        return load_config(files[0])
    known = sorted({p.stem for p in config_paths(folder)})
    close = difflib.get_close_matches(model, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known models: {', '.join(known) or 'none'}"
    raise ConfigError(f"{folder / (model + '.yaml')}: (file): no config for model '{model}' -- {hint}")
