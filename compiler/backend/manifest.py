"""The per-flow manifest entry Terraform and the local engine read (contracts.md `build/manifest.json`)."""

from __future__ import annotations

import re
from typing import Any

from compiler.backend.workflow import GeneratedFlow
from compiler.ir import FlowIR
from compiler.model.triggers import FlowTrigger, Webhook

JDBC = re.compile(r"^jdbc:postgresql://(?P<host>[^:/?]+)(?::(?P<port>\d+))?/(?P<db>[^?]+)")


SECRET_ONLY = re.compile(r"^\{\{\s*secret\(\s*['\"]([A-Za-z0-9_-]+)['\"]\s*\)\s*\}\}$")


def _secret_marker(value: str | None) -> str | None:
    """A webhook key given as `{{ secret('K') }}` becomes the contract's marker `{{secret:K}}`."""
    m = SECRET_ONLY.match(value or "")
    return f"{{{{secret:{m.group(1)}}}}}" if m else value


def _const(value: Any) -> bool:
    return isinstance(value, str) and "{{" not in value and "{%" not in value


def _resources(flow: FlowIR) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    pg: dict[str, dict[str, Any]] = {}
    buckets: dict[str, dict[str, Any]] = {}
    datasets: dict[str, dict[str, Any]] = {}
    for node in flow.all_tasks():
        raw = node.raw
        if node.type.startswith("io.kestra.plugin.jdbc.postgresql."):
            m = JDBC.match(str(raw.get("url", "")))
            if m:
                key = f"{m.group('host')}:{m.group('port') or 5432}"
                pg[key] = {"host": m.group("host"), "port": int(m.group("port") or 5432),
                           "database": m.group("db"), "key": key}
        elif node.type == "io.kestra.plugin.gcp.gcs.CreateBucket":
            name = raw.get("name")
            constant = _const(name) and (raw.get("location") is None or _const(raw.get("location")))
            buckets[str(name)] = {"name": name, "location": raw.get("location"), "constant": bool(constant)}
        elif node.type == "io.kestra.plugin.gcp.bigquery.CreateDataset":
            name = raw.get("name")
            constant = all(_const(v) or v is None for v in (name, raw.get("projectId"), raw.get("location")))
            datasets[f"{raw.get('projectId')}:{name}"] = {
                "project": raw.get("projectId"), "dataset": name, "location": raw.get("location"),
                "constant": bool(constant)}
    order = sorted
    return ([pg[k] for k in order(pg)], [buckets[k] for k in order(buckets)],
            [datasets[k] for k in order(datasets)])


def manifest_entry(flow: FlowIR, gen: GeneratedFlow, schedule_names: list[str],
                   downstream: list[str]) -> dict[str, Any]:
    pg, buckets, datasets = _resources(flow)
    flow_triggers, webhooks = [], []
    for trig in flow.triggers:
        if trig.kind == "flow" and isinstance(trig.model, FlowTrigger):
            from compiler.crossflow import upstream_of

            ups, states = upstream_of(flow, trig.model)
            flow_triggers.append({"id": trig.id, "upstream": sorted(ups), "states": sorted(states)})
        elif trig.kind == "webhook" and isinstance(trig.model, Webhook):
            webhooks.append({"id": trig.id, "key": _secret_marker(trig.model.key)})
    kv_written = sorted({(flow.namespace if not n.raw.get("namespace") else str(n.raw["namespace"]), str(n.raw["key"]))
                         for n in flow.all_tasks() if n.type == "io.kestra.plugin.core.kv.Set"})
    return {
        "namespace": flow.namespace, "id": flow.id, "workflow": flow.workflow_id, "source": flow.file,
        "file": f"workflows/{flow.workflow_id}.yaml",
        "functions": sorted(gen.functions),
        "kv": {"read": [{"namespace": ns, "key": k} for ns, k in sorted(gen.kv_read)],
               "write": [{"namespace": ns, "key": k} for ns, k in kv_written]},
        "secrets": sorted(gen.secrets | {str(w["key"])[9:-2] for w in webhooks
                                         if str(w["key"]).startswith("{{secret:")}),
        "postgres": pg, "buckets": buckets, "datasets": datasets,
        "images": [{"key": k, "image": gen.images[k]} for k in sorted(gen.images)],
        "subflows": sorted(gen.subflows),
        "concurrency": flow.concurrency,
        "inputs": [{"id": i.id, "type": i.type, "required": i.required, "defaults": i.defaults,
                    **({"values": i.choices, "allowCustomValue": i.allowCustomValue} if i.choices else {})}
                   for i in flow.inputs],
        "triggers": {"schedules": sorted(schedule_names), "flow": flow_triggers,
                     "webhooks": sorted(webhooks, key=lambda w: w["id"])},
        "downstream": sorted(downstream),
        "disabled": flow.disabled,
    }
