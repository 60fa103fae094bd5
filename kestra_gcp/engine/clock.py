"""Clocks: the real one, and a virtual one tests use so that retries and sleeps take no wall time."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def sleep(self, seconds: float, cancel: threading.Event) -> None:
        """Wait `seconds`, returning early when `cancel` is set."""
        ...


class RealClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float, cancel: threading.Event) -> None:
        if seconds > 0:
            cancel.wait(seconds)


class VirtualClock:
    """Time advances only when something sleeps; every sleep is recorded in `sleeps`."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float, cancel: threading.Event) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if seconds > 0:
                self._now += seconds
