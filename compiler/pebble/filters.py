"""Pebble filters compiled to Workflows expressions (one function per filter family)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from compiler.pebble import ast, dates
from compiler.pebble.checker import arg_value, path_of
from compiler.pebble.errors import PebbleError
from compiler.pebble.registry import FILTERS, Signature
from compiler.pebble.wexpr import ADD, ATOM, CMP, MUL, W, call, const, index, member

if TYPE_CHECKING:
    from compiler.pebble.codegen import Generator

_REGEX_META = re.compile(r"[\\^$.|?*+()\[\]{}]")
_SIMPLE = {"upper": "text.to_upper", "lower": "text.to_lower", "urldecode": "text.url_decode",
           "urlencode": "text.url_encode_plus"}


def _regex_quote(s: str) -> str:
    return _REGEX_META.sub(lambda m: "\\" + m.group(), s)


def _kind_of(g: Generator, operand: ast.Expr, w: W) -> str:
    """How a date value is represented: 'rfc3339' string, 'date' (YYYY-MM-DD) or 'seconds'."""
    p = path_of(operand)
    if p is not None and p[0] == "inputs" and len(p[1]) == 1 and isinstance(p[1][0], str):
        t = g.scope.inputs.get(p[1][0], "")
        if t == "DATE":
            return "date"
    if w.type in ("int", "float"):
        raise PebbleError("date filters on epoch numbers cannot be compiled; use an RFC 3339 string", operand.pos)
    if w.is_const:
        if isinstance(w.const, str) and _LOCAL_DATE.fullmatch(w.const):
            return "date"
        if not (isinstance(w.const, str) and _RFC3339.fullmatch(w.const)):
            raise PebbleError(f"{w.const!r} is not a date: expected RFC 3339 ('2024-01-31T10:00:00Z') "
                              "or a date ('2024-01-31')", operand.pos)
    return "rfc3339"


_LOCAL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def compile_filter(g: Generator, e: ast.Filter) -> W:
    name = e.name
    sig = FILTERS.get(name)
    if sig is None:
        raise PebbleError(f"unknown filter '{name}'", e.name_pos)
    if name == "default":
        with g.lazy():
            return _default(g, e)
    if name in ("first", "last") and isinstance(e.operand, ast.Filter) and e.operand.name == "jq":
        return _jq_path(g, e.operand)
    if name == "jq":
        raise PebbleError("jq returns a list: only `| jq('.a.b') | first` with a plain path can be compiled",
                          e.name_pos)
    if name == "date" and _instant(g, e.operand) is not None:
        return _date(g, e, None, sig)
    if name == "dateAdd":
        return _date_add(g, e, W("", "any"), sig)
    v = g.expr(e.operand)
    if v.is_const and isinstance(v.const, str) and "{{secret:" in v.const and name != "string":
        raise PebbleError(f"filter '{name}' cannot be applied to a secret: secret() is only resolved by the "
                          "function that uses it, so it can only be inserted as text", e.name_pos)
    if v.is_const and name in _FOLDED:
        return const(_fold(name, v.const))
    if name in _SIMPLE:
        return call(_SIMPLE[name], g.stringify(v), type="string")
    compile_use = _RUNTIME.get(name)
    if compile_use is None or (name == "slice" and v.type != "string"):
        raise PebbleError(f"filter '{name}' cannot be compiled to a Workflows expression", e.name_pos)
    return compile_use(_Use(g, e, v, sig))


@dataclass(frozen=True)
class _Use:
    """One application of a filter to a runtime operand: its node, the compiled operand and the signature."""

    g: Generator
    e: ast.Filter
    v: W
    sig: Signature

    @property
    def name(self) -> str:
        return self.e.name

    def arg(self, i: int) -> W | None:
        return self.g.arg(self.e.args, i, self.sig)

    def const_arg(self, i: int, what: str) -> object:
        return self.g.const_arg(self.e.args, i, self.sig, f"{self.name}: {what}", self.e.name_pos)

    def fail(self, message: str) -> PebbleError:
        return PebbleError(message, self.e.name_pos)


def _first_last(u: _Use) -> W:
    t = u.g.temp(u.v)
    if u.v.type == "string":
        rng = "0, 1" if u.name == "first" else f"len({t.code}) - 1, len({t.code})"
        return W(f"text.substring({t.code}, {rng})", "string")
    idx = "0" if u.name == "first" else f"len({t.code}) - 1"
    return W(f"{t.at(ATOM)}[{idx}]", "any")


def _split(u: _Use) -> W:
    delim = u.const_arg(0, "delimiter")
    if not isinstance(delim, str) or _REGEX_META.search(delim) or not delim:
        raise u.fail("split: the delimiter must be a constant without regex characters "
                     "(Pebble splits on a regular expression)")
    if arg_value(u.e.args, 1, u.sig) is not None:
        raise u.fail("split: 'limit' cannot be compiled")
    return call("text.split", u.g.stringify(u.v), const(delim), type="list")


def _affix(u: _Use) -> W:
    """startsWith / endsWith: a regex match for a constant affix, a substring comparison otherwise."""
    x = u.arg(0)
    assert x is not None
    starts = u.name == "startsWith"
    if x.is_const and isinstance(x.const, str):
        rx = "^" + _regex_quote(x.const) if starts else _regex_quote(x.const) + "$"
        return call("text.match_regex", u.g.stringify(u.v), const(rx), type="bool")
    t, xs = u.g.temp(u.g.stringify(u.v)), u.g.temp(u.g.stringify(x))
    if starts:
        return W(f"text.substring({t.code}, 0, len({xs.code})) == {xs.at(ADD)}", "bool", CMP)
    return W(f"text.substring({t.code}, len({t.code}) - len({xs.code}), len({t.code})) == {xs.at(ADD)}",
             "bool", CMP)


def _indent(u: _Use) -> W:
    amount = u.const_arg(0, "amount")
    prefix = u.const_arg(1, "prefix")
    prefix = " " if prefix is None else prefix
    if not isinstance(amount, int) or amount < 0 or not isinstance(prefix, str):
        raise u.fail(f"{u.name}: 'amount' must be a constant integer >= 0 and 'prefix' a string")
    pad = "\n" + prefix * amount
    w = call("text.replace_all", u.g.stringify(u.v), const("\n"), const(pad), type="string")
    return W(f"{const(pad).code} + {w.code}", "string", ADD) if u.name == "nindent" else w


def _capitalize(u: _Use) -> W:
    t = u.g.temp(u.g.stringify(u.v))
    return W(f"text.to_upper(text.substring({t.code}, 0, 1)) + text.substring({t.code}, 1, len({t.code}))",
             "string", ADD)


def _abbreviate(u: _Use) -> W:
    n = u.const_arg(0, "length")
    if not isinstance(n, int) or n < 4:
        raise u.fail("abbreviate: the length must be a constant integer >= 4")
    t = u.g.temp(u.g.stringify(u.v))
    return call("if", W(f"len({t.code}) <= {n}", "bool", CMP), t,
                W(f"text.substring({t.code}, 0, {n - 3}) + \"...\"", "string", ADD), type="string")


def _merge(u: _Use) -> W:
    other = u.arg(0)
    assert other is not None
    if u.v.type == "list" or other.type == "list":
        # list.concat appends one value: a constant list is appended item by item.
        if not (other.is_const and isinstance(other.const, list)):
            raise u.fail("merge of two runtime lists cannot be compiled")
        w = u.v
        for item in other.const:
            w = call("list.concat", w, const(item), type="list")
        return w
    return call("map.merge", u.v, other, type="map")


def _slice(u: _Use) -> W:
    a, b = u.arg(0) or const(0), u.arg(1)
    t = u.g.temp(u.v)
    end = b.code if b is not None else f"len({t.code})"
    return W(f"text.substring({t.code}, {a.code}, {end})", "string")


def _timestamp(u: _Use) -> W:
    """timestamp (epoch seconds) and timestampMilli/Micro/Nano."""
    name = u.name
    zone = u.const_arg(0, "timeZone")
    if u.const_arg(1, "existingFormat") is not None:
        raise u.fail(f"{name}: 'existingFormat' cannot be compiled")
    kind = _kind_of(u.g, u.e.operand, u.v)
    if kind == "date" and zone not in (None, "UTC"):
        raise u.fail(f"{name} of a DATE in a zone other than UTC cannot be compiled")
    secs = u.g.temp(dates.to_seconds(u.v, kind))
    whole = call("int", secs, type="int")
    if name == "timestamp":
        return whole
    # The fraction is read from the canonical string: no float rounding.
    digits, scale = {"timestampMilli": (3, 1000), "timestampMicro": (6, 10**6),
                     "timestampNano": (6, 10**6)}[name]
    frac = f"int(text.substring(time.format({secs.code}), 20, {20 + digits}))"
    code = f"{whole.code} * {scale} + {frac}"
    if name == "timestampNano":
        code = f"({code}) * 1000"
    return W(code, "int", ADD if name != "timestampNano" else MUL)


_FOLDED = ("upper", "lower", "trim", "length", "first", "last", "toJson", "json", "string")
_RUNTIME: dict[str, Callable[[_Use], W]] = {
    "trim": lambda u: call("text.replace_all_regex", u.g.stringify(u.v), '"^\\\\s+|\\\\s+$"', '""', type="string"),
    "length": lambda u: call("len", u.v, type="int"),
    "string": lambda u: u.g.stringify(u.v),
    "toJson": lambda u: call("json.encode_to_string", u.v, type="string"),
    "json": lambda u: call("json.encode_to_string", u.v, type="string"),
    **dict.fromkeys(("first", "last"), _first_last),
    "abs": lambda u: call("math.abs", u.v, type=u.v.type),
    "keys": lambda u: call("keys", u.v, type="list"),
    "number": lambda u: _number(u.g, u.v, u.const_arg(0, "type"), u.e),
    "replace": lambda u: _replace(u.g, u.v, u.e),
    "split": _split,
    "join": lambda u: _join(u.g, u.v, u.const_arg(0, "separator"), u.e),
    **dict.fromkeys(("startsWith", "endsWith"), _affix),
    **dict.fromkeys(
        ("substringBefore", "substringBeforeLast", "substringAfter", "substringAfterLast"),
        lambda u: _substring(u.g, u.name, u.v, u.arg(0), u.e),
    ),
    **dict.fromkeys(("indent", "nindent"), _indent),
    "capitalize": _capitalize,
    "abbreviate": _abbreviate,
    "merge": _merge,
    "base64encode": lambda u: call("base64.encode", call("text.encode", u.g.stringify(u.v)), type="string"),
    "base64decode": lambda u: call("text.decode", call("base64.decode", u.v), type="string"),
    "slice": _slice,
    "date": lambda u: _date(u.g, u.e, u.v, u.sig),
    **dict.fromkeys(("timestamp", "timestampMilli", "timestampMicro", "timestampNano"), _timestamp),
}


_JQ_STEP = re.compile(r'\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\["([^"\\]*)"\]|\.\["([^"\\]*)"\]')


def _jq_path(g: Generator, jq: ast.Filter) -> W:
    """`x | jq('.a.b[0]') | first` -> `x.a.b[0]` (a JSON string input is decoded first)."""
    expr = g.const_arg(jq.args, 0, FILTERS["jq"], "jq: expression", jq.name_pos)
    if not isinstance(expr, str):
        raise PebbleError("jq: the expression must be a constant string", jq.name_pos)
    text = expr.strip()
    steps: list[str | int] = []
    i = 1 if text.startswith(".") and (len(text) == 1 or text[1] in "[") else 0
    while i < len(text):
        m = _JQ_STEP.match(text, i)
        if not m:
            raise PebbleError(f"jq expression {expr!r} cannot be compiled (only paths like '.a.b[0]')", jq.name_pos)
        name, num, key, key2 = m.groups()
        steps.append(int(num) if num is not None else (name or key or key2 or ""))
        i = m.end()
    v = g.expr(jq.operand)
    w = call("json.decode", v) if v.type == "string" else v
    for step in steps:
        w = index(w, const(step)) if isinstance(step, int) else member(w, step)
    return w


def _fold(name: str, v: object) -> object:
    from compiler.pebble.codegen import _render_const

    if name == "upper":
        return _render_const(v).upper()
    if name == "lower":
        return _render_const(v).lower()
    if name == "trim":
        return _render_const(v).strip()
    if name == "length":
        return 0 if v is None else len(v) if isinstance(v, (str, list, dict)) else len(_render_const(v))
    if name == "string":
        return _render_const(v)
    if name in ("toJson", "json"):
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    if isinstance(v, (str, list)) and v:
        return v[0] if name == "first" else v[-1]
    return None


def _default(g: Generator, e: ast.Filter) -> W:
    sig = FILTERS["default"]
    d = g.arg(e.args, 0, sig)
    assert d is not None
    safe = g.safe_get(e.operand)
    v = safe if safe is not None else g.expr(e.operand)
    if v.is_const:
        return d if v.const in (None, "", [], {}) else v
    t = g.temp(v)
    # Pebble's default also replaces empty strings, lists and maps.
    if t.type in ("int", "float", "bool"):
        return call("default", t, d, type=t.type)
    # For a string or a value of unknown type, compare with "" (a number is never equal to it).
    cond = f"len(default({t.code}, \"\")) == 0" if t.type in ("list", "map") else f"default({t.code}, \"\") == \"\""
    return call("if", W(cond, "bool", CMP), d, t, type=t.type if t.type == d.type else "any")


def _number(g: Generator, v: W, ntype: object, e: ast.Filter) -> W:
    if ntype is None:
        if v.is_const and isinstance(v.const, str):
            try:
                return const(int(v.const))
            except ValueError:
                try:
                    return const(float(v.const))
                except ValueError:
                    raise PebbleError(f"number: {v.const!r} is not a number", e.pos) from None
        t = g.temp(v)
        return call("if", W(f"len(text.find_all({t.code}, \".\")) > 0", "bool", CMP),
                    call("double", t), call("int", call("double", t)), type="any")
    if not isinstance(ntype, str) or ntype.upper() not in ("INT", "LONG", "FLOAT", "DOUBLE"):
        raise PebbleError(f"number: type {ntype!r} cannot be compiled (INT, LONG, FLOAT, DOUBLE)", e.name_pos)
    return call("int" if ntype.upper() in ("INT", "LONG") else "double", v,
                type="int" if ntype.upper() in ("INT", "LONG") else "float")


def _replace(g: Generator, v: W, e: ast.Filter) -> W:
    sig = FILTERS["replace"]
    pairs = g.const_arg(e.args, 0, sig, "replace: replace_pairs", e.name_pos)
    regexp = g.const_arg(e.args, 1, sig, "replace: regexp", e.name_pos)
    if not isinstance(pairs, dict):
        raise PebbleError("replace: the replacements must be a constant map such as {'a': 'b'}", e.name_pos)
    w = g.stringify(v)
    for old, new in pairs.items():
        if regexp:
            w = call("text.replace_all_regex", w, const(str(old)), const(str(new)), type="string")
        else:
            w = call("text.replace_all", w, const(str(old)), const(str(new)), type="string")
    return w


def _join(g: Generator, v: W, sep: object, e: ast.Filter) -> W:
    sep = "" if sep is None else sep
    if not isinstance(sep, str):
        raise PebbleError("join: the separator must be a constant string", e.name_pos)
    if v.is_const and isinstance(v.const, list):
        from compiler.pebble.codegen import _render_const

        return const(sep.join(_render_const(x) for x in v.const))
    inner = e.operand
    if isinstance(inner, ast.Filter) and inner.name == "split":
        # `s | split(a) | join(b)` is a replacement.
        src = g.expr(inner.operand)
        delim = g.const_arg(inner.args, 0, FILTERS["split"], "split: delimiter", inner.name_pos)
        return call("text.replace_all", g.stringify(src), const(delim), const(sep), type="string")
    raise PebbleError("join of a runtime list cannot be compiled (Workflows has no join)", e.name_pos)


def _substring(g: Generator, name: str, v: W, sep: W | None, e: ast.Filter) -> W:
    assert sep is not None
    if sep.is_const and sep.const == "":
        raise PebbleError(f"{name}: empty separator", e.name_pos)
    s, p = g.temp(g.stringify(v)), g.temp(g.stringify(sep))
    parts = f"text.split({s.code}, {p.code})"
    if name == "substringBefore":
        return W(f"{parts}[0]", "string")
    if name == "substringAfter":
        plen = str(len(p.const)) if p.is_const else f"len({p.code})"
        start = f"math.min(len({parts}[0]) + {plen}, len({s.code}))"
        return W(f"text.substring({s.code}, {start}, len({s.code}))", "string")
    lst = g.temp(W(parts, "list"))
    last = f"{lst.code}[len({lst.code}) - 1]"
    if name == "substringAfterLast":
        return call("if", W(f"len({lst.code}) == 1", "bool", CMP), const(""), W(last, "string"), type="string")
    if name == "substringBeforeLast":
        plen = str(len(p.const)) if p.is_const else f"len({p.code})"
        end = f"math.max(len({s.code}) - len({last}) - {plen}, 0)"
        return call("if", W(f"len({lst.code}) == 1", "bool", CMP), s,
                    W(f"text.substring({s.code}, 0, {end})", "string"), type="string")
    raise PebbleError(f"filter '{name}' cannot be compiled", e.name_pos)


def _zone(g: Generator, e: ast.Filter, i: int) -> str:
    z = g.const_arg(e.args, i, FILTERS[e.name], f"{e.name}: timeZone", e.name_pos)
    return dates.check_zone(z, e.name_pos) if z is not None else g.ctx.time_zone


def _date(g: Generator, e: ast.Filter, v: W | None, sig: object) -> W:
    fmt = g.const_arg(e.args, 0, FILTERS["date"], "date: format", e.name_pos)
    zone = _zone(g, e, 1)
    if g.const_arg(e.args, 2, FILTERS["date"], "date: existingFormat", e.name_pos) is not None:
        raise PebbleError("date: 'existingFormat' cannot be compiled", e.name_pos)
    locale = g.const_arg(e.args, 3, FILTERS["date"], "date: locale", e.name_pos)
    if locale is not None and not str(locale).lower().startswith("en"):
        raise PebbleError("date: only English locales can be compiled", e.name_pos)
    if not isinstance(fmt, (str, type(None))):
        raise PebbleError("date: the format must be a constant string", e.name_pos)
    secs = _instant(g, e.operand)
    if secs is not None:  # dateAdd(...) | date(...) and now() | date(...): no string round trip
        s = dates.canonical(secs, zone)
    else:
        v = v if v is not None else g.expr(e.operand)
        kind = _kind_of(g, e.operand, v)
        if kind == "date" and zone == "UTC":
            s = W(f"{v.at(ADD)} + \"T12:00:00.000000Z\"", "string", ADD)
        else:
            s = dates.canonical(dates.to_seconds(v, kind), zone)
    return dates.format_pattern(g.temp(s), fmt or "iso", e.name_pos)


def _instant(g: Generator, operand: ast.Expr) -> W | None:
    """Epoch seconds of `operand` when it is a dateAdd without format or a now() without format."""
    if isinstance(operand, ast.Filter) and operand.name == "dateAdd" \
            and arg_value(operand.args, 2, FILTERS["dateAdd"]) is None:
        return _date_add_seconds(g, operand)
    if isinstance(operand, ast.Call) and operand.name == "now" and not operand.args:
        return W("sys.now()", "float")
    return None


def _date_add_seconds(g: Generator, e: ast.Filter) -> W:
    sg = FILTERS["dateAdd"]
    amount = g.arg(e.args, 0, sg)
    assert amount is not None
    if amount.type not in ("int", "any") and not (amount.is_const and isinstance(amount.const, int)):
        raise PebbleError("dateAdd: the amount must be an integer", e.name_pos)
    unit = dates.check_unit(g.const_arg(e.args, 1, sg, "dateAdd: unit", e.name_pos), e.name_pos)
    if g.const_arg(e.args, 4, sg, "dateAdd: existingFormat", e.name_pos) is not None:
        raise PebbleError("dateAdd: 'existingFormat' cannot be compiled", e.name_pos)
    inner = _instant(g, e.operand)
    if inner is not None and unit in dates.SECONDS_UNITS:
        return dates.date_add_seconds(g.temp(inner), amount, unit)
    v = g.expr(e.operand)
    kind = _kind_of(g, e.operand, v)
    if unit in dates.SECONDS_UNITS:
        return dates.date_add_seconds(g.temp(dates.to_seconds(v, kind)), amount, unit)
    base = W(f"{v.at(ADD)} + \"T12:00:00Z\"", "string", ADD) if kind == "date" else v
    return dates.date_add_months(g.temp(base), amount, unit, g.temp)


def _date_add(g: Generator, e: ast.Filter, v: W, sig: object) -> W:
    fmt = g.const_arg(e.args, 2, FILTERS["dateAdd"], "dateAdd: format", e.name_pos)
    if not isinstance(fmt, (str, type(None))):
        raise PebbleError("dateAdd: the format must be a constant string", e.name_pos)
    zone = _zone(g, e, 3)
    secs = _date_add_seconds(g, e)
    return dates.format_pattern(g.temp(dates.canonical(secs, zone)), fmt or "iso", e.name_pos)


__all__ = ["compile_filter"]
