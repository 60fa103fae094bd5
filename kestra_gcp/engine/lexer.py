"""Tokenizer for the Workflows expression language (the text inside `${...}`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kestra_gcp.engine.errors import DeployError


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "num", "str", "name", "op", "end"
    value: object
    pos: int


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>//|==|!=|<=|>=|[-+*/%<>()\[\]{},:.])
  | (?P<quote>["'])
    """,
    re.VERBOSE,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "\\": "\\", '"': '"', "'": "'", "/": "/"}


def _read_string(text: str, start: int, where: str) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == quote:
            return "".join(out), i + 1
        if c == "\\":
            if i + 1 >= n:
                break
            e = text[i + 1]
            if e == "u" and i + 6 <= n:
                try:
                    out.append(chr(int(text[i + 2 : i + 6], 16)))
                except ValueError:
                    raise DeployError(f"{where}: bad \\u escape in string literal") from None
                i += 6
                continue
            if e not in _ESCAPES:
                raise DeployError(f"{where}: unknown escape \\{e} in string literal")
            out.append(_ESCAPES[e])
            i += 2
            continue
        out.append(c)
        i += 1
    raise DeployError(f"{where}: unterminated string literal in expression")


def tokenize(text: str, where: str = "<expression>") -> list[Token]:
    """Split an expression into tokens; `where` prefixes error messages."""
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        m = _TOKEN.match(text, i)
        if not m:
            raise DeployError(f"{where}: unexpected character {text[i]!r} in expression")
        kind = m.lastgroup
        if kind == "ws":
            i = m.end()
            continue
        if kind == "quote":
            s, i = _read_string(text, i, where)
            tokens.append(Token("str", s, m.start()))
            continue
        raw = m.group()
        if kind == "num":
            if any(c in raw for c in ".eE"):
                tokens.append(Token("num", float(raw), m.start()))
            else:
                tokens.append(Token("num", int(raw), m.start()))
        else:
            tokens.append(Token(kind or "op", raw, m.start()))
        i = m.end()
    tokens.append(Token("end", None, n))
    return tokens
