"""The source registry, the parse-time catalog and the config union name the same kinds."""

from __future__ import annotations

import typing

import pytest

from watchkeeper.catalogs.sources import SOURCE_KINDS
from watchkeeper.config import Source
from watchkeeper.exceptions import UnknownNameError
from watchkeeper.sources import READERS, reader_for


def test_catalog_registry_and_config_union_agree() -> None:
    union = typing.get_args(typing.get_args(Source)[0])
    assert tuple(sorted(READERS)) == SOURCE_KINDS
    assert {model.model_fields["kind"].default for model in union} == set(SOURCE_KINDS)
    for kind, reader in READERS.items():
        assert reader.kind == kind
        assert reader.config.model_fields["kind"].default == kind  # each kind names its own config model
        assert reader.__doc__


def test_unknown_kind_lists_available() -> None:
    with pytest.raises(
        UnknownNameError, match="No source kind named 'xlsx'. Available source kinds: csv, parquet, sql"
    ):
        reader_for("xlsx")
