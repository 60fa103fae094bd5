"""Flowable tasks: If, Switch, ForEach (and EachSequential/EachParallel), Parallel, Sequential, Subflow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compiler.model.common import duration_seconds
from compiler.tasks.base import TaskBase, TaskSpec

if TYPE_CHECKING:
    from compiler.backend.builder import StepBuilder
    from compiler.ir import TaskNode

P = "io.kestra.plugin.core.flow."
Steps = list[dict[str, Any]]


class If(TaskBase):
    condition: Any


class Switch(TaskBase):
    value: Any


class ForEach(TaskBase):
    values: Any
    concurrencyLimit: int = 1


class Each(TaskBase):
    value: Any
    concurrent: int | None = None


class Parallel(TaskBase):
    concurrent: int = 0


class Sequential(TaskBase):
    pass


class Subflow(TaskBase):
    namespace: str
    flowId: str
    inputs: dict[str, Any] | None = None
    labels: dict[str, Any] | list[dict[str, Any]] | None = None
    wait: bool = True
    transmitFailed: bool = True
    inheritLabels: bool = False
    revision: int | None = None
    scheduleDate: Any = None
    outputs: Any = None


def _local_handlers(node: TaskNode, b: StepBuilder, body: Steps) -> Steps:
    """A flowable's own `errors`/`finally` blocks around its body."""
    errors, final = node.children.get("errors"), node.children.get("finally")
    if not errors and not final:
        return body
    n = b.name(node)
    out: Steps = [{f"{n}_body": {"try": {"steps": body}, "except": {"as": "e", "steps": [
        *([{f"{n}_errors": {"try": {"steps": b.block(errors)}, "except": {"as": "ignored", "steps": [
            {f"{n}_errors_failed": {"assign": [{"state": "FAILED"}]}}]}}}] if errors else []),
        *([{f"{n}_finally_on_error": {"steps": b.block(final)}}] if final else []),
        {f"{n}_reraise": {"raise": "${e}"}},
    ]}}}]
    if final:
        out.append({f"{n}_finally": {"steps": b.block(final)}})
    return out


def _if(node: TaskNode, b: StepBuilder) -> Steps:
    n = b.name(node)
    cond = b.condition(node, "condition")
    then = b.block(node.children.get("then", []))
    other = b.block(node.children.get("else", []))
    branches: list[dict[str, Any]] = [{"condition": cond, "steps": then or [{f"{n}_noop": {"assign": [
        {f"{n}_branch": "then"}]}}]}]
    if other:
        branches.append({"condition": True, "steps": other})
    return _local_handlers(node, b, [{f"{n}_switch": {"switch": branches}}])


def _switch(node: TaskNode, b: StepBuilder) -> Steps:
    from compiler.backend.builder import target

    n = b.name(node)
    value = b.value(node, "value")
    cases = [(k[len("cases."):], v) for k, v in node.children.items() if k.startswith("cases.")]
    branches: list[dict[str, Any]] = []
    for i, (case, kids) in enumerate(cases, 1):
        steps = b.block(kids) or [{f"{n}_case{i}_noop": {"assign": [{f"{n}_matched": True}]}}]
        branches.append({"condition": f"${{{n}_value == {_literal(case)}}}", "steps": [
            {f"{n}_case{i}": {"assign": [{target("outputs", node.id): {"value": f"${{{n}_value}}",
                                                                                "defaults": False}}]}},
            *steps]})
    defaults = b.block(node.children.get("defaults", []))
    branches.append({"condition": True, "steps": [
        {f"{n}_default": {"assign": [{target("outputs", node.id): {"value": f"${{{n}_value}}",
                                                                    "defaults": True}}]}}, *defaults]})
    if len(branches) > 50:
        b.error((*node.path, "cases"), "Switch with more than 49 cases (a Cloud Workflows limit of 50 conditions)")
    return _local_handlers(node, b, [
        {f"{n}_eval": {"assign": [{f"{n}_value": value}]}},
        {f"{n}_select": {"switch": branches}},
    ])


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _loop(node: TaskNode, b: StepBuilder, values_prop: str, concurrency: int) -> Steps:
    n = b.name(node)
    raw = node.raw.get(values_prop)
    prelude: Steps = []
    if isinstance(raw, list):
        values: Any = b.value(node, values_prop)
    else:
        compiled, _ = b.typed(node, values_prop)
        prelude = [{f"{n}_values": {"call": "kestra_list", "args": {"v": compiled}, "result": f"{n}_items"}}]
        values = f"${{{n}_items}}"
    b.loop_depth += 1
    b.loop_indexes.append(f"{n}_index")
    # an inner loop keeps its own `taskrun`: the outer one's stays valid after it, and a parallel inner loop
    # may not assign a variable of its parent's scope
    run_var = f"{n}_run" if b.loop_runs else "taskrun"
    b.loop_runs.append(run_var)
    parallel = concurrency != 1
    if parallel:
        b.enter_parallel((*node.path, "concurrencyLimit"))
    body = b.block(node.children.get("tasks", []))
    if parallel:
        b.leave_parallel()
    b.loop_depth -= 1
    b.loop_indexes.pop()
    b.loop_runs.pop()
    loop = {"value": f"{n}_value", "index": f"{n}_index", "in": values, "steps": [
        {f"{n}_taskrun": {"assign": [{run_var: {"value": f"${{{n}_value}}", "iteration": f"${{{n}_index}}"}}]}},
        *body,
    ]}
    if not parallel:
        return _local_handlers(node, b, [*prelude, {f"{n}_loop": {"for": loop}}])
    from compiler.backend.runtime import SHARED

    par: dict[str, Any] = {"shared": list(SHARED), "for": loop}
    if concurrency > 0:
        par["concurrency_limit"] = concurrency
    return _local_handlers(node, b, [*prelude, {f"{n}_loop": {"parallel": par}}])


def _foreach(node: TaskNode, b: StepBuilder) -> Steps:
    limit = node.model.concurrencyLimit if isinstance(node.model, ForEach) else 1
    return _loop(node, b, "values", limit)


def _each_sequential(node: TaskNode, b: StepBuilder) -> Steps:
    return _loop(node, b, "value", 1)


def _each_parallel(node: TaskNode, b: StepBuilder) -> Steps:
    conc = node.model.concurrent if isinstance(node.model, Each) else None
    return _loop(node, b, "value", conc or 0)


def _parallel(node: TaskNode, b: StepBuilder) -> Steps:
    kids = node.children.get("tasks", [])
    b.enter_parallel(node.path)
    branches = [b.task(kid) for kid in kids]
    b.leave_parallel()
    limit = node.model.concurrent if isinstance(node.model, Parallel) else 0
    return _local_handlers(node, b, b.parallel(branches, node.path, limit or None, b.name(node)))


def _sequential(node: TaskNode, b: StepBuilder) -> Steps:
    body = b.block(node.children.get("tasks", []))
    return _local_handlers(node, b, body or [{f"{b.name(node)}_empty": {"assign": [{f"{b.name(node)}_ran": True}]}}])


def _subflow(node: TaskNode, b: StepBuilder) -> Steps:
    from compiler.backend.builder import target
    from compiler.ir import workflow_id

    n = b.name(node)
    model = node.model
    assert isinstance(model, Subflow)
    if "{{" in model.namespace or "{{" in model.flowId:
        b.error((*node.path, "flowId"), "Subflow namespace and flowId must be constants to be compiled")
        return []
    wid = workflow_id(model.namespace, model.flowId)
    if b.links.known_workflows and wid not in b.links.known_workflows:
        b.warning((*node.path, "flowId"), f"Subflow target '{model.namespace}.{model.flowId}' is not among the "
                                          "compiled flows: deploy it too")
    b.subflows.add(wid)
    labels = b.value(node, "labels") or {}
    if isinstance(labels, list):
        labels = {str(item.get("key")): item.get("value") for item in labels}
    argument = {"inputs": b.value(node, "inputs") or {}, "labels": labels}
    env = 'sys.get_env("GOOGLE_CLOUD_'
    if model.wait:
        call: dict[str, Any] = {"call": "googleapis.workflowexecutions.v1.projects.locations.workflows.executions.run",
                                "args": {"workflow_id": wid, "location": f'${{{env}LOCATION")}}',
                                         "project_id": f'${{{env}PROJECT_ID")}}', "argument": argument},
                                "result": f"{n}_result"}
        if model.timeout:
            seconds = duration_seconds(model.timeout)
            if seconds:
                call["args"]["connector_params"] = {"timeout": max(1, int(seconds))}
        ok = {target("outputs", node.id): {"executionId": None, "state": f"${{{n}_result.state}}",
                                           "outputs": f"${{{n}_result.outputs}}"}}
        steps: Steps = [{f"{n}_run": call}, {f"{n}_outputs": {"assign": [ok]}}]
        if not model.transmitFailed:
            steps = [{f"{n}_guard": {"try": {"steps": steps}, "except": {"as": "e", "steps": [
                {f"{n}_child_failed": {"assign": [{target("outputs", node.id): {
                    "executionId": None, "state": "FAILED", "outputs": {}}}]}}]}}}]
        return steps
    parent = (f'${{"projects/" + {env}PROJECT_ID") + "/locations/" + {env}LOCATION") + '
              f'"/workflows/{wid}"}}')
    return [
        {f"{n}_argument": {"assign": [{f"{n}_arg": argument}]}},
        {f"{n}_create": {"call": "googleapis.workflowexecutions.v1.projects.locations.workflows.executions.create",
                         "args": {"parent": parent, "body": {"argument": f"${{json.encode_to_string({n}_arg)}}"}},
                         "result": f"{n}_execution"}},
        {f"{n}_outputs": {"assign": [{target("outputs", node.id): {
            "executionId": f"${{{n}_execution.name}}", "state": "CREATED"}}]}},
    ]


FLOWABLE = ("errors", "finally")
SPECS = [
    TaskSpec(P + "If", If, _if, children=("then", "else", *FLOWABLE), flowable=True),
    TaskSpec(P + "Switch", Switch, _switch, frozenset({"value", "defaults"}),
             children=("cases", "defaults", *FLOWABLE), flowable=True),
    TaskSpec(P + "ForEach", ForEach, _foreach, children=("tasks", *FLOWABLE), flowable=True),
    TaskSpec(P + "EachSequential", Each, _each_sequential, children=("tasks", *FLOWABLE), flowable=True),
    TaskSpec(P + "EachParallel", Each, _each_parallel, children=("tasks", *FLOWABLE), flowable=True),
    TaskSpec(P + "Parallel", Parallel, _parallel, children=("tasks", *FLOWABLE), flowable=True),
    TaskSpec(P + "Sequential", Sequential, _sequential, children=("tasks", *FLOWABLE), flowable=True),
    TaskSpec(P + "Subflow", Subflow, _subflow, frozenset({"executionId", "state", "outputs"}),
             aliases=("io.kestra.core.tasks.flows.Subflow",)),
]
