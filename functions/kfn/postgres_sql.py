"""SQL text handling for the SQL functions: statement splitting and Kestra's named `:param` bindings.

The splitter knows PostgreSQL's lexical structure (quoted literals and identifiers, E'' escapes,
dollar quoting, `--` and nested `/* */` comments) so a `;` inside any of them never splits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Chunk:
    """A piece of a statement: `code` (outside quotes/comments) or literal text kept as-is."""

    text: str
    code: bool


def _lex(sql: str) -> list[Chunk]:
    chunks: list[Chunk] = []
    i, start, n = 0, 0, len(sql)

    def flush(upto: int, code: bool) -> None:
        if upto > start:
            chunks.append(Chunk(sql[start:upto], code))

    while i < n:
        c = sql[i]
        end = -1
        if c == "-" and sql.startswith("--", i):
            nl = sql.find("\n", i)
            end = n if nl < 0 else nl + 1
        elif c == "/" and sql.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            end = j
        elif c == "'":
            backslash = (
                i > 0 and sql[i - 1] in "eE" and (i < 2 or not (sql[i - 2].isalnum() or sql[i - 2] == "_"))
            )
            j = i + 1
            while j < n:
                if backslash and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == "'":
                    if j + 1 < n and sql[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            end = min(j + 1, n)
        elif c == '"':
            j = sql.find('"', i + 1)
            while j >= 0 and j + 1 < n and sql[j + 1] == '"':
                j = sql.find('"', j + 2)
            end = n if j < 0 else j + 1
        elif c == "$" and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            match = _DOLLAR_TAG.match(sql, i)
            if match:
                close = sql.find(match.group(0), match.end())
                end = n if close < 0 else close + len(match.group(0))
        if end >= 0:
            flush(i, True)
            chunks.append(Chunk(sql[i:end], False))
            i = start = end
        else:
            i += 1
    flush(n, True)
    return chunks


def split_statements(sql: str) -> list[str]:
    """The statements of `sql` (split on top-level `;`), stripped; empty/comment-only ones dropped."""
    statements: list[str] = []
    current: list[Chunk] = []

    def close() -> None:
        text = "".join(c.text for c in current).strip()
        if any(c.code and c.text.strip() for c in current):
            statements.append(text)
        current.clear()

    for chunk in _lex(sql):
        if not chunk.code:
            current.append(chunk)
            continue
        pieces = chunk.text.split(";")
        for k, piece in enumerate(pieces):
            if k:
                close()
            if piece:
                current.append(Chunk(piece, True))
    close()
    return statements


def bind_named(
    statement: str, parameters: dict[str, Any] | None, *, placeholder: str = "%s"
) -> tuple[str, list[Any] | None]:
    """Kestra's `:name` placeholders -> positional placeholders + values (names absent from `parameters`
    untouched). `placeholder` is psycopg's `%s` (then every `%` is doubled) or DuckDB's `?`.

    With no placeholder the statement is returned unchanged with no values (so `%` stays literal).
    """
    percent = "%%" if placeholder == "%s" else "%"
    if not parameters:
        return statement, None
    values: list[Any] = []
    out: list[str] = []
    for chunk in _lex(statement):
        if not chunk.code:
            out.append(chunk.text.replace("%", percent))
            continue

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in parameters:
                return match.group(0)
            values.append(parameters[name])
            return "\x00"

        text = _PARAM.sub(sub, chunk.text).replace("%", percent).replace("\x00", placeholder)
        out.append(text)
    if not values:
        return statement, None
    return "".join(out), values


def quoted_literals(sql: str) -> list[str]:
    """The text (quotes excluded) of every single-quoted string literal of `sql`."""
    return [c.text[1:-1] for c in _lex(sql) if not c.code and c.text.startswith("'") and len(c.text) >= 2]


def named_to_dollar(sql: str, names: set[str]) -> str:
    """Kestra's `:name` -> DuckDB's `$name` for the given names, outside literals and comments."""
    if not names:
        return sql

    def sub(match: re.Match[str]) -> str:
        return "$" + match.group(1) if match.group(1) in names else match.group(0)

    return "".join(_PARAM.sub(sub, c.text) if c.code else c.text for c in _lex(sql))
