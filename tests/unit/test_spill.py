"""Spill folders: made on first use, deleted by close() or when their owner is garbage collected."""

from __future__ import annotations

import gc

from watchkeeper.profile.sketch import DuplicateCounter
from watchkeeper.spill import SpillDir


def test_made_on_first_use_and_deleted_with_its_files_on_close() -> None:
    spill = SpillDir("wk-test-spill-")
    assert not spill.used
    path = spill.file("a.bin")
    path.write_bytes(b"x")
    assert spill.used and path.parent.name.startswith("wk-test-spill-")
    spill.close()
    assert not path.parent.exists() and not spill.used
    spill.close()  # twice is fine
    again = spill.file("a.bin")
    assert again.parent != path.parent and again.parent.is_dir()
    spill.close()


def test_an_accumulator_dropped_without_close_leaves_no_files() -> None:
    import numpy as np

    counter = DuplicateCounter(buffer_hashes=10)
    counter.add_hashes(np.arange(100, dtype=np.uint64))
    assert counter._spill.used
    folder = counter._spill.file("00.u64").parent
    assert any(folder.iterdir())
    del counter
    gc.collect()
    assert not folder.exists()
