"""Reading config files: YAML parsing (with a content-keyed cache), validation and error formatting."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from watchkeeper.config.model import LoadedConfig, ModelConfig
from watchkeeper.exceptions import ConfigError

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses ~10x faster


def _all_field_names(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> dict[str, set[str]]:
    """Field names of every model in the schema, keyed by model name (for did-you-mean)."""
    seen = seen if seen is not None else set()
    out: dict[str, set[str]] = {}
    if model in seen:
        return out
    seen.add(model)
    out[model.__name__] = set(model.model_fields)
    for field in model.model_fields.values():
        for sub in _models_in(field.annotation):
            out.update(_all_field_names(sub, seen))
    return out


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _fields_at(loc: tuple[Any, ...], data: Any) -> set[str]:
    """Allowed keys of the object at ``loc`` (best effort, walking the schema with the input data)."""
    from typing import get_args, get_origin

    annotation: Any = ModelConfig
    node = data
    for part in loc:
        models = _models_in(annotation)
        if isinstance(node, dict) and "kind" in node and len(models) > 1:
            models = [
                m for m in models if m.model_fields.get("kind") and m.model_fields["kind"].default == node["kind"]
            ]
        if len(models) == 1 and isinstance(part, str) and part in models[0].model_fields:
            annotation = models[0].model_fields[part].annotation
        elif get_origin(annotation) is dict or any(get_origin(a) is dict for a in get_args(annotation)):
            dict_ann = (
                annotation
                if get_origin(annotation) is dict
                else next(a for a in get_args(annotation) if get_origin(a) is dict)
            )
            annotation = get_args(dict_ann)[1]
        else:
            return set()
        node = node.get(part) if isinstance(node, dict) else None
    models = _models_in(annotation)
    if isinstance(node, dict) and "kind" in node and len(models) > 1:
        models = [m for m in models if m.model_fields.get("kind") and m.model_fields["kind"].default == node["kind"]]
    return set(models[0].model_fields) if len(models) == 1 else set()


_FIXES = {
    "missing": "add this required key",
    "int_parsing": "write a whole number",
    "float_parsing": "write a number",
    "bool_parsing": "write true or false",
    "string_type": "write a text value (quote it if YAML reads it as something else)",
    "enum": "use one of the values listed",
    "literal_error": "use one of the values listed",
    "union_tag_invalid": "set 'kind' to csv, parquet or sql",
    "union_tag_not_found": "add 'kind: csv', 'kind: parquet' or 'kind: sql'",
    "dict_type": "write a mapping (key: value lines)",
    "list_type": "write a list",
    "too_short": "add at least one entry",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
    "datetime_from_date_parsing": "write an ISO date such as 2026-01-01",
}


def _format_errors(path: Path, exc: ValidationError, data: Any) -> list[str]:
    problems = []
    everything = set().union(*_all_field_names(ModelConfig).values())
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in {"csv", "parquet", "sql"}))
        where = ".".join(str(p) for p in loc) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed = _fields_at(loc[:-1], data) or everything
            close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
            fix = f"did you mean '{close[0]}'?" if close else f"remove it (allowed keys: {', '.join(sorted(allowed))})"
            problems.append(f"{path}: {where}: unknown key '{key}' -- {fix}")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        fix = _FIXES.get(kind, "")
        if " -- " in msg or not fix:
            problems.append(f"{path}: {where}: {msg}" + ("" if " -- " in msg else " -- see `watchkeeper schema`"))
        else:
            problems.append(f"{path}: {where}: {msg} -- {fix}")
    return problems


def parse_config(path: Path, text: str, cache: _YamlCache | None = None) -> LoadedConfig:
    """Validate YAML ``text`` read from ``path``; raise :class:`ConfigError` listing every problem."""
    try:
        data = cache.load(text) if cache is not None else yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 -- a safe loader (C-accelerated when available)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(yaml)"
        problem = getattr(exc, "problem", None) or str(exc)
        msg = f"{path}: {where}: invalid YAML: {problem} -- fix the indentation or quoting"
        raise ConfigError(msg) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: (top level): expected a mapping of keys, got {type(data).__name__} -- "
            "start from an example in dags/models/"
        )
    try:
        model = ModelConfig.model_validate(data)
    except ValidationError as exc:
        problems = _format_errors(path, exc, data)
        raise ConfigError("\n".join(problems), problems) from None
    if model.name != path.stem:
        msg = (
            f"{path}: name: model name '{model.name}' differs from the file name '{path.stem}' -- "
            f"rename the file to {model.name}.yaml or set name: {path.stem}"
        )
        raise ConfigError(msg)
    return LoadedConfig(path=path, text=text, model=model)


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class _YamlCache:
    """Parsed YAML keyed by a hash of the text, kept as JSON in the state folder.

    Constructing Python objects from YAML is the slowest step of parsing hundreds of configs; JSON
    loads an order of magnitude faster. Keys are content hashes, so an entry can never be stale.
    """

    def __init__(self) -> None:
        from watchkeeper.settings import state_dir

        self.path = state_dir() / "cache" / "config-yaml.json"
        self.entries: dict[str, Any] = {}
        self.used: set[str] = set()
        self.dirty = False
        try:
            self.entries = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}

    def load(self, text: str) -> Any:
        key = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
        self.used.add(key)
        if key in self.entries:
            return self.entries[key]
        data = yaml.load(text, Loader=_YAML_LOADER)
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
    """Read and validate one config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: (file): cannot read: {exc.strerror} -- check the path") from exc
    return parse_config(path, text, cache)


def config_paths(folder: Path) -> list[Path]:
    """Config files in ``folder`` (``*.yaml`` and ``*.yml``), sorted."""
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def load_configs(folder: str | Path) -> tuple[list[LoadedConfig], dict[Path, ConfigError]]:
    """Load every config of ``folder``; bad ones are returned as errors, never raised."""
    good: list[LoadedConfig] = []
    bad: dict[Path, ConfigError] = {}
    cache = _YamlCache()
    for path in config_paths(Path(folder)):
        try:
            good.append(load_config(path, cache))
        except ConfigError as exc:
            bad[path] = exc
    cache.save()
    return good, bad


def find_config(model: str, folder: str | Path) -> LoadedConfig:
    """The config of ``model`` in ``folder``; a clear error lists the known models otherwise."""
    folder = Path(folder)
    for suffix in (".yaml", ".yml"):
        candidate = folder / f"{model}{suffix}"
        if candidate.exists():
            return load_config(candidate)
    known = [p.stem for p in config_paths(folder)]
    close = difflib.get_close_matches(model, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known models: {', '.join(known) or 'none'}"
    raise ConfigError(f"{folder / (model + '.yaml')}: (file): no config for model '{model}' -- {hint}")
