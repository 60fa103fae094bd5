"""Building blocks of generated Workflows expressions: typed code fragments, literals, precedence."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Workflows operator precedence, loosest first (reference: syntax/expressions).
OR, AND, CMP, ADD, MUL, NEG, NOT, ATOM = 1, 2, 3, 4, 5, 6, 7, 9

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null", "True", "False", "TRUE", "FALSE"}
_NO_CONST = object()


@dataclass(frozen=True, slots=True)
class W:
    """A Workflows expression fragment: its code, static type and precedence, or a compile-time constant."""

    code: str
    type: str = "any"  # string int float bool null list map any
    prec: int = ATOM
    const: Any = _NO_CONST
    nullable: bool = False  # may be null at run time (rendered as "" in text)
    parts: tuple[W, ...] = ()  # the operands when this is a string concatenation

    @property
    def is_const(self) -> bool:
        return self.const is not _NO_CONST

    def at(self, prec: int) -> str:
        """The code, parenthesised if it binds looser than `prec`."""
        return self.code if self.prec >= prec else f"({self.code})"


def type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    return "any"


@lru_cache(maxsize=16384)
def _str_literal(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def literal_code(value: Any) -> str:
    """A Workflows literal for a JSON-like value (lists and maps as Workflows list/map literals)."""
    if type(value) is str:
        return _str_literal(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(literal_code(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {literal_code(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Workflows literal for {type(value).__name__}")


def const(value: Any) -> W:
    """A compile-time constant."""
    if type(value) is str:
        return W(_str_literal(value), "string", ATOM, value)
    code = literal_code(value)
    prec = NEG if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0 else ATOM
    return W(code, type_of(value), prec, value)


def call(name: str, *args: W | str, type: str = "any") -> W:
    """`name(a, b...)`; string args are raw code."""
    parts = [a if isinstance(a, str) else a.code for a in args]
    return W(f"{name}({', '.join(parts)})", type, ATOM)


def member(obj: W, key: str) -> W:
    """`obj.key`, or `obj["key"]` when key is not a plain identifier."""
    if is_ident(key):
        return W(f"{obj.at(ATOM)}.{key}", "any", ATOM)
    return W(f"{obj.at(ATOM)}[{json.dumps(key, ensure_ascii=False)}]", "any", ATOM)


def index(obj: W, idx: W) -> W:
    return W(f"{obj.at(ATOM)}[{idx.code}]", "any", ATOM)


def binop(left: W, op: str, right: W, prec: int, type: str = "any") -> W:
    """Left-associative binary operator."""
    return W(f"{left.at(prec)} {op} {right.at(prec + 1)}", type, prec)


def is_ident(name: str) -> bool:
    """Whether `name` can follow a dot in a Workflows expression (an identifier, not a keyword)."""
    return bool(_IDENT.match(name)) and name not in _KEYWORDS


def join_strings(parts: list[W]) -> W:
    """`a + b + c` for string-typed fragments; string concatenation is associative, so string sums nested
    inside are not parenthesised."""
    if len(parts) == 1:
        return parts[0]
    code = " + ".join(
        p.at(ADD) if i == 0 or (p.type == "string" and p.prec == ADD) else p.at(ADD + 1) for i, p in enumerate(parts)
    )
    return W(code, "string", ADD, parts=tuple(parts))
