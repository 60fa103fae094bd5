"""Schedule triggers -> `schedules.json` entries (Cloud Scheduler jobs POSTing to the `trigger` function)."""

from __future__ import annotations

import re
from typing import Any

from compiler.ir import FlowIR
from compiler.model.triggers import Schedule


def job_name(flow: FlowIR, trigger_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{flow.workflow_id}-{trigger_id}")[:500]


def schedules(flow: FlowIR) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for trig in flow.triggers:
        if trig.kind != "schedule" or trig.cron is None:
            continue
        model = trig.model
        assert isinstance(model, Schedule)
        labels = model.labels if isinstance(model.labels, dict) else {}
        if isinstance(model.labels, list):
            labels = {str(i.get("key")): i.get("value") for i in model.labels if isinstance(i, dict)}
        body = {"workflow": flow.workflow_id, "namespace": flow.namespace, "flowId": flow.id,
                "triggerId": trig.id, "cron": trig.cron, "timeZone": model.timezone, "inputs": model.inputs,
                "labels": labels, "concurrency": flow.concurrency,
                "recoverMissedSchedules": model.recoverMissedSchedules or "ALL"}
        out.append({"name": job_name(flow, trig.id), "workflow": flow.workflow_id, "namespace": flow.namespace,
                    "flowId": flow.id, "triggerId": trig.id, "cron": trig.cron, "timeZone": model.timezone,
                    "paused": model.disabled or flow.disabled, "inputs": model.inputs, "body": body})
    return out
