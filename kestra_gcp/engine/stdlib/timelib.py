"""time module: format epoch seconds as RFC 3339 in a time zone, and parse RFC 3339 back to seconds."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kestra_gcp.engine.errors import type_error, value_error
from kestra_gcp.engine.stdlib.registry import builtin
from kestra_gcp.engine.values import is_number, type_name

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$")


def _zone(name: Any) -> dt.tzinfo:
    if not isinstance(name, str):
        raise type_error(f"time.format: timezone must be a string, got {type_name(name)}")
    if name in ("", "UTC", "Z", "Etc/UTC"):
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise value_error(f"time.format: unknown time zone {name!r}") from None


def format_seconds(seconds: float, zone: dt.tzinfo = dt.UTC) -> str:
    whole = int(seconds // 1)
    micros = round((seconds - whole) * 1_000_000)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    t = dt.datetime.fromtimestamp(whole, dt.UTC).replace(microsecond=micros).astimezone(zone)
    # Always six fraction digits, as the reference examples show ("2024-07-12T12:50:33.000000Z").
    text = t.strftime("%Y-%m-%dT%H:%M:%S") + f".{micros:06d}"
    off = t.utcoffset()
    if not off:
        return text + "Z"
    total = int(off.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return f"{text}{sign}{total // 3600:02d}:{total % 3600 // 60:02d}"


@builtin("time.format")
def time_format(rt: Any, seconds: Any, timezone: Any = "UTC") -> str:
    if not is_number(seconds):
        raise type_error(f"time.format: seconds must be a number, got {type_name(seconds)}")
    return format_seconds(float(seconds), _zone(timezone))


def parse_rfc3339(value: str) -> float:
    m = _RFC3339.match(value)
    if not m:
        raise value_error(f"time.parse: not an RFC 3339 timestamp: {value!r}")
    y, mo, d, h, mi, s, frac, off = m.groups()
    try:
        zone = dt.UTC
        if off not in ("Z", "z"):
            sign = 1 if off[0] == "+" else -1
            zone = dt.timezone(sign * dt.timedelta(hours=int(off[1:3]), minutes=int(off[4:6])))
        t = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=zone)
    except ValueError as exc:
        raise value_error(f"time.parse: {exc}: {value!r}") from None
    seconds = t.timestamp()
    if frac:
        seconds += int(frac) / 10 ** len(frac)
    return seconds


@builtin("time.parse")
def time_parse(rt: Any, value: Any) -> float:
    if not isinstance(value, str):
        raise type_error(f"time.parse: value must be a string, got {type_name(value)}")
    return parse_rfc3339(value)
