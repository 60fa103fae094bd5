"""The local Cloud Workflows engine: a faithful interpreter of the Workflows language and its standard
library, plus an Executions API facade.

Public API
----------
`evaluate_expression(text, variables) -> value`
    Evaluate a Workflows expression: `text` is a whole `${...}` string (any other string is returned as the
    literal it is), or any JSON-like value whose strings may be `${...}` expressions. Errors raise
    `WorkflowError`, whose `.value` is the Workflows error map (`tags`, `message`).

`Engine(workflows, env=None, clock=None, on_event=None, project="local-project", location="us-central1")`
    `workflows` maps workflow id -> source text (YAML or JSON). Sources are parsed and checked at
    construction (`DeployError` with `file:line:col: message`). Thread-safe.
    - `engine.run(workflow_id, argument=None, labels=None) -> Execution` runs to completion.
    - `engine.start(workflow_id, argument=None, labels=None) -> str` starts in a thread; returns the
      execution id. `engine.get(id)`, `engine.wait(id, timeout)`, `engine.cancel(id)`, `engine.list(...)`.
    - `on_event(event: dict)` receives `{"type": "step_start"|"step_end", "execution", "workflow", "step"}`
      and `{"type": "log", "execution", "workflow", "severity", "payload", "step"}` records.
    - `sys.get_env` returns `env` plus GOOGLE_CLOUD_PROJECT_ID, GOOGLE_CLOUD_LOCATION,
      GOOGLE_CLOUD_WORKFLOW_ID, GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID, GOOGLE_CLOUD_WORKFLOW_REVISION_ID,
      GOOGLE_CLOUD_PROJECT_NUMBER, GOOGLE_CLOUD_SERVICE_ACCOUNT_NAME for each execution.
    - `clock`: `RealClock()` by default; `VirtualClock()` makes sleeps and retry backoff instant.

`Execution`: `id`, `workflow_id`, `state` ("ACTIVE" | "SUCCEEDED" | "FAILED" | "CANCELLED"), `argument`,
`result` (the returned value), `error` (the raised value, e.g. `{"tags": [...], "message": ...}`),
`start_time`/`end_time` (epoch seconds), `labels`, `to_resource()` (the GCP REST shape).

Executions API: `ExecutionsApi(engine).serve(port)` (kestra_gcp.engine.api) serves the REST subset of
workflowexecutions v1 on 127.0.0.1 (create, get, list with `filter=state="X" [OR state="Y"]`, cancel);
`serve_grpc(api, port)` (kestra_gcp.engine.api_grpc) serves the same over plaintext gRPC, which is what the
official `google-cloud-workflows` ExecutionsClient speaks (its executions_v1 ships gRPC transports only):
`ExecutionsClient(transport=ExecutionsGrpcTransport(channel=grpc.insecure_channel("127.0.0.1:P")))`.

Errors: `DeployError` (bad source, argument over 32 KB) at construction/start; `KeyError` for an unknown
workflow or execution id; failures inside a workflow end the execution (state FAILED, `error` set).

Connectors: `googleapis.workflowexecutions.v1.projects.locations.workflows.executions.run` runs another
workflow of the engine and returns its result; when the child fails it raises
`{"tags": ["OperationError"], "message": ..., "operation": <child execution resource>}` whose
`operation.error.payload` is the child's error as a JSON string. `.executions.create` starts one and returns
its resource. More connectors: `kestra_gcp.engine.connectors.register(name)`.
"""

from __future__ import annotations

from typing import Any

from kestra_gcp.engine import connectors_workflowexecutions  # noqa: F401  (registers the connectors)
from kestra_gcp.engine.clock import Clock, RealClock, VirtualClock
from kestra_gcp.engine.engine import Engine, Execution
from kestra_gcp.engine.errors import DeployError, WorkflowError
from kestra_gcp.engine.expr import compile_value
from kestra_gcp.engine.runtime import Runtime
from kestra_gcp.engine.scope import Scope


def evaluate_expression(text: Any, variables: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Any:
    """Evaluate a `${...}` expression (or a value containing some) against `variables`."""
    fn = compile_value(text, "<expression>")
    scope = Scope(Runtime(env=env))
    if variables:
        scope.vars.update(variables)
    return fn(scope)


__all__ = [
    "Clock",
    "DeployError",
    "Engine",
    "Execution",
    "RealClock",
    "VirtualClock",
    "WorkflowError",
    "evaluate_expression",
]
