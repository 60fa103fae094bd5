"""Connector registry: `googleapis.*` call names -> in-process implementations `fn(runtime, args) -> value`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Connector = Callable[[Any, dict[str, Any]], Any]
CONNECTORS: dict[str, Connector] = {}


def register(name: str) -> Callable[[Connector], Connector]:
    """Make `call: <name>` run `fn(runtime, args)`."""

    def wrap(fn: Connector) -> Connector:
        CONNECTORS[name] = fn
        return fn

    return wrap
