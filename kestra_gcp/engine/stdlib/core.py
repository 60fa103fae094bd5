"""Expression helpers: default, if, keys, len, type, int, double, string, bool."""

from __future__ import annotations

import math
from typing import Any

from kestra_gcp.engine.errors import WorkflowError, type_error, value_error
from kestra_gcp.engine.stdlib.registry import builtin
from kestra_gcp.engine.values import INT_MAX, INT_MIN, to_string, type_name


@builtin("default", lazy=True)
def default(s: Any, value: Any, fallback: Any) -> Any:
    """`default(value, fallback)`: fallback when value is null or undefined (KeyError/IndexError)."""
    try:
        v = value(s)
    except WorkflowError as exc:
        if "KeyError" in exc.tags or "IndexError" in exc.tags:
            return fallback(s)
        raise
    return fallback(s) if v is None else v


@builtin("if", lazy=True)
def if_(s: Any, condition: Any, when_true: Any, when_false: Any) -> Any:
    c = condition(s)
    if c is not True and c is not False:
        raise type_error(f"if: condition must be a boolean, got {type_name(c)}")
    return when_true(s) if c else when_false(s)


@builtin("keys")
def keys(rt: Any, value: Any) -> list[str]:
    if not isinstance(value, dict):
        raise type_error(f"keys: expected a map, got {type_name(value)}")
    return list(value)


@builtin("len")
def length(rt: Any, value: Any) -> int:
    if isinstance(value, (str, bytes, list, dict)):
        return len(value)
    raise type_error(f"len: expected a string, bytes, list or map, got {type_name(value)}")


@builtin("type")
def type_(rt: Any, value: Any) -> str:
    return type_name(value)


@builtin("int")
def to_int(rt: Any, value: Any) -> int:
    if value is True or value is False:
        raise type_error("int: cannot convert a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise value_error(f"int: cannot convert {value}")
        result = int(value)
    elif isinstance(value, str):
        try:
            result = int(value.strip(), 10)
        except ValueError:
            try:
                f = float(value)
            except ValueError:
                raise value_error(f"int: invalid literal {value!r}") from None
            if not math.isfinite(f):
                raise value_error(f"int: invalid literal {value!r}") from None
            result = int(f)
    else:
        raise type_error(f"int: cannot convert {type_name(value)}")
    if result < INT_MIN or result > INT_MAX:
        raise value_error("int: integer overflow")
    return result


@builtin("double")
def to_double(rt: Any, value: Any) -> float:
    if value is True or value is False:
        raise type_error("double: cannot convert a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            raise value_error(f"double: invalid literal {value!r}") from None
        if not math.isfinite(f):
            raise value_error(f"double: invalid literal {value!r}")
        return f
    raise type_error(f"double: cannot convert {type_name(value)}")


@builtin("string")
def to_str(rt: Any, value: Any) -> str:
    return to_string(value)


@builtin("bool")
def to_bool(rt: Any, value: Any) -> bool:
    if value is True or value is False:
        return value
    if isinstance(value, str):
        if value in ("true", "True", "TRUE"):
            return True
        if value in ("false", "False", "FALSE"):
            return False
        raise value_error(f"bool: invalid literal {value!r}")
    raise type_error(f"bool: cannot convert {type_name(value)}")
