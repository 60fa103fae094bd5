"""Retry policies (constant, exponential, random), with Kestra's required properties and checks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from compiler.model.common import Duration, Strict, duration_seconds


class Retry(Strict):
    """A task or flow `retry:`; `maxAttempts` counts every attempt including the first."""

    type: Literal["constant", "exponential", "random"]
    maxAttempts: int | None = Field(default=None, ge=1)
    maxAttempt: int | None = Field(default=None, ge=1)
    maxDuration: Duration | None = None
    interval: Duration | None = None
    maxInterval: Duration | None = None
    minInterval: Duration | None = None
    delayFactor: float | None = None
    behavior: Literal["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"] = "RETRY_FAILED_TASK"
    warningOnRetry: bool = False

    @model_validator(mode="after")
    def _required(self) -> Retry:
        need = {"constant": ("interval",), "exponential": ("interval", "maxInterval"),
                "random": ("minInterval", "maxInterval")}[self.type]
        missing = [n for n in need if getattr(self, n) is None]
        if missing:
            raise ValueError(f"{self.type} retry needs {' and '.join(missing)}")
        if self.maxAttempts is None and self.maxAttempt is None and self.maxDuration is None:
            raise ValueError("retry needs maxAttempts (or maxDuration)")
        lo = duration_seconds(self.interval or self.minInterval)
        hi = duration_seconds(self.maxInterval)
        if lo is not None and hi is not None and lo >= hi:
            low_name = "interval" if self.interval else "minInterval"
            raise ValueError(f"retry {low_name} must be shorter than maxInterval")
        dur = duration_seconds(self.maxDuration)
        if lo is not None and dur is not None and lo >= dur:
            raise ValueError("retry interval must be shorter than maxDuration")
        return self

    @property
    def attempts(self) -> int:
        """Total attempts; with only maxDuration, as many as fit at the first interval."""
        if self.maxAttempts or self.maxAttempt:
            return int(self.maxAttempts or self.maxAttempt or 1)
        lo = duration_seconds(self.interval or self.minInterval) or 1.0
        dur = duration_seconds(self.maxDuration) or lo
        return max(1, min(100, int(dur // max(lo, 0.001)) + 1))
