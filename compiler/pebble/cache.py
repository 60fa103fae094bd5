"""Parsed-template cache: a template text is tokenized and parsed once per process."""

from __future__ import annotations

from functools import lru_cache

from compiler.pebble import ast
from compiler.pebble.parser import parse


@lru_cache(maxsize=65536)
def parse_cached(text: str) -> tuple[ast.Stmt, ...]:
    """The statements of `text` (raises PebbleError, which lru_cache does not cache)."""
    return parse(text)
