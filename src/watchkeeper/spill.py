"""Temporary spill folders of the bounded-memory accumulators (duplicate ids, GX order statistics)."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any


class SpillDir:
    """A temporary folder made on first use and deleted with its files by :meth:`close` -- or, at the
    latest, when the folder object is garbage collected or the interpreter exits."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._path: Path | None = None
        self._cleanup: Any = None  # a weakref.finalize once the folder exists

    @property
    def used(self) -> bool:
        """Whether anything was spilled (the folder exists)."""
        return self._path is not None

    def file(self, name: str) -> Path:
        """The path of ``name`` in the folder (made now if it does not exist yet)."""
        if self._path is None:
            self._path = Path(tempfile.mkdtemp(prefix=self.prefix))
            self._cleanup = weakref.finalize(self, shutil.rmtree, str(self._path), True)
        return self._path / name

    def close(self) -> None:
        """Delete the folder and its files (a later :meth:`file` makes a new one)."""
        if self._cleanup is not None:
            self._cleanup()
        self._path, self._cleanup = None, None
