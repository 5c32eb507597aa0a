"""Data sources: stream a window of the prediction log, read the reference data, fingerprint it cheaply.

Each source kind (``csv``, ``parquet``, ``sql``) is one small class in the explicit registry
:data:`READERS`, holding its config model, how it pushes a window down to where the data lives
(partition folders and row-group statistics for files, bound ``:start``/``:end`` and a server-side
cursor for SQL), how it names itself in errors without secrets, and a cheap fingerprint.
:func:`scan_window` is the streamed pass a run makes; :func:`read_window` concatenates it for callers
that want one frame. See ``docs/sources.md``.
"""

from watchkeeper.sources.base import AnySource, Frame, ScanRecord, ScanRequest, SourceKind, to_utc
from watchkeeper.sources.files import expand_files
from watchkeeper.sources.registry import READERS, reader_for
from watchkeeper.sources.sql import sql_url
from watchkeeper.sources.window import WindowScan, read_reference, read_window, reference_fingerprint, scan_window

__all__ = [
    "READERS",
    "AnySource",
    "Frame",
    "ScanRecord",
    "ScanRequest",
    "SourceKind",
    "WindowScan",
    "expand_files",
    "read_reference",
    "read_window",
    "reader_for",
    "reference_fingerprint",
    "scan_window",
    "sql_url",
    "to_utc",
]
