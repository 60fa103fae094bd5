"""`googleapis.workflowexecutions.v1.projects.locations.workflows.executions.run` and `.create`, executed
in-process against the other workflows the engine knows."""

from __future__ import annotations

from typing import Any

from kestra_gcp.engine.connectors import register
from kestra_gcp.engine.errors import DeployError, error, type_error, value_error
from kestra_gcp.engine.values import from_json

_BASE = "googleapis.workflowexecutions.v1.projects.locations.workflows.executions"


def _engine(rt: Any) -> Any:
    engine = getattr(rt, "engine", None)
    if engine is None:
        raise error("SystemError", "workflow executions connector needs an engine")
    return engine


def _start(engine: Any, wid: str, argument: Any, labels: Any) -> str:
    try:
        return str(engine.start(wid, argument, labels))
    except DeployError as exc:  # e.g. the argument exceeds 32 KB
        raise error("HttpError", str(exc), code=400, body=None, headers={}) from None


@register(f"{_BASE}.run")
def run(rt: Any, args: dict[str, Any]) -> Any:
    """Run a workflow and wait: returns its result; raises OperationError when it fails."""
    engine = _engine(rt)
    wid = args.get("workflow_id")
    if not isinstance(wid, str):
        raise type_error("executions.run: workflow_id must be a string")
    if wid not in engine.programs:
        raise error("HttpError", f"workflow {wid} not found", code=404, body=None, headers={})
    argument = args.get("argument")
    labels = args.get("labels") or {}
    child_id = _start(engine, wid, argument, labels)
    child = engine.get(child_id)
    while not child.done.wait(0.05):
        if rt.cancel_event.is_set():
            engine.cancel(child_id)
            rt.check_cancelled()
    if child.state == "SUCCEEDED":
        return child.result
    raise error(
        "OperationError",
        f"execution {child.id} of workflow {wid} ended with state {child.state}",
        operation=child.to_resource(),
    )


@register(f"{_BASE}.create")
def create(rt: Any, args: dict[str, Any]) -> Any:
    """Start a workflow execution; returns its resource at once."""
    engine = _engine(rt)
    parent = args.get("parent")
    if not isinstance(parent, str) or "/workflows/" not in parent:
        raise value_error("executions.create: parent must be projects/P/locations/L/workflows/W")
    wid = parent.rsplit("/workflows/", 1)[1].strip("/")
    if wid not in engine.programs:
        raise error("HttpError", f"workflow {wid} not found", code=404, body=None, headers={})
    body = args.get("body") or {}
    argument = body.get("argument")
    if isinstance(argument, str):
        argument = from_json(argument)
    child_id = _start(engine, wid, argument, body.get("labels") or {})
    return engine.get(child_id).to_resource()
