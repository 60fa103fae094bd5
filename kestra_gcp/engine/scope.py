"""Variable scopes: a chain of dicts (subworkflow frame -> loop bodies / parallel branches), never copied.

Reads walk the chain. Writes go to the scope that already holds the name, else create it in the innermost
scope. A parallel branch scope may only write parent variables listed in `shared`."""

from __future__ import annotations

import threading
from typing import Any

from kestra_gcp.engine.errors import error, key_error


class Scope:
    __slots__ = ("abort", "barrier", "depth", "lock", "parent", "run", "shared", "sizes", "vars")

    def __init__(
        self,
        run: Any,
        parent: Scope | None = None,
        barrier: bool = False,
        shared: frozenset[str] = frozenset(),
        lock: threading.RLock | None = None,
    ) -> None:
        self.vars: dict[str, Any] = {}
        self.sizes: dict[str, int] = {}
        self.parent = parent
        self.depth: int = parent.depth if parent is not None else 0
        self.abort: threading.Event | None = parent.abort if parent is not None else None
        self.run = run
        # barrier: a parallel branch; parent variables are read-only unless shared.
        self.barrier = barrier
        self.shared = shared
        self.lock: threading.RLock | None = lock if lock is not None else (parent.lock if parent is not None else None)

    def get(self, name: str) -> Any:
        s: Scope | None = self
        while s is not None:
            d = s.vars
            if name in d:
                return d[name]
            s = s.parent
        raise key_error(f"variable not defined: {name}")

    def has(self, name: str) -> bool:
        s: Scope | None = self
        while s is not None:
            if name in s.vars:
                return True
            s = s.parent
        return False

    def owner(self, name: str) -> Scope:
        """The scope a write of `name` goes to."""
        s: Scope = self
        while True:
            if name in s.vars:
                return s
            parent = s.parent
            if parent is None or not parent.has(name):
                return self
            if s.barrier and name not in s.shared:
                raise error(
                    "TypeError",
                    f"variable '{name}' of the parent scope is read-only in a parallel branch (list it in 'shared')",
                )
            s = parent

    def set(self, name: str, value: Any) -> None:
        d = self.vars
        if name in d:
            d[name] = value
            return
        self.owner(name).vars[name] = value
