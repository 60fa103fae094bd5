"""Shared pieces of the flow model: the strict base model, id patterns, durations, and error mapping."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from compiler.diagnostics import Diagnostic, did_you_mean
from compiler.durations import parse_duration
from compiler.yamlsource import Path, SourceMap

ID_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
NAMESPACE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class Strict(BaseModel):
    """Base of every model: unknown properties are errors, values are not coerced across types."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=False)


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _check_duration(value: str) -> str:
    if is_expression(value):
        return value
    if parse_duration(value) is None:
        raise ValueError(f"'{value}' is not an ISO-8601 duration (e.g. PT10M, PT30S, P1D)")
    return value


Duration = Annotated[str, AfterValidator(_check_duration)]


def duration_seconds(value: str | None) -> float | None:
    return None if value is None else parse_duration(value)


def _loc_message(err: Any, model: type[BaseModel] | None, what: str) -> str:
    kind = err["type"]
    loc = err["loc"]
    name = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        known = sorted(model.model_fields) if model is not None and len(loc) == 1 else []
        aliases = [f.alias for f in model.model_fields.values() if f.alias] if model and len(loc) == 1 else []
        return f"unknown property '{name}' for {what}{did_you_mean(name, [*known, *aliases])}"
    if kind == "missing":
        return f"missing required property '{name}' for {what}"
    ctx = err.get("ctx") or {}
    if kind == "literal_error":
        return f"'{name}' must be one of {str(ctx.get('expected', '')).replace(' or ', ', ')}, not {err['input']!r}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()), "")
        return f"'{name}' must be {op} {bound}, not {err['input']!r}"
    if kind == "string_pattern_mismatch":
        return f"invalid {name} {err['input']!r}: use letters, digits, '_' and '-'"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    elif msg.startswith("Assertion failed, "):
        msg = msg[len("Assertion failed, ") :]
    return f"'{name}': {msg}" if name and not msg.startswith(f"'{name}'") and kind != "value_error" else msg


def validation_diagnostics(
    exc: ValidationError, source: SourceMap, base: Path, model: type[BaseModel] | None, what: str
) -> list[Diagnostic]:
    """Turn a pydantic error into diagnostics placed on the offending key or value."""
    out: list[Diagnostic] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
        # drop union-branch tags pydantic inserts (e.g. 'str', 'list[str]')
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in _TYPE_TAGS)))
        path = base + loc
        kind = err["type"]
        if kind == "missing":
            out.append(source.diag(base + loc[:-1], _loc_message(err, model, what), at_key=len(loc) > 1))
        else:
            out.append(source.diag(path, _loc_message(err, model, what), at_key=kind == "extra_forbidden"))
    return out


_TYPE_TAGS = {"str", "int", "float", "bool", "dict", "list", "function-after", "function-plain", "none"}
