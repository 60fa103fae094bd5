"""Operator semantics of the Workflows expression language (data types and expressions reference pages)."""

from __future__ import annotations

import math
from typing import Any

from kestra_gcp.engine.errors import error, index_error, key_error, type_error
from kestra_gcp.engine.values import INT_MAX, INT_MIN, check_int, is_number, to_string, type_name


def _bad(op: str, a: Any, b: Any) -> Exception:
    return type_error(f"unsupported operand types for {op}: {type_name(a)} and {type_name(b)}")


def add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        r = a + b
        return r if INT_MIN <= r <= INT_MAX else check_int(r)
    if ta is str and tb is str:
        return a + b
    if ta is str and tb in (int, float, bool):
        return a + to_string(b)
    if tb is str and ta in (int, float, bool):
        return to_string(a) + b
    if is_number(a) and is_number(b):
        return float(a) + float(b)
    raise _bad("+", a, b)


def sub(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        return check_int(a - b)
    if is_number(a) and is_number(b):
        return float(a) - float(b)
    raise _bad("-", a, b)


def mul(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        return check_int(a * b)
    if is_number(a) and is_number(b):
        return float(a) * float(b)
    raise _bad("*", a, b)


def div(a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        if b == 0:
            raise error("ZeroDivisionError", "division by zero")
        return float(a) / float(b)
    raise _bad("/", a, b)


def floordiv(a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        if b == 0:
            raise error("ZeroDivisionError", "division by zero")
        if type(a) is int and type(b) is int:
            return check_int(a // b)
        return float(math.floor(a / b))
    raise _bad("//", a, b)


def mod(a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        if b == 0:
            raise error("ZeroDivisionError", "division by zero")
        if type(a) is int and type(b) is int:
            return a % b
        return float(a) % float(b)
    raise _bad("%", a, b)


def neg(a: Any) -> Any:
    if type(a) is int:
        return check_int(-a)
    if type(a) is float:
        return -a
    raise type_error(f"bad operand type for unary -: {type_name(a)}")


def equal(a: Any, b: Any) -> bool:
    """Structural equality; int and double compare by value, bool never equals a number."""
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if ta in (int, float) and tb in (int, float):
        return bool(a == b)
    if ta is not tb:
        return False
    if ta is list:
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if ta is dict:
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _ordered(op: str, a: Any, b: Any) -> tuple[Any, Any]:
    if is_number(a) and is_number(b):
        return a, b
    ta = type(a)
    if ta is type(b) and ta in (str, bytes):
        return a, b
    raise _bad(op, a, b)


def lt(a: Any, b: Any) -> bool:
    x, y = _ordered("<", a, b)
    return bool(x < y)


def le(a: Any, b: Any) -> bool:
    x, y = _ordered("<=", a, b)
    return bool(x <= y)


def gt(a: Any, b: Any) -> bool:
    x, y = _ordered(">", a, b)
    return bool(x > y)


def ge(a: Any, b: Any) -> bool:
    x, y = _ordered(">=", a, b)
    return bool(x >= y)


def ne(a: Any, b: Any) -> bool:
    return not equal(a, b)


def contains(item: Any, container: Any) -> bool:
    """`item in container`: list membership or map key."""
    if isinstance(container, dict):
        if not isinstance(item, str):
            raise type_error(f"map keys are strings, got {type_name(item)} on the left of 'in'")
        return item in container
    if isinstance(container, list):
        return any(equal(item, x) for x in container)
    raise type_error(f"argument of type {type_name(container)} is not iterable ('in' needs a list or map)")


def boolean(v: Any, op: str) -> bool:
    if v is True or v is False:
        return v
    raise type_error(f"operand of '{op}' must be a boolean, got {type_name(v)}")


def get_field(obj: Any, name: str) -> Any:
    if type(obj) is dict:
        try:
            return obj[name]
        except KeyError:
            raise key_error(f"key not found: {name}") from None
    raise type_error(f"cannot read field '{name}' of a {type_name(obj)} (only maps have fields)")


def get_index(obj: Any, idx: Any) -> Any:
    t = type(obj)
    if t is list:
        if type(idx) is not int:
            if type(idx) is float and idx == int(idx):
                idx = int(idx)
            else:
                raise type_error(f"list index must be an integer, got {type_name(idx)}")
        if idx < 0 or idx >= len(obj):
            raise index_error(f"list index out of range: {idx} (length {len(obj)})")
        return obj[idx]
    if t is dict:
        if type(idx) is not str:
            raise type_error(f"map key must be a string, got {type_name(idx)}")
        try:
            return obj[idx]
        except KeyError:
            raise key_error(f"key not found: {idx}") from None
    raise type_error(f"cannot index a {type_name(obj)}")


BINARY = {
    "+": add,
    "-": sub,
    "*": mul,
    "/": div,
    "//": floordiv,
    "%": mod,
    "==": equal,
    "!=": ne,
    "<": lt,
    "<=": le,
    ">": gt,
    ">=": ge,
}
