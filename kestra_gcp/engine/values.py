"""Workflows values in Python: None, bool, int (64-bit), float, str, bytes, list, dict (insertion-ordered).

Helpers for the type names Workflows uses, exact JSON in/out (ints stay ints, `1.0` stays a double), and
a cheap size estimate used for the variable-memory limit."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from kestra_gcp.engine.errors import type_error, value_error

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1


def type_name(v: Any) -> str:
    """The name `type()` returns in Workflows."""
    if v is None:
        return "null"
    if v is True or v is False:
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bytes):
        return "bytes"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "map"
    return type(v).__name__


def check_int(v: int) -> int:
    """`v` if it fits a Workflows integer (64-bit signed); else the ValueError Workflows raises."""
    if v < INT_MIN or v > INT_MAX:
        raise value_error("integer overflow")
    return v


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _reject_constant(name: str) -> Any:
    raise value_error(f"invalid JSON number {name}")


def from_json(text: str | bytes) -> Any:
    """Decode JSON keeping ints as ints and doubles as doubles; raises ValueError tagged errors."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise value_error(f"invalid JSON: {exc}") from None


def _default(v: Any) -> Any:
    if isinstance(v, bytes):
        raise type_error("bytes cannot be JSON-encoded")
    raise type_error(f"value of type {type(v).__name__} cannot be JSON-encoded")


def to_json(v: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    """Encode a value as JSON exactly (no NaN/Infinity; bytes are a TypeError)."""
    try:
        return json.dumps(
            v,
            ensure_ascii=False,
            allow_nan=False,
            default=_default,
            indent=indent,
            sort_keys=sort_keys,
            separators=None if indent else (",", ":"),
        )
    except ValueError:
        raise value_error("NaN and Infinity cannot be JSON-encoded") from None


# Sizes of recently built large containers, by identity. Values are never mutated in place, so a cached
# size stays right; the entries keep their objects alive, so an id is not reused while cached.
_SIZE_CACHE: OrderedDict[int, tuple[Any, int]] = OrderedDict()
_SIZE_CACHE_MAX = 256
_SIZE_CACHE_MIN_LEN = 32
_size_lock = threading.Lock()


def remember_size(v: Any, size: int) -> None:
    """Record the size of a freshly built large list or map (e.g. by list.concat)."""
    if len(v) < _SIZE_CACHE_MIN_LEN:
        return
    with _size_lock:
        _SIZE_CACHE[id(v)] = (v, size)
        _SIZE_CACHE.move_to_end(id(v))
        while len(_SIZE_CACHE) > _SIZE_CACHE_MAX:
            _SIZE_CACHE.popitem(last=False)


def _cached_size(v: Any) -> int | None:
    hit = _SIZE_CACHE.get(id(v))
    return hit[1] if hit is not None and hit[0] is v else None


def size_of(v: Any) -> int:
    """Approximate memory size of a value in bytes (about its JSON length)."""
    if (type(v) is list or type(v) is dict) and len(v) >= _SIZE_CACHE_MIN_LEN:
        cached = _cached_size(v)
        if cached is None:
            cached = _size_of(v)
            remember_size(v, cached)
        return cached
    return _size_of(v)


def _size_of(v: Any) -> int:
    if v is None or v is True or v is False:
        return 4
    if isinstance(v, (int, float)):
        return 8
    if isinstance(v, str):
        return len(v) + 2
    if isinstance(v, bytes):
        return len(v)
    if isinstance(v, list):
        return 2 + sum(size_of(x) + 1 for x in v)
    if isinstance(v, dict):
        return 2 + sum(len(k) + 4 + size_of(x) for k, x in v.items())
    return 8


def to_string(v: Any) -> str:
    """The `string()` conversion."""
    if isinstance(v, str):
        return v
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    raise type_error(f"cannot convert {type_name(v)} to string")


def deep_copy(v: Any) -> Any:
    """Copy lists and maps (values are immutable otherwise)."""
    if isinstance(v, list):
        return [deep_copy(x) for x in v]
    if isinstance(v, dict):
        return {k: deep_copy(x) for k, x in v.items()}
    return v
