"""Reading a config file safely: size limit, strict UTF-8, and YAML with bounded alias expansion.

A config is untrusted input that Airflow's DAG processor reads on every parse, so nothing in it may
make parsing slow or large: the file size is capped, the text must be UTF-8, and the YAML node graph
is measured *before* Python objects are built from it -- a "billion laughs" alias bomb is a few
hundred bytes that expand to billions of nodes, and neither libyaml nor ``json.dumps`` returns to the
interpreter often enough for Airflow's import timeout to interrupt them. Imported at DAG parse time:
keep it light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from watchkeeper.exceptions import ConfigError

#: Largest config file read, in bytes (1 MiB). Real configs are a few KB; a model with thousands of
#: features stays far below. Larger files are refused before they are read.
MAX_CONFIG_BYTES = 1 << 20
#: Most YAML nodes a config may expand to once aliases (``*anchor``) are followed. A config with
#: 2,000 features has about 4,000; an alias bomb has billions.
MAX_YAML_NODES = 50_000
#: Deepest nesting of mappings and lists accepted.
MAX_YAML_DEPTH = 64

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses ~10x faster


def read_text(path: Path) -> str:
    """The text of ``path``: a regular file of at most :data:`MAX_CONFIG_BYTES`, valid UTF-8."""
    try:
        if not path.is_file():
            raise ConfigError(f"{path}: (file): not a regular file -- model configs are .yaml files")
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{path}: (file): {size:,} bytes is over the {MAX_CONFIG_BYTES:,}-byte limit of a model config -- "
                "a config is a few KB: move data out of it (lists of values belong in the GX suite or the data)"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: (file): cannot read: {exc.strerror or exc} -- check the path") from exc
    if len(data) > MAX_CONFIG_BYTES:  # grew between stat and read
        raise ConfigError(f"{path}: (file): over the {MAX_CONFIG_BYTES:,}-byte limit of a model config -- shrink it")
    return decode(path, data)


def decode(path: Path, data: bytes) -> str:
    """``data`` decoded as UTF-8; an error names the line and column of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"{path}: line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at column {column}) -- "
            "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
        ) from None


def load_yaml(path: Path, text: str) -> Any:
    """Parse ``text`` with a safe loader, refusing alias bombs, recursive aliases, deep nesting and duplicate keys."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_node_graph(path, node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(yaml)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: {where}: invalid YAML: {problem} -- fix the indentation or quoting") from None
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_node_graph(path: Path, root: yaml.Node) -> int:
    """Count the nodes ``root`` expands to (aliases followed) without expanding it; raise when unsafe.

    Aliases make the graph a DAG whose expanded size can be exponential in its own size; each distinct
    node is visited once and its expanded size memoised, so the count costs time linear in the file.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()  # nodes on the current path: meeting one again is a recursive alias
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            active.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_YAML_NODES:
                raise ConfigError(
                    f"{path}: line {node.start_mark.line + 1}: YAML aliases expand to more than "
                    f"{MAX_YAML_NODES:,} values -- write the values out instead of repeating anchors (*alias)"
                )
            continue
        if key in sizes:
            continue
        if key in active:
            raise ConfigError(
                f"{path}: line {node.start_mark.line + 1}: recursive YAML alias (an anchor used inside itself) -- "
                "remove the *alias"
            )
        if len(active) >= MAX_YAML_DEPTH:
            raise ConfigError(
                f"{path}: line {node.start_mark.line + 1}: nested more than {MAX_YAML_DEPTH} levels deep -- "
                "flatten the config"
            )
        if isinstance(node, yaml.MappingNode):
            _check_duplicate_keys(path, node)
        active.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def _check_duplicate_keys(path: Path, node: yaml.MappingNode) -> None:
    """A key written twice in one mapping: YAML keeps the last silently, so the config would not mean what it says."""
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.value == "<<":
            continue
        line = key.start_mark.line + 1
        if key.value in seen:
            raise ConfigError(
                f"{path}: line {line}: key '{key.value}' is written twice in the same mapping (first on line "
                f"{seen[key.value]}) -- keep one: YAML would silently use the last"
            )
        seen[key.value] = line
