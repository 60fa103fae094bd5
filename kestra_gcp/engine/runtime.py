"""The per-execution runtime the standard library sees: environment, clock, logging, cancellation,
HTTP token, step and memory limits. The interpreter subclasses it to add subworkflow calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kestra_gcp.engine.clock import Clock, RealClock
from kestra_gcp.engine.errors import error, resource_limit

MAX_STEPS = 100_000
MAX_DEPTH = 20
MAX_MEMORY = 512 * 1024
LOCAL_TOKEN = "kestra-gcp-local-token"


class Cancelled(BaseException):
    """Raised inside an execution when it is cancelled; not catchable by `except`."""


class BranchAborted(Exception):
    """A parallel branch stopped because a sibling failed; not catchable by `except`."""


# The abort event of the parallel branch the current thread runs, if any.
branch_state = threading.local()


class Runtime:
    def __init__(
        self,
        env: dict[str, str] | None = None,
        clock: Clock | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        http_token: str = LOCAL_TOKEN,
    ) -> None:
        self.env: dict[str, str] = dict(env or {})
        self.clock: Clock = clock or RealClock()
        self.on_event = on_event
        self.http_token = http_token
        self.cancel_event = threading.Event()
        self.steps = 0
        self.memory = 0
        self.current_step = ""

    def emit(self, event: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def step_event(self, kind: str, step: str) -> None:
        self.emit({"type": kind, "step": step})

    def log(self, severity: str, payload: Any) -> None:
        self.emit({"type": "log", "severity": severity, "payload": payload, "step": self.current_step})

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled()

    def sleep(self, seconds: float) -> None:
        self.check_cancelled()
        abort: threading.Event | None = getattr(branch_state, "abort", None)
        if abort is None or not isinstance(self.clock, RealClock):
            self.clock.sleep(seconds, self.cancel_event)
        else:
            # A sleeping parallel branch wakes up when a sibling fails or the execution is cancelled.
            deadline = time.monotonic() + seconds
            while not abort.is_set() and not self.cancel_event.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                abort.wait(min(left, 0.1))
        self.check_cancelled()
        if abort is not None and abort.is_set():
            raise BranchAborted()

    def count_step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise resource_limit(f"the execution exceeded {MAX_STEPS} steps")

    def call_subworkflow(self, scope: Any, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        raise error("KeyError", f"unknown function {name!r}")
