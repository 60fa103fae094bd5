"""Pebble tokenizer: splits a template into text and `{{ }}` / `{% %}` tokens, skipping `{# #}` comments.

Whitespace control (`{{-`, `-}}`, `{%-`, `-%}`) trims the neighbouring text as Pebble does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from compiler.pebble.errors import PebbleError

Kind = Literal["text", "print_open", "print_close", "tag_open", "tag_close", "name", "number", "string", "op", "eof"]


def has_template(text: str) -> bool:
    """True if `text` contains Pebble syntax (`{{`, `{%` or `{#`)."""
    return "{{" in text or "{%" in text or "{#" in text


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    value: str
    pos: int
    parsed: object = None  # number value or unescaped string


_OPEN = re.compile(r"\{\{|\{%|\{#")
_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_NUMBER = re.compile(r"\d+(\.\d+)?")
_WS = re.compile(r"\s+")
_OPS = ("???", "??", "==", "!=", "<=", ">=", "..", "<", ">", "+", "-", "*", "/", "%", "~", "|", "?", ":",
        ".", ",", "(", ")", "[", "]", "{", "}", "=")


def tokenize(src: str) -> list[Token]:
    """All tokens of template `src`, ending with an `eof` token. Raises PebbleError on lexical errors."""
    tokens: list[Token] = []
    i, n = 0, len(src)
    trim_next = False
    while i < n:
        m = _OPEN.search(src, i)
        end = m.start() if m else n
        text = src[i:end]
        if trim_next:
            stripped = text.lstrip()
            i += len(text) - len(stripped)
            text = stripped
            trim_next = False
        if m and src.startswith("-", m.end()):
            text = text.rstrip()
        if text:
            tokens.append(Token("text", text, i))
        if not m:
            break
        opener = m.group()
        i = m.end()
        if i < n and src[i] == "-":
            i += 1
        if opener == "{#":
            close = src.find("#}", i)
            if close < 0:
                raise PebbleError("unclosed comment '{#'", m.start())
            trim_next = close > 0 and src[close - 1] == "-"
            i = close + 2
            continue
        kind_open: Kind = "print_open" if opener == "{{" else "tag_open"
        closer = "}}" if opener == "{{" else "%}"
        tokens.append(Token(kind_open, opener, m.start()))
        i, trim_next = _lex_code(src, i, closer, m.start(), tokens)
    tokens.append(Token("eof", "", n))
    return tokens


def _lex_code(src: str, i: int, closer: str, open_pos: int, tokens: list[Token]) -> tuple[int, bool]:
    n = len(src)
    depth = 0  # nesting of (), [], {} so that a map literal's '}}' is not taken for the closer
    while True:
        ws = _WS.match(src, i)
        if ws:
            i = ws.end()
        if i >= n:
            raise PebbleError(f"unclosed '{src[open_pos:open_pos + 2]}': expected '{closer}'", open_pos)
        if depth == 0:
            if src.startswith("-" + closer, i):
                tokens.append(Token("print_close" if closer == "}}" else "tag_close", closer, i + 1))
                return i + 1 + len(closer), True
            if src.startswith(closer, i):
                tokens.append(Token("print_close" if closer == "}}" else "tag_close", closer, i))
                return i + len(closer), False
        c = src[i]
        if c in "'\"":
            i = _lex_string(src, i, tokens)
            continue
        m = _NUMBER.match(src, i)
        if m:
            text = m.group()
            value: int | float = float(text) if m.group(1) else int(text)
            tokens.append(Token("number", text, i, value))
            i += len(text)
            continue
        m = _NAME.match(src, i)
        if m:
            tokens.append(Token("name", m.group(), i))
            i = m.end()
            continue
        for op in _OPS:
            if src.startswith(op, i):
                if op in "([{":
                    depth += 1
                elif op in ")]}":
                    depth = max(0, depth - 1)
                tokens.append(Token("op", op, i))
                i += len(op)
                break
        else:
            raise PebbleError(f"unexpected character {c!r}", i)


def _lex_string(src: str, i: int, tokens: list[Token]) -> int:
    quote = src[i]
    j = i + 1
    out: list[str] = []
    n = len(src)
    while j < n:
        c = src[j]
        if c == "\\" and j + 1 < n and src[j + 1] in (quote, "\\"):
            out.append(src[j + 1])
            j += 2
            continue
        if c == quote:
            value = "".join(out)
            if quote == '"' and "#{" in value:
                raise PebbleError("string interpolation '#{...}' is not supported; use '~'", i)
            tokens.append(Token("string", src[i : j + 1], i, value))
            return j + 1
        out.append(c)
        j += 1
    raise PebbleError("unterminated string literal", i)
