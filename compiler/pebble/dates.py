"""Kestra's `date`, `dateAdd`, `timestamp` and `now()` compiled to Workflows `time.*`/`text.*` expressions.

Every date is first brought to the canonical form `time.format(seconds, zone)` returns,
`YYYY-MM-DDTHH:MM:SS.ffffffZ` or `...ffffff+HH:MM` (always six fraction digits), from which each
java.time.format.DateTimeFormatter pattern letter is a fixed substring or a small computation
(names from lists, day-of-week from the epoch day). Kestra's named formats map the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from compiler.pebble.errors import PebbleError
from compiler.pebble.wexpr import ADD, ATOM, MUL, W, call, const, join_strings, literal_code

_CANON = "0000-00-00T00:00:00."  # fixed characters of the canonical form (positions 0..19)
MONTHS = "January,February,March,April,May,June,July,August,September,October,November,December"
DAYS = "Monday,Tuesday,Wednesday,Thursday,Friday,Saturday,Sunday"

# ChronoUnit name -> seconds (duration-based) or months (month-based).
SECONDS_UNITS = {"NANOS": 1e-9, "MICROS": 1e-6, "MILLIS": 1e-3, "SECONDS": 1, "MINUTES": 60, "HOURS": 3600,
                 "HALF_DAYS": 43200, "DAYS": 86400, "WEEKS": 604800}
MONTH_UNITS = {"MONTHS": 1, "YEARS": 12, "DECADES": 120, "CENTURIES": 1200, "MILLENNIA": 12000}
CHRONO_UNITS = (*SECONDS_UNITS, *MONTH_UNITS, "ERAS", "FOREVER")

NAMED_FORMATS: dict[str, str] = {
    "iso": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_milli": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
    "iso_sec": "yyyy-MM-dd'T'HH:mm:ssXXX",
    "sql": "yyyy-MM-dd HH:mm:ss.SSSSSS",
    "sql_milli": "yyyy-MM-dd HH:mm:ss.SSS",
    "sql_sec": "yyyy-MM-dd HH:mm:ss",
    "iso_local_date": "yyyy-MM-dd",
    "iso_date": "yyyy-MM-ddXXX",
    "iso_offset_date": "yyyy-MM-ddXXX",
    "iso_local_time": "HH:mm:ss.SSSSSS",
}

Hoist = Callable[[W], W]


@dataclass(frozen=True, slots=True)
class _Sub:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Lit:
    text: str


Piece = _Sub | _Lit | W


def _pattern_pieces(pattern: str, pos: int) -> list[tuple[str, int] | str]:
    """Split a DateTimeFormatter pattern into (letter, count) runs and literal strings."""
    out: list[tuple[str, int] | str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "'":
            if pattern.startswith("''", i):
                out.append("'")
                i += 2
                continue
            j, text = i + 1, []
            while True:
                if j >= n:
                    raise PebbleError(f"date pattern {pattern!r}: unterminated quote", pos)
                if pattern.startswith("''", j):
                    text.append("'")
                    j += 2
                elif pattern[j] == "'":
                    break
                else:
                    text.append(pattern[j])
                    j += 1
            out.append("".join(text))
            i = j + 1
        elif c.isalpha():
            j = i
            while j < n and pattern[j] == c:
                j += 1
            out.append((c, j - i))
            i = j
        elif c in "[]{}#":
            raise PebbleError(f"date pattern {pattern!r}: '{c}' is reserved/optional syntax, not supported", pos)
        else:
            out.append(c)
            i += 1
    return out


def format_pattern(s: W, pattern: str, pos: int) -> W:
    """Format the canonical timestamp string `s` with a Java pattern (or Kestra named format)."""
    named = NAMED_FORMATS.get(pattern)
    if named is None and pattern.lower() in NAMED_FORMATS:
        named = NAMED_FORMATS[pattern.lower()]
    if pattern in ("iso",):
        return W(s.code, "string", s.prec)
    pieces: list[Piece] = []
    for run in _pattern_pieces(named or pattern, pos):
        if isinstance(run, str):
            pieces.append(_Lit(run))
        else:
            pieces.extend(_letter(s, run[0], run[1], pattern, pos))
    return _join(s, _merge(pieces))


def _sub(s: W, a: int, b: int) -> W:
    return call("text.substring", s, str(a), str(b), type="string")


def _num(s: W, a: int, b: int) -> W:
    return call("int", _sub(s, a, b), type="int")


def _unpadded(s: W, a: int, b: int) -> W:
    return call("string", _num(s, a, b), type="string")


def _letter(s: W, c: str, n: int, pattern: str, pos: int) -> list[Piece]:
    if c in "yu":
        if n == 2:
            return [_Sub(2, 4)]
        if n == 1:
            return [_unpadded(s, 0, 4)]
        if n == 4:
            return [_Sub(0, 4)]
    elif c in "ML":
        if n == 2:
            return [_Sub(5, 7)]
        if n == 1:
            return [_unpadded(s, 5, 7)]
        if n in (3, 4):
            return [_name(MONTHS, W(f"{_num(s, 5, 7).code} - 1", "int", ADD), short=n == 3)]
    elif c == "d" and n <= 2:
        return [_Sub(8, 10)] if n == 2 else [_unpadded(s, 8, 10)]
    elif c == "H" and n <= 2:
        return [_Sub(11, 13)] if n == 2 else [_unpadded(s, 11, 13)]
    elif c == "m" and n <= 2:
        return [_Sub(14, 16)] if n == 2 else [_unpadded(s, 14, 16)]
    elif c == "s" and n <= 2:
        return [_Sub(17, 19)] if n == 2 else [_unpadded(s, 17, 19)]
    elif c == "S" and n <= 6:
        return [_Sub(20, 20 + n)]
    elif c in "hK" and n <= 2:
        # clock-hour-of-am-pm (1-12) or hour-of-am-pm (0-11)
        h = _num(s, 11, 13).code
        v = f"({h} + 11) % 12 + 1" if c == "h" else f"{h} % 12"
        if n == 1:
            return [W(f"string({v})", "string")]
        return [W(f"text.substring(string({v} + 100), 1, 3)", "string")]
    elif c == "a" and n == 1:
        h = _num(s, 11, 13).code
        return [W(f'text.substring("AMPM", {h} // 12 * 2, {h} // 12 * 2 + 2)', "string")]
    elif c == "E" and n <= 4:
        dow = f"int((time.parse({_sub(s, 0, 10).code} + \"T00:00:00Z\") // 86400 + 3) % 7)"
        return [_name(DAYS, W(dow, "int"), short=n <= 3)]
    elif c == "X" and n == 3:
        return [W(f"text.substring({s.code}, 26, len({s.code}))", "string")]
    raise PebbleError(f"date pattern {pattern!r}: '{c * n}' is not supported", pos)


def _name(names: str, idx: W, short: bool) -> W:
    if short:
        shorts = "".join(n[:3] for n in names.split(","))
        return W(f"text.substring({literal_code(shorts)}, ({idx.code}) * 3, ({idx.code}) * 3 + 3)", "string")
    return W(f"text.split({literal_code(names)}, \",\")[{idx.code}]", "string")


def _merge(pieces: list[Piece]) -> list[Piece]:
    out: list[Piece] = []
    for p in pieces:
        prev = out[-1] if out else None
        if isinstance(p, _Lit) and isinstance(prev, _Sub) and prev.end + len(p.text) <= len(_CANON) \
                and _CANON[prev.end : prev.end + len(p.text)] == p.text and prev.end not in (0, 1, 2, 3):
            out[-1] = _Sub(prev.start, prev.end + len(p.text))
        elif isinstance(p, _Sub) and isinstance(prev, _Sub) and prev.end == p.start:
            out[-1] = _Sub(prev.start, p.end)
        elif isinstance(p, _Lit) and isinstance(prev, _Lit):
            out[-1] = _Lit(prev.text + p.text)
        else:
            out.append(p)
    # A literal absorbed at the end that no further piece continues is still correct text.
    return out


def _join(s: W, pieces: list[Piece]) -> W:
    codes: list[W] = []
    for p in pieces:
        if isinstance(p, _Sub):
            codes.append(_sub(s, p.start, p.end))
        elif isinstance(p, _Lit):
            codes.append(const(p.text))
        else:
            codes.append(p)
    if not codes:
        return const("")
    return join_strings(codes)


def canonical(seconds: W, zone: str) -> W:
    """`time.format(seconds, zone)`: the canonical RFC 3339 string in `zone`."""
    if zone == "UTC":
        return call("time.format", seconds, type="string")
    return call("time.format", seconds, literal_code(zone), type="string")


def to_seconds(value: W, kind: str) -> W:
    """Epoch seconds of a value: an RFC 3339 string, a DATE string (noon), or seconds already."""
    if kind == "seconds":
        return value
    if kind == "date":
        return call("time.parse", W(f"{value.at(ADD)} + \"T12:00:00Z\"", "string", ADD), type="float")
    return call("time.parse", value, type="float")


def date_add_seconds(seconds: W, amount: W, unit: str) -> W:
    factor = SECONDS_UNITS[unit]
    if amount.is_const and isinstance(amount.const, (int, float)):
        delta = amount.const * factor
        if isinstance(factor, int):
            delta = int(delta)
        if delta == 0:
            return seconds
        op = "-" if delta < 0 else "+"
        return W(f"{seconds.at(ADD)} {op} {literal_code(abs(delta))}", "float", ADD)
    return W(f"{seconds.at(ADD)} + {amount.at(MUL)} * {literal_code(factor)}", "float", ADD)


def date_add_months(base: W, amount: W, unit: str, hoist: Hoist) -> W:
    """Add months to an RFC 3339 string in its own offset, clamping the day to the month's end (Java)."""
    k = MONTH_UNITS[unit]
    if amount.is_const and isinstance(amount.const, int):
        add = amount.const * k - 1  # months are counted from 0 (January of year 0)
        months = f"{_num(base, 0, 4).code} * 12 + {_num(base, 5, 7).code}"
        months = f"{months} + {add}" if add > 0 else (f"{months} - {-add}" if add < 0 else months)
    else:
        months = f"{_num(base, 0, 4).code} * 12 + {_num(base, 5, 7).code} - 1 + {amount.at(MUL)} * {k}"
    t = hoist(W(months, "int", ADD)).at(MUL)
    year = f"{t} // 12"
    leap = f"({year}) % 4 == 0 and ({year}) % 100 != 0 or ({year}) % 400 == 0"
    dim = (f"28 + int(text.substring(\"303232332323\", {t} % 12, {t} % 12 + 1))"
           f" + if({t} % 12 == 1 and ({leap}), 1, 0)")
    day = f"math.min({_num(base, 8, 10).code}, {dim})"
    text = (f"string({year}) + \"-\" + text.substring(string({t} % 12 + 101), 1, 3) + \"-\""
            f" + text.substring(string({day} + 100), 1, 3) + text.substring({base.code}, 10, len({base.code}))")
    return call("time.parse", W(text, "string", ADD), type="float")


def check_unit(unit: object, pos: int) -> str:
    if not isinstance(unit, str):
        raise PebbleError("dateAdd: the unit must be a constant string such as 'DAYS'", pos)
    if unit not in CHRONO_UNITS:
        close = [u for u in CHRONO_UNITS if u.lower().startswith(unit.lower()[:3])]
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise PebbleError(f"dateAdd: unknown ChronoUnit '{unit}'{hint}", pos)
    if unit in ("ERAS", "FOREVER"):
        raise PebbleError(f"dateAdd: unit '{unit}' is not supported", pos)
    return unit


_ZONE = re.compile(r"[A-Za-z_]+(/[A-Za-z0-9_+\-]+)*|UTC|GMT|Z")


def check_zone(zone: object, pos: int) -> str:
    if not isinstance(zone, str) or not _ZONE.fullmatch(zone):
        raise PebbleError(f"timeZone must be a constant IANA zone name such as 'Europe/Paris', got {zone!r}", pos)
    return "UTC" if zone in ("UTC", "Z", "GMT", "Etc/UTC") else zone


__all__ = [
    "ATOM",
    "canonical",
    "check_unit",
    "check_zone",
    "date_add_months",
    "date_add_seconds",
    "format_pattern",
    "to_seconds",
]
