"""Command-line inputs (`-i name=value`) parsed by the flow's declared input types.

The compiled workflow validates its inputs again at start; parsing here turns `year=2019` into the integer
the workflow expects and rejects a bad value before any service starts.
"""

from __future__ import annotations

import json
from typing import Any

from kestra_gcp.errors import UserError

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def split_assignments(items: list[str], option: str = "-i") -> dict[str, str]:
    """`["a=1", "b=x=y"]` -> `{"a": "1", "b": "x=y"}`; a missing `=` is an error."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UserError(f"{option} {item!r}: expected name=value")
        result[name.strip()] = value
    return result


def _parse_one(spec: dict[str, Any], raw: str) -> Any:
    kind = str(spec.get("type", "STRING")).upper()
    name = spec["id"]
    if kind == "INT":
        try:
            return int(raw)
        except ValueError:
            raise UserError(f"input '{name}': {raw!r} is not an INT") from None
    if kind == "FLOAT":
        try:
            return float(raw)
        except ValueError:
            raise UserError(f"input '{name}': {raw!r} is not a FLOAT") from None
    if kind in {"BOOLEAN", "BOOL"}:
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise UserError(f"input '{name}': {raw!r} is not a BOOLEAN (true or false)")
    if kind in {"JSON", "ARRAY", "YAML"}:
        try:
            return json.loads(raw)
        except ValueError:
            raise UserError(f"input '{name}': {raw!r} is not valid JSON") from None
    if kind == "MULTISELECT":
        try:
            value = json.loads(raw)
        except ValueError:
            value = [part.strip() for part in raw.split(",") if part.strip()]
        if not isinstance(value, list):
            raise UserError(f"input '{name}': expected a JSON list or comma-separated values")
        return value
    if kind == "SELECT":
        values = spec.get("values")
        custom = bool(spec.get("allowCustomValue"))
        if isinstance(values, list) and values and not custom and raw not in [str(v) for v in values]:
            raise UserError(f"input '{name}': {raw!r} is not one of {', '.join(str(v) for v in values)}")
    return raw


def parse_inputs(declared: list[dict[str, Any]], raw: dict[str, str]) -> dict[str, Any]:
    """Typed values for the given inputs; unknown names are errors. Defaults are the workflow's job."""
    by_id = {str(spec["id"]): spec for spec in declared}
    unknown = sorted(set(raw) - set(by_id))
    if unknown:
        known = ", ".join(sorted(by_id)) or "none"
        raise UserError(f"unknown input '{unknown[0]}' (the flow's inputs: {known})")
    return {name: _parse_one(by_id[name], value) for name, value in raw.items()}
