"""list, map and math modules. Every function returns new values and leaves its arguments untouched."""

from __future__ import annotations

import math
from typing import Any

from kestra_gcp.engine.errors import type_error
from kestra_gcp.engine.stdlib.registry import builtin
from kestra_gcp.engine.values import is_number, remember_size, size_of, type_name


def _list(fn: str, v: Any) -> list[Any]:
    if isinstance(v, list):
        return v
    raise type_error(f"{fn}: expected a list, got {type_name(v)}")


def _map(fn: str, v: Any) -> dict[str, Any]:
    if isinstance(v, dict):
        return v
    raise type_error(f"{fn}: expected a map, got {type_name(v)}")


def _grown(old: list[Any], new: list[Any], val: Any) -> list[Any]:
    # Appending in a loop is common: keep the size account O(1) per step instead of O(length).
    remember_size(new, size_of(old) + size_of(val) + 1)
    return new


@builtin("list.concat")
def concat(rt: Any, objs: Any, val: Any) -> list[Any]:
    old = _list("list.concat", objs)
    return _grown(old, [*old, val], val)


@builtin("list.prepend")
def prepend(rt: Any, objs: Any, val: Any) -> list[Any]:
    old = _list("list.prepend", objs)
    return _grown(old, [val, *old], val)


@builtin("map.get")
def map_get(rt: Any, map: Any, keys: Any) -> Any:
    """The value at a key or key path; null when the input is not a map or any key is missing."""
    current = map
    path = keys if isinstance(keys, list) else [keys]
    for k in path:
        if not isinstance(k, str):
            raise type_error(f"map.get: keys must be strings, got {type_name(k)}")
        if not isinstance(current, dict):
            return None
        if k not in current:
            return None
        current = current[k]
    return current


@builtin("map.delete")
def map_delete(rt: Any, map: Any, key: Any) -> dict[str, Any]:
    if not isinstance(key, str):
        raise type_error(f"map.delete: key must be a string, got {type_name(key)}")
    return {k: v for k, v in _map("map.delete", map).items() if k != key}


@builtin("map.merge")
def map_merge(rt: Any, first: Any, second: Any) -> dict[str, Any]:
    return {**_map("map.merge", first), **_map("map.merge", second)}


def _merge_nested(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge_nested(out[k], v)
        else:
            out[k] = v
    return out


@builtin("map.merge_nested")
def map_merge_nested(rt: Any, first: Any, second: Any) -> dict[str, Any]:
    return _merge_nested(_map("map.merge_nested", first), _map("map.merge_nested", second))


def _num(fn: str, v: Any) -> int | float:
    if is_number(v):
        return v
    raise type_error(f"{fn}: expected a number, got {type_name(v)}")


@builtin("math.abs")
def math_abs(rt: Any, x: Any) -> int | float:
    return abs(_num("math.abs", x))


@builtin("math.floor")
def math_floor(rt: Any, x: Any) -> int:
    return math.floor(_num("math.floor", x))


@builtin("math.max")
def math_max(rt: Any, x: Any, y: Any) -> int | float:
    a, b = _num("math.max", x), _num("math.max", y)
    return a if a >= b else b


@builtin("math.min")
def math_min(rt: Any, x: Any, y: Any) -> int | float:
    a, b = _num("math.min", x), _num("math.min", y)
    return a if a <= b else b


@builtin("math.sqrt")
def math_sqrt(rt: Any, x: Any) -> float:
    v = _num("math.sqrt", x)
    if v < 0:
        from kestra_gcp.engine.errors import value_error

        raise value_error("math.sqrt: negative argument")
    return math.sqrt(v)
