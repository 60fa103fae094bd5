"""Triggers: Schedule (cron), Flow (conditions, preconditions) and Webhook, and cron normalisation."""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import Field, field_validator

from compiler.model.common import Duration, Strict

SCHEDULE = "io.kestra.plugin.core.trigger.Schedule"
FLOW = "io.kestra.plugin.core.trigger.Flow"
WEBHOOK = "io.kestra.plugin.core.trigger.Webhook"
TRIGGER_ALIASES = {
    "io.kestra.core.models.triggers.types.Schedule": SCHEDULE,
    "io.kestra.core.models.triggers.types.Flow": FLOW,
    "io.kestra.core.models.triggers.types.Webhook": WEBHOOK,
}

NICKNAMES = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}


def normalise_cron(cron: str, with_seconds: bool) -> tuple[str | None, str | None]:
    """(5-field unix cron for Cloud Scheduler, None) or (None, why it is not usable)."""
    text = " ".join(cron.split())
    if text.lower() in NICKNAMES:
        return NICKNAMES[text.lower()], None
    fields = text.split(" ")
    want = 6 if with_seconds else 5
    if len(fields) != want:
        hint = " (set withSeconds: true for 6 fields)" if len(fields) == 6 else ""
        return None, f"invalid cron '{cron}': expected {want} fields, got {len(fields)}{hint}"
    if with_seconds:
        if fields[0] not in ("0", "00"):
            return None, f"cron '{cron}' fires at second {fields[0]}: Cloud Scheduler has minute resolution"
        fields = fields[1:]
    five = " ".join(fields).replace("?", "*")
    if not croniter.is_valid(five):
        return None, f"invalid cron '{cron}'"
    return five, None


class Condition(Strict):
    """A trigger condition; only the types a compiled flow can evaluate are modelled."""

    type: str
    namespace: str | None = None
    flowId: str | None = None
    prefix: bool | None = None
    comparison: str | None = None
    in_: list[str] | None = Field(default=None, alias="in")
    notIn: list[str] | None = None
    date: Any = None
    dayOfWeek: Any = None
    dayInMonth: Any = None


class Schedule(Strict):
    id: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
    type: str
    description: str | None = None
    cron: str
    withSeconds: bool = False
    timezone: str = "UTC"
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: Any = None
    disabled: bool = False
    recoverMissedSchedules: Literal["ALL", "LAST", "NONE"] | None = None
    lateMaximumDelay: Duration | None = None
    conditions: list[dict[str, Any]] = Field(default_factory=list)
    stopAfter: list[str] | None = None
    allowConcurrent: bool = False
    backfill: dict[str, Any] | None = None
    logLevel: str | None = None
    failOnTriggerError: bool | None = None
    workerGroup: Any = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}'") from None
        return value


class FlowTrigger(Strict):
    id: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
    type: str
    description: str | None = None
    conditions: list[dict[str, Any]] = Field(default_factory=list)
    preconditions: dict[str, Any] | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: Any = None
    disabled: bool = False
    states: list[str] | None = None
    logLevel: str | None = None


class Webhook(Strict):
    id: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
    type: str
    description: str | None = None
    key: str | None = None
    conditions: list[dict[str, Any]] = Field(default_factory=list)
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: Any = None
    disabled: bool = False
    wait: bool | None = None
    returnOutputs: bool | None = None


TRIGGER_MODELS: dict[str, type[Strict]] = {SCHEDULE: Schedule, FLOW: FlowTrigger, WEBHOOK: Webhook}
