"""Flow inputs: the types Kestra 1.x knows, their properties, and type checks of their defaults."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Literal

from pydantic import Field

from compiler.durations import parse_duration
from compiler.model.common import Strict, is_expression

InputType = Literal[
    "STRING", "INT", "FLOAT", "BOOLEAN", "BOOL", "SELECT", "MULTISELECT", "ARRAY", "JSON", "YAML", "DATE",
    "DATETIME", "TIME", "DURATION", "URI", "EMAIL", "SECRET", "FILE",
]

_PER_TYPE: dict[str, set[str]] = {
    "STRING": {"validator", "minLength", "maxLength"},
    "INT": {"min", "max"},
    "FLOAT": {"min", "max"},
    "SELECT": {"values", "options", "allowCustomValue", "expression", "autoSelectFirst", "isRadio"},
    "MULTISELECT": {"values", "options", "allowCustomValue", "expression", "autoSelectFirst"},
    "ARRAY": {"itemType"},
    "DATE": {"after", "before"},
    "DATETIME": {"after", "before"},
    "TIME": {"after", "before"},
    "DURATION": {"min", "max"},
    "FILE": {"extension", "allowedFileExtensions"},
    "SECRET": {"validator", "minLength", "maxLength"},
}


class Input(Strict):
    """One entry of `inputs:`."""

    id: str = Field(pattern=r"^[a-zA-Z0-9][.a-zA-Z0-9_-]*$")
    type: InputType
    description: str | None = None
    displayName: str | None = None
    required: bool = True
    defaults: Any = None
    prefill: Any = None
    dependsOn: Any = None
    values: list[Any] | str | None = None
    options: list[Any] | None = None
    allowCustomValue: bool = False
    autoSelectFirst: bool = False
    isRadio: bool = False
    expression: str | None = None
    itemType: InputType | None = None
    validator: str | None = None
    min: Any = None
    max: Any = None
    minLength: int | None = None
    maxLength: int | None = None
    after: Any = None
    before: Any = None
    extension: str | None = None
    allowedFileExtensions: list[str] | None = None

    @property
    def choices(self) -> list[Any] | None:
        vals = self.values if self.values is not None else self.options
        return vals if isinstance(vals, list) else None


def _bad(value: Any, what: str) -> str:
    return f"default {json.dumps(value) if not isinstance(value, str) else repr(value)} is not {what}"


def check_value(inp: Input, value: Any, kind: str | None = None) -> str | None:
    """Why `value` is not acceptable for input `inp` (None when it is, or when it is an expression)."""
    t = kind or inp.type
    if is_expression(value):
        return None
    if t in ("STRING", "SECRET", "EMAIL", "URI"):
        if not isinstance(value, str):
            return _bad(value, "a string")
        if t == "EMAIL" and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            return _bad(value, "an email address")
        if t == "URI" and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", value):
            return _bad(value, "a URI")
        if inp.validator and t == "STRING" and not re.fullmatch(inp.validator, value):
            return f"default {value!r} does not match validator '{inp.validator}'"
        return None
    if t == "INT":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and re.fullmatch(r"[-+]?\d+", value.strip()):
                value = int(value)
            else:
                return _bad(value, "an integer")
        return _range(inp, value)
    if t == "FLOAT":
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                value = float(value)
            except (TypeError, ValueError):
                return _bad(value, "a number")
        return _range(inp, value)
    if t in ("BOOLEAN", "BOOL"):
        if not isinstance(value, bool) and str(value).lower() not in ("true", "false"):
            return _bad(value, "a boolean")
        return None
    if t == "SELECT":
        choices = inp.choices
        if choices is not None and value not in choices and not inp.allowCustomValue:
            return f"default {value!r} is not one of {', '.join(str(c) for c in choices)}"
        return None
    if t in ("MULTISELECT", "ARRAY"):
        items = value if isinstance(value, list) else None
        if items is None:
            return _bad(value, "a list")
        for item in items:
            why = (
                check_value(inp, item, "SELECT") if t == "MULTISELECT" else
                check_value(inp, item, inp.itemType) if inp.itemType else None
            )
            if why:
                return why
        return None
    if t == "DATE":
        return _parse(value, dt.date.fromisoformat, "a date (YYYY-MM-DD)")
    if t == "DATETIME":
        return _parse(value, lambda v: dt.datetime.fromisoformat(v.replace("Z", "+00:00")), "an ISO date-time")
    if t == "TIME":
        return _parse(value, dt.time.fromisoformat, "a time (HH:MM:SS)")
    if t == "DURATION":
        if not isinstance(value, str) or parse_duration(value) is None:
            return _bad(value, "an ISO-8601 duration")
        return None
    if t == "JSON" and isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return _bad(value, "valid JSON")
    return None


def _range(inp: Input, value: float) -> str | None:
    if isinstance(inp.min, int | float) and value < inp.min:
        return f"default {value} is below min {inp.min}"
    if isinstance(inp.max, int | float) and value > inp.max:
        return f"default {value} is above max {inp.max}"
    return None


def _parse(value: Any, parse: Any, what: str) -> str | None:
    if isinstance(value, dt.date | dt.time):
        return None
    try:
        parse(str(value))
    except ValueError:
        return _bad(value, what)
    return None


def check_input(inp: Input) -> list[tuple[str, str]]:
    """Problems of one input as (property, message) pairs."""
    out: list[tuple[str, str]] = []
    allowed = _PER_TYPE.get(inp.type, set())
    specific = set().union(*_PER_TYPE.values())
    for name in sorted(specific - allowed):
        if name in inp.model_fields_set:
            out.append((name, f"property '{name}' does not apply to a {inp.type} input"))
    if inp.type in ("SELECT", "MULTISELECT") and inp.values is None and inp.options is None and not inp.expression:
        out.append(("type", f"a {inp.type} input needs 'values'"))
    if inp.type == "ARRAY" and inp.itemType is None:
        out.append(("type", "an ARRAY input needs 'itemType'"))
    if inp.validator:
        try:
            re.compile(inp.validator)
        except re.error as exc:
            out.append(("validator", f"validator is not a valid regex: {exc}"))
    if inp.defaults is not None:
        why = check_value(inp, inp.defaults)
        if why:
            out.append(("defaults", f"input '{inp.id}': {why}"))
    return out
