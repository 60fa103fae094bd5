"""The `trigger` function: Cloud Scheduler's target for a Kestra Schedule trigger.

Body: the `body` of a `build/schedules.json` entry (workflow, namespace, flowId, triggerId, cron, timeZone,
inputs, labels, concurrency). `X-CloudScheduler-ScheduleTime` (or `scheduleTime` in the body) gives the
tick: `trigger.date` is the first cron tick at or after it (Kestra: nextExecution(t - 1s)), `next`/`previous`
the neighbouring ticks, ISO-8601 in the trigger's zone. Concurrency counts the workflow's ACTIVE/QUEUED
executions: at the limit, QUEUE answers 429 (Cloud Scheduler retries later), CANCEL answers 200 with
state CANCELLED and starts nothing, FAIL answers 409. A retried call for a tick whose execution is still
active returns that execution instead of starting a second one.

Webhooks: any method on `.../webhook/<namespace>/<flowId>/<key>`; the flows come from `KESTRA_GCP_WEBHOOKS`
(JSON list of {namespace, flowId, workflow, triggerId, key (may be a `{{secret:NAME}}` marker), inputs,
labels, concurrency}); `trigger.body` (parsed JSON, else text), `trigger.headers` (credential headers left out),
`trigger.parameters`.
"""

from __future__ import annotations

import hmac
import json
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kfn import executions, secrets
from kfn.errors import BadRequest, Conflict, FunctionError, NotFound, RateLimited, TaskError
from kfn.request import Call, validation_message

ARGUMENT_LIMIT = 32 * 1024


class Concurrency(BaseModel):
    limit: int = Field(ge=1)
    behavior: Literal["QUEUE", "CANCEL", "FAIL"] = "QUEUE"


class TriggerBody(BaseModel):
    """A schedules.json `body`."""

    model_config = ConfigDict(extra="ignore")

    workflow: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
    namespace: str
    flow_id: str = Field(alias="flowId")
    trigger_id: str = Field(alias="triggerId")
    cron: str
    time_zone: str = Field(default="UTC", alias="timeZone")
    with_seconds: bool = Field(default=False, alias="withSeconds")
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, Any] = Field(default_factory=dict)
    concurrency: Concurrency | None = None
    schedule_time: str | None = Field(default=None, alias="scheduleTime")


def _parse_instant(text: str) -> datetime:
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"schedule time {text!r} is not RFC 3339") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _croniter_expr(cron: str, with_seconds: bool) -> str:
    fields = cron.split()
    if with_seconds and len(fields) == 6:  # Kestra puts seconds first, croniter last
        fields = fields[1:] + fields[:1]
    return " ".join(fields)


def ticks(cron: str, zone: str, instant: datetime | None, with_seconds: bool = False) -> dict[str, str]:
    """Kestra's trigger.date/next/previous for the schedule time `instant` (None: the latest tick so far)."""
    from croniter import CroniterBadCronError, croniter

    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise TaskError(f"time zone {zone!r} is unknown") from None
    expr = _croniter_expr(cron, with_seconds)
    try:
        if instant is None:
            date = croniter(expr, datetime.now(tz).replace(microsecond=0) + timedelta(seconds=1)).get_prev(datetime)
        else:
            start = instant.astimezone(tz).replace(microsecond=0) - timedelta(seconds=1)
            date = croniter(expr, start).get_next(datetime)
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        raise TaskError(f"cron {cron!r} is invalid: {exc}") from None
    following = croniter(expr, date).get_next(datetime)
    previous = croniter(expr, date).get_prev(datetime)
    return {"date": _iso(date), "next": _iso(following), "previous": _iso(previous)}


def _iso(moment: datetime) -> str:
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") and str(moment.tzinfo) in ("UTC", "Etc/UTC") else text


def _label_value(value: object) -> str:
    text = re.sub(r"[^a-z0-9_-]", "-", str(value).lower())
    return text[:63]


def execution_labels(user_labels: dict[str, Any], trigger_id: str, source: str, tick: str | None) -> dict[str, str]:
    """GCP execution labels (lowercase, [a-z0-9_-], <= 63 chars); Kestra labels travel in the argument."""
    labels = {}
    for key, value in user_labels.items():
        clean = _label_value(key)
        if clean and clean[0].isalpha():
            labels[clean] = _label_value(value)
    labels.update({"kestra-from": source, "kestra-trigger": _label_value(trigger_id)})
    if tick is not None:
        labels["kestra-tick"] = _label_value(tick)
    return labels


def _start(
    workflow: str,
    concurrency: Concurrency | None,
    inputs: dict[str, Any],
    user_labels: dict[str, Any],
    trigger: dict[str, Any],
    labels: dict[str, str],
) -> dict[str, Any]:
    """Apply concurrency, skip a duplicate of the same tick, create the execution."""
    active = executions.list_active(workflow)
    if "kestra-tick" in labels:
        for existing in active:
            found = existing.get("labels", {})
            if (
                found.get("kestra-tick") == labels["kestra-tick"]
                and found.get("kestra-trigger") == labels["kestra-trigger"]
            ):
                return {"state": "RUNNING", "execution": existing.get("name"), "trigger": trigger, "duplicate": True}
    if concurrency and len(active) >= concurrency.limit:
        detail = f"workflow {workflow} has {len(active)} active execution(s) (concurrency limit {concurrency.limit})"
        if concurrency.behavior == "QUEUE":
            what = f"tick {trigger['date']}" if "date" in trigger else "request"
            raise RateLimited(f"{detail}: {what} queued, retry later")
        if concurrency.behavior == "FAIL":
            raise Conflict(f"{detail}: execution is FAILED due to concurrency limit exceeded")
        return {"state": "CANCELLED", "execution": None, "trigger": trigger, "duplicate": False}
    argument = json.dumps(
        {
            "inputs": inputs,
            "trigger": trigger,
            "labels": {**{str(k): v for k, v in user_labels.items()}, "system.from": "trigger"},
        },
        separators=(",", ":"),
    )
    if len(argument.encode()) > ARGUMENT_LIMIT:
        raise TaskError(f"execution argument is {len(argument.encode())} bytes (Workflows limit 32 KB)")
    created = executions.create(workflow, argument, labels)
    return {"state": "CREATED", "execution": created.get("name"), "trigger": trigger, "duplicate": False}


class WebhookConfig(BaseModel):
    """One entry of KESTRA_GCP_WEBHOOKS (the manifest's webhook triggers with their workflows)."""

    model_config = ConfigDict(extra="ignore")

    namespace: str
    flow_id: str = Field(alias="flowId")
    workflow: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
    trigger_id: str = Field(alias="triggerId")
    key: str = Field(min_length=1)
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, Any] = Field(default_factory=dict)
    concurrency: Concurrency | None = None


def _webhooks() -> list[WebhookConfig]:
    raw = os.environ.get("KESTRA_GCP_WEBHOOKS", "[]")
    try:
        return [WebhookConfig.model_validate(item) for item in json.loads(raw)]
    except (ValueError, TypeError) as exc:
        raise FunctionError(f"KESTRA_GCP_WEBHOOKS is invalid ({type(exc).__name__}): function misconfigured") from None


def _webhook(call: Call, namespace: str, flow_id: str, key: str) -> dict[str, Any]:
    for hook in _webhooks():
        if hook.namespace == namespace and hook.flow_id == flow_id:
            expected = str(secrets.resolve(hook.key))
            if hmac.compare_digest(expected.encode(), key.encode()):
                body = call.json_body if call.json_body is not None else (call.raw_body or None)
                trigger = {
                    "body": body,
                    "headers": {k: [v] for k, v in call.headers.items() if k not in _CREDENTIAL_HEADERS},
                    "parameters": call.query,
                }
                labels = execution_labels(hook.labels, hook.trigger_id, "webhook", None)
                return _start(hook.workflow, hook.concurrency, hook.inputs, hook.labels, trigger, labels)
    raise NotFound(f"no webhook for flow {namespace}.{flow_id} with this key")


# Never copied into the execution argument (Workflows keeps it in the execution's history).
_CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-serverless-authorization"}
_WEBHOOK_PATH = re.compile(r"(?:^|/)webhook/([^/]+)/([^/]+)/([^/]+)/?$")


def handle(call: Call) -> dict[str, Any]:
    hook = _WEBHOOK_PATH.search(call.path)
    if hook:
        return _webhook(call, *(unquote(part) for part in hook.groups()))
    if call.method != "POST":
        raise BadRequest(f"method {call.method} not allowed: POST a schedule body or call /webhook/<ns>/<flow>/<key>")
    try:
        body = TriggerBody.model_validate(call.body)
    except ValidationError as exc:
        raise BadRequest(validation_message(exc, "invalid trigger body")) from None
    when = call.headers.get("x-cloudscheduler-scheduletime") or body.schedule_time
    instant = _parse_instant(when) if when else None
    trigger = ticks(body.cron, body.time_zone, instant, body.with_seconds)
    labels = execution_labels(body.labels, body.trigger_id, "trigger", trigger["date"])
    return _start(body.workflow, body.concurrency, body.inputs, body.labels, trigger, labels)
