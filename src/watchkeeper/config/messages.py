"""Validation errors as ``file: field: what -- how to fix`` lines, with "did you mean" for unknown keys."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from watchkeeper.config.model import ModelConfig


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
    lazy = getattr(annotation, "config_models", None)  # a union resolved on first use (alerts.sinks)
    if callable(lazy):
        return list(lazy())
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


def format_errors(path: Path, exc: ValidationError, data: Any) -> list[str]:
    """One line per validation error of ``data`` (read from ``path``), each saying how to fix it."""
    problems = []
    everything = set().union(*_all_field_names(ModelConfig).values())
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in {"csv", "parquet", "sql", "[key]"}))
        field = getattr(err.get("ctx", {}).get("error"), "field", None)  # a FieldError names its field
        if isinstance(field, str):
            loc = (*loc, field)
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
