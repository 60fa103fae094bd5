"""Deterministic YAML text for a compiled workflow, with a header comment naming its source flow.

The documents are plain JSON-like values, so a small block-style emitter is enough and is an order of
magnitude faster than a general YAML library: strings are plain when unambiguous, literal blocks when
multi-line, and JSON double-quoted otherwise (a JSON string is a valid YAML double-quoted scalar).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z_$/][^\n:#'\"\\]*$")
_EXPR = re.compile(r"^\$\{[^\n]*\}$")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~", ""}
_NUMBER = re.compile(r"^[-+]?(\.?\d|0x|0o|\.inf|\.nan)", re.IGNORECASE)


@lru_cache(maxsize=65536)
def _text(text: str) -> str:
    if text.strip() == text and text.lower() not in _RESERVED and not _NUMBER.match(text):
        if _PLAIN.match(text) and ": " not in text and " #" not in text and not text.endswith(":"):
            return text
        if _EXPR.match(text) and ": " not in text and " #" not in text:
            return text
    return json.dumps(text, ensure_ascii=False)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else json.dumps(None)
    return _text(str(value))


def _block(text: str, indent: str) -> str | None:
    """A literal block scalar for multi-line text, or None when one cannot represent it exactly."""
    if "\n" not in text or text.startswith((" ", "\n")) or "\r" in text or "\t" in text:
        return None
    if any(line != line.rstrip() for line in text.split("\n")):
        return None
    if text.endswith("\n\n"):
        return None
    chomp = "" if text.endswith("\n") else "-"
    body = text[:-1] if text.endswith("\n") else text
    lines = [(indent + line) if line else "" for line in body.split("\n")]
    return f"|{chomp}\n" + "\n".join(lines)


def _emit(value: Any, indent: str, out: list[str]) -> None:
    """Append the lines of a mapping or sequence `value` at `indent`."""
    if isinstance(value, dict):
        for key, item in value.items():
            k = _scalar(str(key))
            if isinstance(item, dict) and item:
                out.append(f"{indent}{k}:")
                _emit(item, indent + "  ", out)
            elif isinstance(item, list) and item:
                out.append(f"{indent}{k}:")
                _emit(item, indent, out)
            else:
                out.append(f"{indent}{k}: {_inline(item, indent + '  ')}")
    else:
        for item in value:
            if isinstance(item, dict) and item:
                sub: list[str] = []
                _emit(item, indent + "  ", sub)
                sub[0] = f"{indent}- " + sub[0][len(indent) + 2 :]
                out.extend(sub)
            elif isinstance(item, list) and item:
                sub = []
                _emit(item, indent + "  ", sub)
                sub[0] = f"{indent}- " + sub[0][len(indent) + 2 :]
                out.extend(sub)
            else:
                out.append(f"{indent}- {_inline(item, indent + '  ')}")


def _inline(value: Any, indent: str) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    if isinstance(value, str):
        block = _block(value, indent)
        if block is not None:
            return block
    return _scalar(value)


def to_yaml(document: dict[str, Any], header: str) -> str:
    lines = [f"# {line}" for line in header.splitlines()]
    _emit(document, "", lines)
    return "\n".join(lines) + "\n"
