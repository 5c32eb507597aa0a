"""Every way one config file can be broken stays contained to that file, with a message naming it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from watchkeeper.config import MAX_CONFIG_BYTES, config_paths, find_config, load_config, load_configs, shard_of
from watchkeeper.exceptions import ConfigError

from .cfgdata import with_

BOMB = textwrap.dedent(
    """\
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    name: bomb
    """
)


def write(folder: Path, name: str, data: dict | str | bytes) -> Path:
    path = folder / name
    if isinstance(data, dict):
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    elif isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path


def good(folder: Path, name: str = "m1") -> Path:
    return write(folder, f"{name}.yaml", with_("name", name))


def load_in_subprocess(folder: Path, seconds: float = 60) -> dict[str, list[str]]:
    """load_configs(folder) in a child process, so a regression that hangs fails instead of hanging the suite."""
    code = (
        "import json, sys\nfrom watchkeeper.config import load_configs\n"
        "good, bad = load_configs(sys.argv[1])\n"
        "print(json.dumps({'good': [c.model.name for c in good], 'bad': [p.name for p in bad],"
        " 'problems': [p for e in bad.values() for p in e.problems]}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(folder)], capture_output=True, text=True, timeout=seconds, check=True
    )
    return json.loads(out.stdout)


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHKEEPER_HOME", str(tmp_path / "home"))


def test_non_utf8_file_is_one_error_naming_line_and_byte(tmp_path: Path) -> None:
    good(tmp_path)
    text = yaml.safe_dump(with_("description", "caf\u00e9", with_("name", "latin")), allow_unicode=True).encode(
        "latin-1"
    )
    write(tmp_path, "latin.yaml", text)
    configs, bad = load_configs(tmp_path)
    assert [c.model.name for c in configs] == ["m1"]
    (error,) = bad.values()
    line = text[: text.index(b"\xe9")].count(b"\n") + 1
    assert error.problems == [
        f"{tmp_path / 'latin.yaml'}: line {line}: not valid UTF-8 (byte 0xe9 at column 17) -- "
        "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
    ]


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    good(tmp_path)
    text = yaml.safe_dump(with_("name", "huge")) + "# " + "x" * MAX_CONFIG_BYTES + "\n"
    write(tmp_path, "huge.yaml", text)
    configs, bad = load_configs(tmp_path)
    assert [c.model.name for c in configs] == ["m1"]
    (msg,) = bad[tmp_path / "huge.yaml"].problems
    assert f"over the {MAX_CONFIG_BYTES:,}-byte limit of a model config" in msg


def test_alias_bomb_is_refused_quickly_and_never_cached(tmp_path: Path) -> None:
    good(tmp_path)
    write(tmp_path, "bomb.yaml", BOMB)
    started = time.perf_counter()
    result = load_in_subprocess(tmp_path)
    assert time.perf_counter() - started < 30
    assert result["good"] == ["m1"] and result["bad"] == ["bomb.yaml"]
    (msg,) = result["problems"]
    assert "YAML aliases expand to more than 50,000 values -- write the values out" in msg
    cache = tmp_path / "home" / "cache" / "config-yaml-all.json"
    assert len(json.loads(cache.read_text())) == 1  # only the good config; the bomb was never expanded


def test_small_anchors_still_work(tmp_path: Path) -> None:
    text = "x: &bounds {warning: 0.1, critical: 0.25}\n" + yaml.safe_dump(with_("name", "anch"))
    text = text.replace("x: &bounds", "drift:\n  thresholds:\n    psi: &bounds") + "service:\n  error_rate: *bounds\n"
    loaded = load_config(write(tmp_path, "anch.yaml", text))
    assert loaded.model.service.error_rate.critical == 0.25


def test_recursive_alias_deep_nesting_and_duplicate_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"rec\.yaml: line 1: recursive YAML alias"):
        load_config(write(tmp_path, "rec.yaml", "a: &a [1, *a]\n"))
    with pytest.raises(ConfigError, match=r"deep\.yaml: line 1: nested more than 64 levels deep"):
        load_config(write(tmp_path, "deep.yaml", "a: " + "[" * 100 + "]" * 100 + "\n"))
    text = yaml.safe_dump(with_("name", "dup")) + "owner: someone-else\n"
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "dup.yaml", text))
    assert f"{tmp_path / 'dup.yaml'}: line {text.count(chr(10))}: key 'owner' is written twice" in str(info.value)
    assert "YAML would silently use the last" in str(info.value)


def test_same_model_in_two_files_is_an_error_for_both(tmp_path: Path) -> None:
    good(tmp_path, "other")
    yaml_file = good(tmp_path, "m")
    yml_file = write(tmp_path, "m.yml", with_("name", "m"))
    configs, bad = load_configs(tmp_path)
    assert [c.model.name for c in configs] == ["other"]
    assert set(bad) == {yaml_file, yml_file}
    for path in (yaml_file, yml_file):
        (msg,) = bad[path].problems
        assert msg == (
            f"{path}: name: model 'm' is defined by 2 files ({yaml_file} and {yml_file}) -- "
            "keep one file per model: delete or rename the others"
        )
    with pytest.raises(ConfigError, match="model 'm' is defined by 2 files"):
        find_config("m", tmp_path)


def test_file_claiming_another_models_name_says_where_that_model_lives(tmp_path: Path) -> None:
    good(tmp_path, "m")
    write(tmp_path, "copy.yaml", with_("name", "m"))
    _, bad = load_configs(tmp_path)
    (msg,) = bad[tmp_path / "copy.yaml"].problems
    assert "model name 'm' differs from the file name 'copy'" in msg
    assert "(model 'm' is already defined in m.yaml: one file per model)" in msg


def test_unexpected_exception_is_contained_to_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from watchkeeper.config import loading

    good(tmp_path)
    good(tmp_path, "boom")
    real = loading.read_text

    def flaky(path: Path) -> str:
        if path.stem == "boom":
            raise RecursionError("maximum recursion depth exceeded")
        return real(path)

    monkeypatch.setattr(loading, "read_text", flaky)
    configs, bad = load_configs(tmp_path)
    assert [c.model.name for c in configs] == ["m1"]
    (msg,) = bad[tmp_path / "boom.yaml"].problems
    assert msg.startswith(f"{tmp_path / 'boom.yaml'}: (file): could not be loaded: RecursionError: maximum recursion")


def test_directory_empty_file_and_binary_junk(tmp_path: Path) -> None:
    good(tmp_path)
    (tmp_path / "folder.yaml").mkdir()
    write(tmp_path, "empty.yaml", "")
    write(tmp_path, "junk.yaml", b"\x00\x01\x02name: x\n")
    configs, bad = load_configs(tmp_path)
    assert [c.model.name for c in configs] == ["m1"]
    assert "not a regular file" in bad[tmp_path / "folder.yaml"].problems[0]
    assert "expected a mapping of keys, got NoneType" in bad[tmp_path / "empty.yaml"].problems[0]
    assert "invalid YAML" in bad[tmp_path / "junk.yaml"].problems[0]


def test_shards_partition_the_folder(tmp_path: Path) -> None:
    for i in range(40):
        good(tmp_path, f"model_{i:02d}")
    everything = config_paths(tmp_path)
    parts = [config_paths(tmp_path, (i, 4)) for i in range(4)]
    assert sorted(p for part in parts for p in part) == everything
    assert all(part for part in parts)
    assert shard_of("model_07", 4) == shard_of("model_07", 4)  # stable: crc32, not Python's salted hash()
    assert all(shard_of(p.stem, 4) == i for i, part in enumerate(parts) for p in part)
    configs, bad = load_configs(tmp_path, shard=(1, 4))
    assert [c.path for c in configs] == parts[1] and bad == {}
