"""Front end: one flow file -> a checked `FlowIR` (or diagnostics): structure, types, defaults, task models."""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ValidationError

from compiler.diagnostics import Diagnostic, Severity, did_you_mean
from compiler.ir import FlowIR, TaskNode, TriggerIR, workflow_id
from compiler.model.common import ID_RE, NAMESPACE_RE, Strict, validation_diagnostics
from compiler.model.inputs import Input, check_input, check_value
from compiler.model.retry import Retry
from compiler.model.triggers import (
    FLOW,
    SCHEDULE,
    TRIGGER_ALIASES,
    TRIGGER_MODELS,
    WEBHOOK,
    FlowTrigger,
    Schedule,
    Webhook,
    normalise_cron,
)
from compiler.plugin_defaults import PluginDefault, apply_defaults
from compiler.tasks import registry, resolve, supported_types
from compiler.yamlsource import Path, SourceMap, load_yaml

FLOW_KEYS = (
    "id", "namespace", "description", "revision", "inputs", "outputs", "labels", "variables", "tasks", "errors",
    "finally", "afterExecution", "listeners", "triggers", "pluginDefaults", "taskDefaults", "concurrency",
    "retry", "sla", "checks", "disabled", "deleted", "workerGroup",
)
BLOCKS = ("tasks", "errors", "finally", "afterExecution")


class Concurrency(Strict):
    limit: int
    behavior: str = "QUEUE"

    def model_post_init(self, _: Any) -> None:
        if self.limit < 1:
            raise ValueError("concurrency limit must be >= 1")
        if self.behavior not in ("QUEUE", "CANCEL", "FAIL"):
            raise ValueError(f"concurrency behavior '{self.behavior}' is not one of QUEUE, CANCEL, FAIL")


class PluginDefaultModel(Strict):
    type: str
    values: dict[str, Any]
    forced: bool = False
    ref: str | None = None


class _Front:
    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.diags: list[Diagnostic] = []
        self.task_ids: dict[str, Path] = {}
        self.filled: dict[Path, set[str]] = {}

    def err(self, path: Path, message: str, *, at_key: bool = False) -> None:
        self.diags.append(self.source.diag(path, message, at_key=at_key))

    def warn(self, path: Path, message: str) -> None:
        pos = self.source.value(path)
        self.diags.append(Diagnostic(self.source.path, pos.line, pos.col, message, Severity.WARNING))

    def model(self, model: type[BaseModel], data: Any, path: Path, what: str) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            self.diags.extend(validation_diagnostics(exc, self.source, path, model, what))
            return None

    # ---- tasks -------------------------------------------------------------------------------
    def tasks(self, items: Any, path: Path, parent: TaskNode | None) -> list[TaskNode]:
        if items is None:
            return []
        if not isinstance(items, list):
            self.err(path, "expected a list of tasks")
            return []
        out: list[TaskNode] = []
        for i, item in enumerate(items):
            node = self.task(item, (*path, i), parent)
            if node is not None:
                out.append(node)
        return out

    def task(self, raw: Any, path: Path, parent: TaskNode | None) -> TaskNode | None:
        if not isinstance(raw, dict):
            self.err(path, "expected a task (a map with id and type)")
            return None
        tid, ttype = raw.get("id"), raw.get("type")
        if tid is None:
            self.err(path, "task without 'id'")
        elif not isinstance(tid, str) or not ID_RE.match(tid):
            self.err((*path, "id"), f"invalid task id '{tid}': use letters, digits, '_' and '-'")
        elif tid in self.task_ids:
            first = self.source.value(self.task_ids[tid])
            self.err((*path, "id"), f"duplicate task id '{tid}' (first used at line {first.line})")
        else:
            self.task_ids[tid] = (*path, "id")
        if ttype is None:
            self.err(path, f"task '{tid}' has no 'type'")
            return None
        spec, reason = resolve(raw)
        if spec is None:
            self.err((*path, "type"), unsupported_message(str(ttype), reason))
            return None
        if not isinstance(tid, str):
            return None
        known = {n for n, fi in spec.model.model_fields.items()} | {
            fi.alias for fi in spec.model.model_fields.values() if fi.alias} | set(spec.children)
        for key in self.filled.get(path, set()) - known:
            del raw[key]  # a default for a whole plugin family that this task type does not have
        model = self.model(spec.model, {k: v for k, v in raw.items() if k not in spec.children},
                           path, spec.type)
        node = TaskNode(tid, spec.type, spec, model, raw, path, parent=parent) if model is not None else None
        for child in spec.children:
            value = raw.get(child)
            if child == "cases":
                if value is None:
                    continue
                if not isinstance(value, dict):
                    self.err((*path, child), "'cases' must map each value to a list of tasks")
                    continue
                for case, tasks in value.items():
                    kids = self.tasks(tasks, (*path, child, case), node)
                    if node is not None:
                        node.children[f"cases.{case}"] = kids
            else:
                kids = self.tasks(value, (*path, child), node)
                if node is not None and value is not None:
                    node.children[child] = kids
        return node

    # ---- triggers ----------------------------------------------------------------------------
    def trigger(self, raw: Any, path: Path) -> TriggerIR | None:
        if not isinstance(raw, dict):
            self.err(path, "expected a trigger (a map with id and type)")
            return None
        ttype = TRIGGER_ALIASES.get(str(raw.get("type")), str(raw.get("type")))
        model_cls = TRIGGER_MODELS.get(ttype)
        if model_cls is None:
            near = difflib.get_close_matches(ttype, list(TRIGGER_MODELS), n=3, cutoff=0.3)
            self.err((*path, "type") if "type" in raw else path,
                     f"unsupported trigger type '{raw.get('type')}'"
                     + (f" (supported: {', '.join(near or list(TRIGGER_MODELS))})"))
            return None
        model = self.model(model_cls, raw, path, ttype)
        if model is None:
            return None
        if isinstance(model, Schedule):
            cron, why = normalise_cron(model.cron, model.withSeconds)
            if why:
                self.err((*path, "cron"), why)
            if model.conditions:
                self.err((*path, "conditions"), "Schedule conditions are not compiled (Cloud Scheduler fires on "
                                                "every cron tick); express them with runIf or If in the flow")
            for prop in ("lateMaximumDelay", "stopAfter", "backfill"):
                if getattr(model, prop) is not None:
                    self.warn((*path, prop), f"'{prop}' is ignored: Cloud Scheduler has no equivalent")
            if model.allowConcurrent:
                self.warn((*path, "allowConcurrent"), "'allowConcurrent' is ignored: use the flow's concurrency")
            return TriggerIR(model.id, "schedule", model, path, cron)
        if isinstance(model, FlowTrigger):
            self.flow_conditions(model, path)
            for key, value in model.inputs.items():
                if isinstance(value, str) and ("{{" in value or "{%" in value):
                    self.err((*path, "inputs", key), "Flow trigger inputs with expressions are not compiled "
                                                    "(give constants; read upstream data in the flow instead)")
            return TriggerIR(model.id, "flow", model, path)
        assert isinstance(model, Webhook)
        if not model.key:
            self.err(path, f"webhook trigger '{model.id}' needs a 'key'")
        return TriggerIR(model.id, "webhook", model, path)

    def flow_conditions(self, model: FlowTrigger, path: Path) -> None:
        known = {
            "io.kestra.plugin.core.condition.ExecutionFlowCondition",
            "io.kestra.plugin.core.condition.ExecutionStatusCondition",
            "io.kestra.plugin.core.condition.ExecutionNamespaceCondition",
            "io.kestra.plugin.core.condition.ExecutionFlow",
            "io.kestra.plugin.core.condition.ExecutionStatus",
            "io.kestra.plugin.core.condition.ExecutionNamespace",
        }
        for i, cond in enumerate(model.conditions):
            t = str(cond.get("type"))
            if t not in known:
                self.err((*path, "conditions", i, "type"),
                         f"unsupported flow trigger condition '{t}'{did_you_mean(t, known)}")
        if not model.conditions and not model.preconditions:
            self.err(path, f"flow trigger '{model.id}' needs conditions or preconditions naming upstream flows")


@lru_cache(maxsize=1024)
def unsupported_message(ttype: str, reason: str | None) -> str:
    if reason:
        return f"unsupported task type '{ttype}': {reason}"
    known = supported_types()
    family = ".".join(ttype.split(".")[:4])
    name = ttype.rsplit(".", 1)[-1]

    def score(t: str) -> float:  # same plugin family first, then the closest class name
        return (t.startswith(family + ".") + difflib.SequenceMatcher(None, name, t.rsplit(".", 1)[-1]).ratio()
                + difflib.SequenceMatcher(None, ttype, t).ratio() / 10)

    ranked = sorted(known, key=lambda t: (-score(t), t))
    near = [t for t in ranked if difflib.SequenceMatcher(None, name, t.rsplit(".", 1)[-1]).ratio() >= 0.6][:3]
    if near:
        hint = f" (nearest supported: {', '.join(near)})"
    elif any(t.startswith(family + ".") for t in known):
        hint = f" (no similar task is supported in {family})"
    else:
        hint = f" (no {family} task is supported)"
    return f"unsupported task type '{ttype}'{hint}"


def parse_flow(text: str, file: str) -> tuple[FlowIR | None, list[Diagnostic]]:
    """Load and check one flow; returns the IR when the file has no errors (diagnostics may hold warnings)."""
    loaded = load_yaml(text, file)
    if loaded.data is None:
        return None, loaded.diagnostics
    f = _Front(loaded.source)
    f.diags.extend(loaded.diagnostics)
    data = loaded.data
    if not isinstance(data, dict):
        f.err((), "a flow must be a YAML map with id, namespace and tasks")
        return None, f.diags
    for key in data:
        if key not in FLOW_KEYS:
            f.err((key,), f"unknown flow property '{key}'{did_you_mean(str(key), list(FLOW_KEYS))}", at_key=True)
    for key in ("id", "namespace", "tasks"):
        if key not in data:
            f.err((), f"flow is missing required property '{key}'")
    fid, ns = data.get("id"), data.get("namespace")
    if "id" in data and (not isinstance(fid, str) or not ID_RE.match(fid)):
        f.err(("id",), f"invalid flow id '{fid}': use letters, digits, '_' and '-'")
    if "namespace" in data and (not isinstance(ns, str) or not NAMESPACE_RE.match(ns)):
        f.err(("namespace",), f"invalid namespace '{ns}': use lower-case letters, digits, '.', '_' and '-'")
    if isinstance(fid, str) and isinstance(ns, str):
        wid = workflow_id(ns, fid)
        if len(wid) > 64:
            f.err(("id",), f"workflow id '{wid}' is longer than 64 characters")
        elif not wid[0].isalpha():
            f.err(("namespace",), f"workflow id '{wid}' must start with a letter")
    if "tasks" in data and (not isinstance(data["tasks"], list) or not data["tasks"]):
        f.err(("tasks",), "'tasks' must be a non-empty list of tasks")

    # pluginDefaults first: they may fill any property of any task or trigger
    defaults: list[PluginDefault] = []
    for key in ("pluginDefaults", "taskDefaults"):
        items = data.get(key) or []
        if not isinstance(items, list):
            f.err((key,), f"'{key}' must be a list")
            continue
        for i, item in enumerate(items):
            pd = f.model(PluginDefaultModel, item, (key, i), "a plugin default")
            if pd is not None:
                defaults.append(PluginDefault(pd.type, pd.values, pd.forced, (key, i, "values")))
    for block in (*BLOCKS, "triggers"):
        if defaults and block in data:
            apply_defaults(data[block], (block,), defaults, f.source, f.filled)
    for block in BLOCKS:
        if isinstance(data.get(block), list):
            data[block] = _remove_disabled(data[block], (block,), f.source)

    flow = FlowIR(
        id=fid if isinstance(fid, str) else "", namespace=ns if isinstance(ns, str) else "",
        file=file, source=f.source, raw=data,
        description=data.get("description") if isinstance(data.get("description"), str) else None,
        disabled=bool(data.get("disabled", False)),
    )
    # inputs
    inputs = data.get("inputs") or []
    if not isinstance(inputs, list):
        f.err(("inputs",), "'inputs' must be a list")
        inputs = []
    for i, raw in enumerate(inputs):
        path: Path = ("inputs", i)
        if isinstance(raw, dict) and "name" in raw and "id" not in raw:
            raw = {("id" if k == "name" else k): v for k, v in raw.items()}
        inp = f.model(Input, raw, path, f"input '{raw.get('id') if isinstance(raw, dict) else i}'")
        if inp is None:
            continue
        if inp.id in flow.input_paths:
            f.err((*path, "id"), f"duplicate input id '{inp.id}'")
            continue
        for prop, message in check_input(inp):
            f.err((*path, prop), message)
        flow.inputs.append(inp)
        flow.input_paths[inp.id] = path
    # variables and labels
    variables = data.get("variables") or {}
    if not isinstance(variables, dict):
        f.err(("variables",), "'variables' must be a map")
    else:
        flow.variables = variables
    labels = data.get("labels") or {}
    if isinstance(labels, list):
        flat: dict[str, Any] = {}
        for i, item in enumerate(labels):
            if isinstance(item, dict) and set(item) == {"key", "value"}:
                flat[str(item["key"])] = item["value"]
            else:
                f.err(("labels", i), "a label must be {key: ..., value: ...}")
        labels = flat
    if not isinstance(labels, dict):
        f.err(("labels",), "'labels' must be a map or a list of {key, value}")
    else:
        flow.labels = {str(k): v for k, v in labels.items()}
    # tasks
    flow.tasks = f.tasks(data.get("tasks"), ("tasks",), None) if isinstance(data.get("tasks"), list) else []
    flow.errors = f.tasks(data.get("errors"), ("errors",), None)
    flow.finally_ = f.tasks(data.get("finally"), ("finally",), None)
    flow.after_execution = f.tasks(data.get("afterExecution"), ("afterExecution",), None)
    if data.get("retry") is not None:
        flow.retry = f.model(Retry, data["retry"], ("retry",), "flow retry")
    if data.get("concurrency") is not None:
        try:
            conc = Concurrency.model_validate(data["concurrency"])
            flow.concurrency = {"limit": conc.limit, "behavior": conc.behavior}
        except ValidationError as exc:
            f.diags.extend(validation_diagnostics(exc, f.source, ("concurrency",), Concurrency, "concurrency"))
    outputs = data.get("outputs") or []
    if isinstance(outputs, list):
        flow.outputs = [o for o in outputs if isinstance(o, dict)]
    if flow.outputs:
        f.warn(("outputs",), "flow 'outputs' are not returned by the compiled workflow (its result carries the "
                             "task outputs); a Subflow caller reads the child's task outputs")
    for key in ("sla", "checks", "listeners"):
        if data.get(key):
            f.warn((key,), f"'{key}' is ignored by the compiled workflow")
    # triggers
    triggers = data.get("triggers") or []
    if not isinstance(triggers, list):
        f.err(("triggers",), "'triggers' must be a list")
        triggers = []
    seen: dict[str, Path] = {}
    for i, raw in enumerate(triggers):
        trig = f.trigger(raw, ("triggers", i))
        if trig is None:
            continue
        if trig.id in seen:
            f.err(("triggers", i, "id"), f"duplicate trigger id '{trig.id}'")
        seen[trig.id] = ("triggers", i)
        flow.triggers.append(trig)
        _check_trigger_inputs(f, flow, trig)
    return flow, f.diags


def _check_trigger_inputs(f: _Front, flow: FlowIR, trig: TriggerIR) -> None:
    """A trigger's `inputs` must name the flow's inputs with acceptable values."""
    by_id = {i.id: i for i in flow.inputs}
    for key, value in (getattr(trig.model, "inputs", None) or {}).items():
        path = (*trig.path, "inputs", key)
        inp = by_id.get(str(key))
        if inp is None:
            f.err(path, f"trigger '{trig.id}' sets unknown input '{key}'"
                        f"{did_you_mean(str(key), list(by_id))}", at_key=True)
            continue
        why = check_value(inp, value)
        if why:
            f.err(path, f"trigger '{trig.id}': input '{key}': {why.replace('default ', '', 1)}")


def _remove_disabled(items: list[Any], path: Path, source: SourceMap) -> list[Any]:
    """Drop `disabled: true` tasks at any depth (Kestra removes them before anything else)."""
    out: list[Any] = []
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("disabled") is True:
            continue
        new_index = len(out)
        if new_index != i:
            source.move_subtree((*path, i), (*path, new_index))
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, list) and value and isinstance(value[0], dict) and "type" in value[0]:
                    item[key] = _remove_disabled(value, (*path, new_index, key), source)
                elif key == "cases" and isinstance(value, dict):
                    for case, tasks in value.items():
                        if isinstance(tasks, list):
                            value[case] = _remove_disabled(tasks, (*path, new_index, key, case), source)
        out.append(item)
    return out


__all__ = ["FLOW", "SCHEDULE", "WEBHOOK", "parse_flow", "registry"]
