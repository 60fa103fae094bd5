"""The registry of standard-library functions and the decorator that fills it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Builtin:
    name: str
    fn: Callable[..., Any]
    blocking: bool = False
    lazy: bool = False  # receives the scope and unevaluated argument closures (default, if)
    params: tuple[str, ...] = field(default=())


FUNCTIONS: dict[str, Builtin] = {}


def builtin(
    name: str, blocking: bool = False, lazy: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(rt, ...)` as the Workflows function `name`."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        params = tuple(inspect.signature(fn).parameters)[1:]
        FUNCTIONS[name] = Builtin(name, fn, blocking, lazy, params)
        return fn

    return wrap
