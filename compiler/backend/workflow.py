"""Assembles the Workflows document of one flow: start-up (arguments, inputs, KV), tasks, errors, finally,
downstream flow triggers, and the result (or the failure raised as a map)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from compiler.backend.builder import FlowLinks, StepBuilder, step_name, target
from compiler.backend.expressions import Expressions
from compiler.backend.runtime import EXECUTION_FAILED, helper_subworkflows
from compiler.diagnostics import Diagnostic
from compiler.ir import FlowIR

Step = dict[str, Any]


@dataclass
class GeneratedFlow:
    document: dict[str, Any]
    diagnostics: list[Diagnostic]
    functions: set[str] = field(default_factory=set)
    kv_read: set[tuple[str, str]] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)
    subflows: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)


def _inputs(flow: FlowIR, b: StepBuilder) -> list[Step]:
    steps: list[Step] = []
    for inp in flow.inputs:
        path = flow.input_paths[inp.id]
        dflt = b.expr.value(inp.defaults, (*path, "defaults"), b.scope()) if inp.defaults is not None else None
        choices = inp.choices
        n = b.unique(step_name(f"input_{inp.id}"))
        steps.append({n: {"call": "kestra_input", "args": {
            "name": inp.id, "value": f'${{map.get(raw_inputs, "{inp.id}")}}', "kind": inp.type,
            "required": inp.required, "dflt": dflt,
            # values are only checked when the input does not allow custom values
            "values": None if inp.allowCustomValue else choices,
            "values_text": ", ".join(str(c) for c in choices) if choices and not inp.allowCustomValue else None,
            "min": inp.min if isinstance(inp.min, int | float) else None,
            "max": inp.max if isinstance(inp.max, int | float) else None,
            "pattern": f"^(?:{inp.validator})$" if inp.validator and inp.type == "STRING" else None,
        }, "result": f"{n}_value"}})
        steps.append({f"{n}_set": {"assign": [{target("inputs", inp.id): f"${{{n}_value}}"}]}})
    return steps


def _start(flow: FlowIR, b: StepBuilder) -> list[Step]:
    labels = b.expr.value(flow.labels, ("labels",), b.scope()) if flow.labels else {}
    return [
        {"init": {"assign": [
            {"execution": {"id": '${sys.get_env("GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID")}',
                           "startDate": "${time.format(sys.now())}",
                           "namespace": flow.namespace, "flowId": flow.id}},
            {"inputs": {}}, {"outputs": {}}, {"kv": {}}, {"labels": labels},
            {"task_runs": []}, {"state": "SUCCESS"}, {"failure": None}, {"failed_task": None},
        ]}},
        {"read_inputs": {"call": "kestra_get", "args": {"m": "${args}", "k": "inputs", "d": {}},
                         "result": "raw_inputs"}},
        {"read_trigger": {"call": "kestra_get", "args": {"m": "${args}", "k": "trigger", "d": None},
                          "result": "trigger"}},
        {"read_labels": {"call": "kestra_get", "args": {"m": "${args}", "k": "labels", "d": {}},
                         "result": "arg_labels"}},
        {"merge_labels": {"assign": [{"labels": "${map.merge(labels, arg_labels)}"}]}},
    ]


def _downstream(flow: FlowIR, b: StepBuilder) -> list[Step]:
    steps: list[Step] = []
    env = 'sys.get_env("GOOGLE_CLOUD_'
    for link in b.links.downstream:
        n = b.unique(step_name(f"trigger_{link['workflow']}_{link['trigger']}"))
        states = link["states"]
        argument = {"trigger": {"executionId": "${execution.id}", "namespace": flow.namespace, "flowId": flow.id,
                                "state": "${state}", "outputs": "${outputs}"},
                    "inputs": link.get("inputs") or {}, "labels": {"system.from": "trigger"}}
        parent = (f'${{"projects/" + {env}PROJECT_ID") + "/locations/" + {env}LOCATION") + '
                  f'"/workflows/{link["workflow"]}"}}')
        cond = " or ".join(f'state == "{s}"' for s in states) if states else "true"
        steps.append({n: {"switch": [{"condition": f"${{{cond}}}", "steps": [
            {f"{n}_start": {"try": {"steps": [
                {f"{n}_arg": {"assign": [{f"{n}_argument": argument}]}},
                {f"{n}_create": {
                    "call": "googleapis.workflowexecutions.v1.projects.locations.workflows.executions.create",
                    "args": {"parent": parent, "body": {"argument": f"${{json.encode_to_string({n}_argument)}}"}},
                    "result": f"{n}_execution"}},
            ]}, "except": {"as": "e", "steps": [{f"{n}_failed": {"call": "sys.log", "args": {
                "data": "${e}", "severity": "ERROR"}}}]}}},
        ]}]}})
    return steps


@lru_cache(maxsize=1)
def _helpers() -> dict[str, Any]:
    """The helper subworkflows (shared, never mutated: the emitter only reads documents)."""
    return helper_subworkflows()


def generate(flow: FlowIR, lines: list[str], links: FlowLinks, check_only: bool = False) -> GeneratedFlow:
    """The Workflows document of `flow`; with `check_only`, templates are checked but not compiled."""
    expr = Expressions(flow.source, lines, check_only=check_only)
    b = StepBuilder(flow, expr, links)
    start = _start(flow, b)
    inputs = _inputs(flow, b)
    expr.task_kv = set()
    body = b.block(flow.tasks)
    done_after_tasks = dict(b.done)
    errors = b.block(flow.errors)
    b.done = done_after_tasks | {k: v for k, v in b.done.items() if k not in done_after_tasks}
    final = b.block(flow.finally_)
    b.after_execution = True
    after = b.block(flow.after_execution)
    kv_steps = b.kv_load("kv", expr.task_kv)  # keys read outside any task (e.g. a top-level runIf)
    main_steps: list[Step] = [
        *start, *inputs,
        {"run": {"try": {"steps": [*kv_steps, *body]}, "except": {"as": "e", "steps": [
            {"run_error": {"call": "kestra_error_message", "args": {"e": "${e}"}, "result": "run_message"}},
            {"run_failed": {"assign": [{"state": "FAILED"}]}},
            {"run_first_failure": {"switch": [{"condition": "${failure == null}", "assign": [
                {"failure": '${"execution failed: " + run_message}'}]}]}},
        ]}}},
    ]
    if errors:
        main_steps.append({"errors": {"switch": [{"condition": '${state == "FAILED"}', "steps": [
            {"errors_run": {"try": {"steps": errors}, "except": {"as": "e", "steps": [
                {"errors_failed": {"call": "sys.log", "args": {"data": "${e}", "severity": "ERROR"}}}]}}}]}]}})
    if final:
        main_steps.append({"finally": {"try": {"steps": final}, "except": {"as": "e", "steps": [
            {"finally_failed": {"assign": [{"state": "FAILED"}]}}]}}})
    main_steps.extend(_downstream(flow, b))
    if after:
        main_steps.append({"final_state": {"assign": [{"execution.state": "${state}"}]}})
        main_steps.append({"after_execution": {"try": {"steps": after}, "except": {"as": "e", "steps": [
            {"after_execution_failed": {"call": "sys.log", "args": {"data": "${e}", "severity": "ERROR"}}}]}}})
    main_steps.append({"finish": {"switch": [{"condition": '${state == "FAILED"}', "raise": {
        "tags": [EXECUTION_FAILED], "message": "${default(failure, \"execution failed\")}", "state": "FAILED",
        "taskId": "${failed_task}", "outputs": "${outputs}", "labels": "${labels}", "taskRuns": "${task_runs}"}}]}})
    main_steps.append({"result": {"return": {"state": "${state}", "outputs": "${outputs}", "labels": "${labels}",
                                             "taskRuns": "${task_runs}"}}})
    document: dict[str, Any] = {"main": {"params": ["args"], "steps": main_steps}}
    document.update(_helpers())
    return GeneratedFlow(document, expr.diagnostics, b.functions, set(expr.kv), set(expr.secrets),
                         b.subflows, b.notes, b.images)


def dumps_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
