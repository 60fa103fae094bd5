"""Result rows of the SQL functions (postgres, duckdb, bigquery): JSON-safe values for responses, and
Amazon Ion text lines for `fetchType: STORE` files (what Kestra's FileSerde writes: one struct a line).
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from kfn.errors import TaskError

# Rows returned inline (FETCH / FETCH_ONE) travel in the workflow's state, which is 512 KB in total.
MAX_INLINE_BYTES = 256 * 1024


def iso_duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    text = f"{sign}P{int(days)}D" if days else f"{sign}P"
    secs = f"{rest:.6f}".rstrip("0").rstrip(".")
    return text + (f"T{secs}S" if rest or not days else "")


def json_value(value: Any) -> Any:
    """A value as it appears in a JSON response (dates ISO-8601, decimals as numbers, bytes base64)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return iso_duration(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def json_row(columns: list[str], row: Iterable[Any]) -> dict[str, Any]:
    return {name: json_value(v) for name, v in zip(columns, row, strict=False)}


class InlineRows:
    """Collects FETCH rows, failing clearly once they would not fit in the workflow's state."""

    def __init__(self, what: str) -> None:
        self.rows: list[dict[str, Any]] = []
        self.size = 2
        self.what = what

    def add(self, row: dict[str, Any]) -> None:
        self.size += len(json.dumps(row, separators=(",", ":"), default=str)) + 1
        if self.size > MAX_INLINE_BYTES:
            raise TaskError(
                f"{self.what}: the fetched rows exceed {MAX_INLINE_BYTES // 1024} KB (after {len(self.rows)} "
                "rows); use fetchType: STORE to write them to a file"
            )
        self.rows.append(row)


# -- Ion text ---------------------------------------------------------------------------------------

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def _ion_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _ion_timestamp(value: datetime) -> str:
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        base += f".{value.microsecond:06d}"
    offset = value.utcoffset()
    if offset is None:
        return base + "-00:00"
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return base + "Z"
    sign = "+" if minutes > 0 else "-"
    return base + f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _ion_decimal(value: Decimal) -> str:
    if not value.is_finite():
        return "nan" if value.is_nan() else ("+inf" if value > 0 else "-inf")
    text = format(value, "f") if -30 < value.adjusted() < 30 else str(value)
    text = text.replace("E", "d").replace("e", "d")
    return text if ("." in text or "d" in text) else text + "."


def ion_value(value: Any) -> str:
    """One value in Ion text notation."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "+inf" if value > 0 else "-inf"
        text = repr(value)
        return text if "e" in text else text + "e0"
    if isinstance(value, Decimal):
        return _ion_decimal(value)
    if isinstance(value, str):
        return _ion_string(value)
    if isinstance(value, datetime):
        return _ion_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return _ion_string(value.isoformat())
    if isinstance(value, timedelta):
        return _ion_string(iso_duration(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return "{{" + base64.b64encode(bytes(value)).decode("ascii") + "}}"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_ion_string(str(k))}:{ion_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ",".join(ion_value(v) for v in value) + "]"
    return _ion_string(str(value))


def ion_line(columns: list[str], row: Iterable[Any]) -> bytes:
    """One row as an Ion struct followed by a newline."""
    fields = ",".join(f"{_ion_string(c)}:{ion_value(v)}" for c, v in zip(columns, row, strict=False))
    return ("{" + fields + "}\n").encode("utf-8")
