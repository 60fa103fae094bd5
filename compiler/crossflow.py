"""Checks and links across the flows compiled together: duplicate flow ids, Flow-trigger wiring, and cycles
of Flow triggers or Subflow calls."""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.ir import FlowIR, workflow_id
from compiler.model.triggers import FlowTrigger


def upstream_of(flow: FlowIR, trig: FlowTrigger) -> tuple[set[str], set[str]]:
    """(upstream workflow ids named by the trigger's conditions/preconditions, states it fires on)."""
    ups: set[str] = set()
    states: set[str] = set(trig.states or [])
    for cond in trig.conditions:
        t = str(cond.get("type", ""))
        if t.endswith("ExecutionFlowCondition") or t.endswith("ExecutionFlow"):
            ups.add(workflow_id(str(cond.get("namespace", flow.namespace)), str(cond.get("flowId"))))
        elif t.endswith("ExecutionStatusCondition") or t.endswith("ExecutionStatus"):
            states |= set(cond.get("in") or [])
            if cond.get("notIn"):
                states |= {"SUCCESS", "WARNING", "FAILED"} - set(cond["notIn"])
    pre = trig.preconditions or {}
    for item in pre.get("flows") or []:
        if isinstance(item, dict) and item.get("flowId"):
            ups.add(workflow_id(str(item.get("namespace", flow.namespace)), str(item["flowId"])))
            states |= set(item.get("states") or [])
    return ups, states


def namespace_conditions(trig: FlowTrigger) -> list[tuple[str, bool]]:
    out = []
    for cond in trig.conditions:
        if str(cond.get("type", "")).endswith(("ExecutionNamespaceCondition", "ExecutionNamespace")):
            out.append((str(cond.get("namespace")), bool(cond.get("prefix", False))))
    return out


def links(flows: list[FlowIR]) -> dict[str, list[dict[str, Any]]]:
    """Upstream workflow id -> downstream starts it must perform at its end."""
    by_id = {f.workflow_id: f for f in flows}
    out: dict[str, list[dict[str, Any]]] = {}
    for down in flows:
        for trig in down.triggers:
            if trig.kind != "flow" or not isinstance(trig.model, FlowTrigger) or trig.model.disabled:
                continue
            ups, states = upstream_of(down, trig.model)
            for ns, prefix in namespace_conditions(trig.model):
                ups |= {wid for wid, f in by_id.items()
                        if (f.namespace.startswith(ns) if prefix else f.namespace == ns) and wid != down.workflow_id}
            for up in sorted(ups):
                if up in by_id:
                    static_inputs = dict(trig.model.inputs)  # expressions are rejected by the front end
                    out.setdefault(up, []).append({"workflow": down.workflow_id, "trigger": trig.id,
                                                   "states": sorted(states or {"SUCCESS", "WARNING"}),
                                                   "inputs": static_inputs})
    return out


def check(flows: list[FlowIR]) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    seen: dict[str, FlowIR] = {}
    for f in flows:
        if f.workflow_id in seen:
            first = seen[f.workflow_id]
            diags.append(f.source.diag(("id",), f"duplicate flow '{f.namespace}.{f.id}' (also in {first.file})"))
        else:
            seen[f.workflow_id] = f
    # edges: upstream -> downstream (flow triggers), caller -> callee (subflows), each with a place to report
    edges: dict[str, list[tuple[str, FlowIR, tuple[Any, ...]]]] = {}
    for up, downs in links(flows).items():
        for d in downs:
            f = seen[d["workflow"]]
            idx = next(i for i, t in enumerate(f.triggers) if t.id == d["trigger"])
            edges.setdefault(up, []).append((d["workflow"], f, f.triggers[idx].path))
    for f in flows:
        for node in f.all_tasks():
            if node.type == "io.kestra.plugin.core.flow.Subflow":
                callee = workflow_id(str(node.raw.get("namespace")), str(node.raw.get("flowId")))
                edges.setdefault(f.workflow_id, []).append((callee, f, node.path))
    reported: set[str] = set()
    for startp in sorted(edges):
        stack: list[tuple[str, list[str]]] = [(startp, [startp])]
        while stack:
            cur, trail = stack.pop()
            for nxt, f, path in edges.get(cur, []):
                if nxt == startp:
                    cycle = " -> ".join([*trail, nxt])
                    key = "|".join(sorted(trail))
                    if key not in reported:
                        reported.add(key)
                        diags.append(f.source.diag(path, f"cycle of flow triggers/subflows: {cycle}"))
                elif nxt not in trail and len(trail) < 50:
                    stack.append((nxt, [*trail, nxt]))
    return diags
