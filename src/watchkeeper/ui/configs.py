"""The model configs the UI shows: reloaded only when a file changes, broken ones kept as problems.

Whatever is wrong with a file -- invalid YAML, not UTF-8, an invalid field, a crash in the loader,
the same model name as another file -- it is listed with its problem text and never turns a page or
an API answer into a 500.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from watchkeeper import settings

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig

log = logging.getLogger(__name__)

#: Characters of a problem text shown for a config that crashed the loader.
PROBLEM_CHARS = 2000


@dataclass(frozen=True)
class BrokenConfig:
    """A config file that does not load, and why."""

    path: Path
    problem: str

    @property
    def model_guess(self) -> str:
        """The model the file is probably about (its file name): decides who may see the problem."""
        return self.path.stem


def _problem(path: Path, exc: Exception) -> str:
    from watchkeeper.exceptions import ConfigError

    if isinstance(exc, ConfigError):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return (
            f"{path}: (file): not valid UTF-8 (byte {exc.object[exc.start : exc.start + 1]!r} at position "
            f"{exc.start}) -- save the file as UTF-8"
        )
    text = f"{path}: (file): cannot be loaded ({type(exc).__name__}: {exc}) -- fix the file; `watchkeeper validate` "
    text += "shows every problem"
    return text[:PROBLEM_CHARS]


class ConfigFolder:
    """Model configs of a folder (default: ``settings.config_dir()`` at each call), cached per file mtime."""

    def __init__(self, folder: Path | None) -> None:
        self._folder = folder
        self._cache: dict[Path, tuple[float, LoadedConfig | BrokenConfig]] = {}
        self._lock = threading.Lock()

    @property
    def folder(self) -> Path:
        """The folder read."""
        return self._folder if self._folder is not None else settings.config_dir()

    def _load_one(self, path: Path) -> LoadedConfig | BrokenConfig:
        from watchkeeper.config import load_config

        try:
            return load_config(path)
        except Exception as exc:  # any failure of one file is that file's problem, never the page's
            log.warning("config %s does not load: %s", path, type(exc).__name__)
            return BrokenConfig(path, _problem(path, exc))

    def load(self) -> tuple[dict[str, LoadedConfig], list[BrokenConfig]]:
        """Configs by model name, and the files that do not load (a name defined twice breaks both files)."""
        from watchkeeper.config import config_paths

        folder = self.folder
        try:
            paths = config_paths(folder) if folder.is_dir() else []
        except OSError as exc:
            log.error("cannot list the config folder %s: %s", folder, exc)
            paths = []
        loaded: dict[Path, LoadedConfig | BrokenConfig] = {}
        with self._lock:
            for path in paths:
                try:
                    mtime = path.stat().st_mtime
                except OSError:
                    continue
                cached = self._cache.get(path)
                if cached is None or cached[0] != mtime:
                    cached = (mtime, self._load_one(path))
                    self._cache[path] = cached
                loaded[path] = cached[1]
        return _split(loaded)


def _split(loaded: dict[Path, LoadedConfig | BrokenConfig]) -> tuple[dict[str, LoadedConfig], list[BrokenConfig]]:
    by_name: dict[str, list[tuple[Path, LoadedConfig]]] = {}
    broken: list[BrokenConfig] = []
    for path, item in loaded.items():
        if isinstance(item, BrokenConfig):
            broken.append(item)
        else:
            by_name.setdefault(item.model.name, []).append((path, item))
    good: dict[str, LoadedConfig] = {}
    for name, found in by_name.items():
        if len(found) == 1:
            good[name] = found[0][1]
            continue
        files = [str(p) for p, _ in found]
        for path, _ in found:
            others = ", ".join(f for f in files if f != str(path))
            broken.append(
                BrokenConfig(
                    path,
                    f"{path}: name: model {name!r} is also defined in {others} -- give each model one file "
                    "(rename the model or delete the duplicate)",
                )
            )
    return good, sorted(broken, key=lambda b: str(b.path))
