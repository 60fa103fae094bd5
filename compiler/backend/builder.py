"""Builds the Workflows steps of one flow: task wrappers (runIf, attempts, retry, failure policy), blocks,
function calls, and the scope each task's expressions are checked in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from compiler.backend.expressions import Expressions, make_scope
from compiler.backend.runtime import SHARED
from compiler.diagnostics import Diagnostic, Severity
from compiler.ir import FlowIR, TaskNode
from compiler.model.common import duration_seconds
from compiler.model.retry import Retry
from compiler.pebble.wexpr import W, member
from compiler.yamlsource import Path

HTTP_TIMEOUT = 1800
# names of the fixed steps and variables of `main` (see backend/workflow.py and runtime.py)
RESERVED = frozenset({
    "init", "read_inputs", "read_trigger", "read_labels", "merge_labels", "run", "run_error", "run_failed",
    "run_first_failure", "run_message", "final_state", "errors", "errors_run", "errors_failed", "finally",
    "finally_failed",
    "after_execution", "after_execution_failed", "finish", "result", "args", "raw_inputs", "arg_labels",
    "inputs", "outputs", "kv", "trigger", "execution", "labels", "taskrun", "task_runs", "state", "failure",
    "failed_task", "e",
})
Step = dict[str, Any]


def _quote(text: str) -> str:
    """A Workflows string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def step_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def target(var: str, key: str) -> str:
    """Assignment target / access for `var[key]`: the same spelling as the Pebble code generator's accesses."""
    return member(W(var, "map"), key).code


@dataclass
class FlowLinks:
    """Cross-flow facts: subflow targets known and downstream flows triggered by this one."""

    known_workflows: set[str] = field(default_factory=set)
    downstream: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StepBuilder:
    flow: FlowIR
    expr: Expressions
    links: FlowLinks = field(default_factory=FlowLinks)
    functions: set[str] = field(default_factory=set)
    subflows: set[str] = field(default_factory=set)
    done: dict[str, frozenset[str] | None] = field(default_factory=dict)
    loop_depth: int = 0
    loop_indexes: list[str] = field(default_factory=list)  # index variables of the enclosing loops, outermost first
    loop_runs: list[str] = field(default_factory=list)  # their `taskrun` variables (distinct: loops may nest)
    parallel_depth: int = 0
    working_dir: bool = False
    names: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)  # Cloud Run job key -> container image
    _node_names: dict[int, str] = field(default_factory=dict)
    _static: dict[str, Any] | None = None
    keyed: set[str] = field(default_factory=set)  # tasks inside ForEach: outputs also keyed by value
    after_execution: bool = False  # generating afterExecution (execution.state is known)
    current: TaskNode | None = None  # the task being generated (task.id, task.type)
    _scope: Any = None
    _scope_key: tuple[Any, ...] | None = None

    # ---- diagnostics and scope -------------------------------------------------------------
    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.expr.diagnostics

    def error(self, path: Path, message: str) -> None:
        self.expr.diagnostics.append(self.flow.source.diag(path, message))

    def warning(self, path: Path, message: str) -> None:
        pos = self.flow.source.value(path)
        self.expr.diagnostics.append(Diagnostic(self.flow.source.path, pos.line, pos.col, message, Severity.WARNING))

    def scope(self, in_loop: bool | None = None, working_dir: bool = False) -> Any:
        """The Pebble scope at the current point (tasks run so far, loop context); cached until it changes."""
        loop = self.loop_depth > 0 if in_loop is None else in_loop
        key = (len(self.done), loop, working_dir, len(self.keyed), self.after_execution, id(self.current),
               self.taskrun_var)
        if self._scope_key == key and self._scope is not None:
            return self._scope
        if self._static is None:
            all_nodes = self.flow.all_tasks()
            self._static = {
                "inputs": {i.id: i.type for i in self.flow.inputs}, "variables": self.flow.variables,
                "nullable_inputs": frozenset(i.id for i in self.flow.inputs
                                             if not i.required and i.defaults is None),
                "all_tasks": frozenset(n.id for n in all_nodes), "task_types": {n.id: n.type for n in all_nodes},
                "has_trigger": bool(self.flow.triggers), "flow_id": self.flow.id,
                "namespace": self.flow.namespace, "labels": {k: str(v) for k, v in self.flow.labels.items()},
            }
        task = self.current
        self._scope = make_scope(tasks=dict(self.done), in_loop=loop, taskrun_var=self.taskrun_var,
                                 working_dir=working_dir,
                                 keyed_tasks=frozenset(self.keyed), after_execution=self.after_execution,
                                 task_id=task.id if task else "", task_type=task.type if task else "",
                                 **self._static)
        self._scope_key = key
        return self._scope

    def value(self, node: TaskNode, prop: str, default: Any = None) -> Any:
        """The compiled value of property `prop` of `node` (or `default` when unset)."""
        if prop not in node.raw:
            return default
        wd = node.type.startswith("io.kestra.plugin.jdbc.duckdb.")
        return self.expr.value(node.raw[prop], (*node.path, prop), self.scope(working_dir=wd))

    def condition(self, node: TaskNode, *at: str | int) -> Any:
        """The value at `at` in `node` (e.g. `"runIf"`, `"conditions", 0`) as a Workflows boolean judged with
        Kestra's truthiness."""
        value: Any = node.raw
        for key in at:
            value = value[key]
        return self.expr.condition(value, (*node.path, *at), self.scope())

    def typed(self, node: TaskNode, prop: str) -> tuple[Any, str]:
        raw = node.raw.get(prop)
        if isinstance(raw, str):
            res = self.expr.string(raw, (*node.path, prop), self.scope())
            return res.value, res.type
        return self.expr.value(raw, (*node.path, prop), self.scope()), type(raw).__name__

    def unique(self, base: str) -> str:
        """A base name for steps and variables (`<name>_<suffix>`) not used yet nor reserved."""
        name, i = base, 2
        while self._taken(name):
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        return name

    def _taken(self, name: str) -> bool:
        return name in RESERVED or name in self.names

    def name(self, node: TaskNode) -> str:
        """The name allocated to `node`: its steps and variables are `<name>_<suffix>`."""
        return self._node_names[id(node)]

    # ---- blocks ------------------------------------------------------------------------------
    def block(self, nodes: list[TaskNode]) -> list[Step]:
        steps: list[Step] = []
        for node in nodes:
            steps.extend(self.task(node))
        return steps

    def task(self, node: TaskNode) -> list[Step]:
        """One task, wrapped: runIf, task-run record, attempts, retry, allowFailure/allowWarning."""
        n = self.unique(step_name(node.id))
        self._node_names[id(node)] = n
        v_start, v_att = f"{n}_start", f"{n}_attempts"
        run_if = self.condition(node, "runIf") if "runIf" in node.raw else True
        outer = self.expr.hoist, self.expr.hoist_prefix, self.current, self.expr.task_kv
        self.expr.hoist, self.expr.hoist_prefix, self.current, self.expr.task_kv = [], n, node, set()
        core = node.spec.generate(node, self)
        core = [*self.kv_load(n, self.expr.task_kv), *self.expr.hoist, *core]
        if self.loop_depth > 0 and node.spec.outputs != frozenset() and not node.spec.flowable:
            core = self._keyed_by_value(node, n, core)
            self.keyed.add(node.id)
        self.expr.hoist, self.expr.hoist_prefix, self.current, self.expr.task_kv = outer
        self.done[node.id] = node.spec.outputs
        for kid in node.walk()[1:]:
            self.done.setdefault(kid.id, kid.spec.outputs)
        tid = _quote(node.id)

        def record(state: str) -> dict[str, str]:
            return {"task_runs": f'${{list.concat(task_runs, kestra_run({tid}, "{state}", {v_start}, {v_att}))}}'}

        body: list[Step] = [{f"{n}_attempt": {"assign": [{v_att: f"${{{v_att} + 1}}"}]}}, *core,
                            {f"{n}_end": {"assign": [record("SUCCESS")]}}]
        try_step: dict[str, Any] = {"try": {"steps": body}}
        retry = node.effective_retry(self.flow.retry)
        if retry is not None and not node.spec.flowable:
            policy = retry_policy(retry)
            if policy is not None:
                try_step["retry"] = policy
        allow_fail, allow_warn = node.model.allowFailure, node.model.allowWarning
        if not allow_fail:
            on_error: list[Step] = [
                {f"{n}_failed": {"assign": [
                    record("FAILED"),
                    {"failed_task": f"${{default(failed_task, {tid})}}"},
                    {"failure": f"${{default(failure, {_quote(f'task {node.id!r} failed: ')} + "
                                "kestra_error_message(e))}"},
                ]}},
                {f"{n}_raise": {"raise": "${e}"}},
            ]
        else:
            state = "SUCCESS" if allow_warn else "WARNING"
            on_error = [
                {f"{n}_failed": {"assign": [record(state)] + ([] if allow_warn else [
                    {"state": "${kestra_warning(state)}"}])}},
                {f"{n}_log": {"call": "sys.log", "args": {
                    "text": f"${{{_quote(f'task {node.id!r} failed (allowFailure): ')} + kestra_error_message(e)}}",
                    "severity": "WARNING"}}},
            ]
        try_step["except"] = {"as": "e", "steps": on_error}
        steps: list[Step] = [
            {f"{n}_begin": {"assign": [{v_start: "${time.format(sys.now())}"}, {v_att: 0}]}},
            {f"{n}_try": try_step},
        ]
        if run_if is not True:
            steps = [{f"{n}_check": {"switch": [
                {"condition": run_if, "steps": steps},
                {"condition": True, "assign": [{"task_runs": f'${{list.concat(task_runs, kestra_run({tid}, '
                                                              '"SKIPPED", time.format(sys.now()), 0))}'}]},
            ]}}]
        return [{n: {"steps": steps}}]

    def kv_load(self, n: str, keys: set[tuple[str, str]]) -> list[Step]:
        """Steps loading the KV `keys` a task reads, just before it runs (Kestra reads KV when it renders).

        Missing keys are left out of `kv`: reading one fails where it is read, as Kestra's rendering fails, and
        `kv(..., errorOnMissing=false)` reads null."""
        if not keys:
            return []
        self.functions.add("kv")
        return [
            {f"{n}_kv": {"call": "http.post", "args": {
                "url": '${sys.get_env("KESTRA_GCP_FN_KV")}', "auth": {"type": "OIDC"}, "timeout": 60,
                "body": {"task": {"id": f"{n}_kv", "type": "io.kestra.plugin.core.kv.Get",
                                  "keys": [{"namespace": ns, "key": key, "errorOnMissing": False}
                                           for ns, key in sorted(keys)]},
                         "execution": {"id": "${execution.id}", "namespace": self.flow.namespace,
                                       "flowId": self.flow.id}},
            }, "result": f"{n}_kv_response"}},
            {f"{n}_kv_merge": {"call": "kestra_kv_merge", "args": {
                "kv": "${kv}", "values": f"${{{n}_kv_response.body.outputs.values}}",
                "namespace": self.flow.namespace}, "result": "kv"}},
        ]

    def _keyed_by_value(self, node: TaskNode, n: str, core: list[Step]) -> list[Step]:
        """Inside ForEach, Kestra keys a task's outputs by the iteration value (`outputs.t[taskrun.value]`).

        The task's own outputs stay readable flat (the current iteration's), and each iteration's outputs
        are kept under the value's key, so both `outputs.t.x` and `outputs.t[taskrun.value].x` work."""
        out = target("outputs", node.id)
        return [
            {f"{n}_previous": {"call": "kestra_get", "args": {"m": "${outputs}", "k": node.id, "d": {}},
                               "result": f"{n}_prev"}},
            *core,
            {f"{n}_by_value": {"assign": [
                {f"{n}_flat": f"${{{out}}}"},
                {f"{n}_key": f"${{kestra_key({self.taskrun_var}.value)}}"},
                {out: f"${{map.merge({n}_prev, {n}_flat)}}"},
                {f"{out}[{n}_key]": f"${{{n}_flat}}"},
            ]}},
        ]

    # ---- data tasks --------------------------------------------------------------------------
    def timeout(self, node: TaskNode) -> int:
        seconds = duration_seconds(node.model.timeout) if node.model.timeout else None
        if seconds is None:
            return HTTP_TIMEOUT
        if seconds > HTTP_TIMEOUT:
            self.error((*node.path, "timeout"),
                       f"task timeout {node.model.timeout} exceeds the {HTTP_TIMEOUT} s limit of a Workflows call")
            return HTTP_TIMEOUT
        return max(1, int(seconds))

    def task_body(self, node: TaskNode, skip: tuple[str, ...] = (), extra: dict[str, Any] | None = None,
                  type_: str | None = None) -> dict[str, Any]:
        """The `task` map sent to a function: rendered properties as Kestra names them, plus id and type."""
        common = {"retry", "timeout", "disabled", "allowFailure", "allowWarning", "runIf", "logLevel",
                  "logToFile", "workerGroup", "taskCache", "assets", "version", "pluginDefaultsRef",
                  "description", "id", "type"}
        body: dict[str, Any] = {"id": node.id, "type": type_ or node.type}
        for key in node.raw:
            if key in common or key in skip:
                continue
            body[key] = self.value(node, key)
        if extra:
            body.update(extra)
        return body

    def call_function(self, node: TaskNode, function: str, task: dict[str, Any],
                      outputs: Any = None) -> list[Step]:
        """`http.post` to a function with the contract body; its outputs land in `outputs[<id>]`."""
        self.functions.add(function)
        n = self.name(node)
        result = f"{n}_response"
        call = {"call": "http.post", "args": {
            "url": f'${{sys.get_env("KESTRA_GCP_FN_{function.upper()}")}}',
            "auth": {"type": "OIDC"},
            "timeout": self.timeout(node),
            "body": {"task": task, "execution": {
                "id": "${execution.id}", "namespace": self.flow.namespace, "flowId": self.flow.id,
                "taskRunId": self.task_run_id(node), "attempt": f"${{{n}_attempts}}",
            }},
        }, "result": result}
        return [
            {f"{n}_call": call},
            {f"{n}_outputs": {"assign": [{target("outputs", node.id):
                                          outputs if outputs is not None else f"${{{result}.body.outputs}}"}]}},
        ]

    @property
    def taskrun_var(self) -> str:
        """The variable holding the innermost enclosing loop's `taskrun` (`value`, `iteration`)."""
        return self.loop_runs[-1] if self.loop_runs else "taskrun"

    def task_run_id(self, node: TaskNode) -> str:
        """Execution, task and the index of every enclosing loop iteration: one id per task run, the same
        across retries (functions key exactly-once ledgers and job ids on it). `[` cannot occur in a task id."""
        iterations = "".join(f' + "[" + string({index}) + "]"' for index in self.loop_indexes)
        return f'${{execution.id + "-{node.id}"{iterations}}}'

    def parallel(self, branches: list[list[Step]], path: Path, limit: int | None, base: str) -> list[Step]:
        """Branches run in parallel, in chunks of 10 (the Workflows limit per parallel step)."""
        out: list[Step] = []
        for c, start in enumerate(range(0, len(branches), 10)):
            chunk = branches[start : start + 10]
            par: dict[str, Any] = {"shared": list(SHARED), "branches": [
                {f"{base}_branch{start + i + 1}": {"steps": b}} for i, b in enumerate(chunk)]}
            if limit:
                par["concurrency_limit"] = limit
            out.append({f"{base}_parallel{c + 1}" if len(branches) > 10 else f"{base}_parallel":
                        {"parallel": par}})
        return out

    def enter_parallel(self, path: Path) -> None:
        self.parallel_depth += 1
        if self.parallel_depth > 2:
            self.error(path, "parallel nesting deeper than 2 levels (a Cloud Workflows limit)")

    def leave_parallel(self) -> None:
        self.parallel_depth -= 1


def retry_policy(retry: Retry) -> dict[str, Any] | None:
    """A Workflows retry block for a Kestra retry: only transient errors (429, 5xx, connection, timeout)."""
    retries = retry.attempts - 1
    if retries <= 0:
        return None
    if retry.type == "constant":
        initial = duration_seconds(retry.interval) or 1.0
        maximum, multiplier = initial, 1
    elif retry.type == "exponential":
        initial = duration_seconds(retry.interval) or 1.0
        maximum = duration_seconds(retry.maxInterval) or initial
        multiplier = max(1, round(retry.delayFactor or 2))
    else:  # random: Workflows has no jitter; wait the mean of the interval each time
        lo = duration_seconds(retry.minInterval) or 1.0
        hi = duration_seconds(retry.maxInterval) or lo
        initial = maximum = (lo + hi) / 2
        multiplier = 1
    return {"predicate": "${kestra_transient}", "max_retries": retries,
            "backoff": {"initial_delay": max(1, round(initial)), "max_delay": max(1, round(maximum)),
                        "multiplier": multiplier}}
