"""The engine: holds deployed workflows, runs executions (synchronously or in threads), keeps their records.

One `ExecutionRuntime` per execution carries the program, the environment and the limits; subworkflow calls
open a fresh frame (no access to the caller's variables)."""

from __future__ import annotations

import itertools
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kestra_gcp.engine.clock import Clock, RealClock
from kestra_gcp.engine.errors import DeployError, WorkflowError, error, type_error
from kestra_gcp.engine.loader import Program, Subworkflow, load_program
from kestra_gcp.engine.runtime import LOCAL_TOKEN, MAX_DEPTH, Cancelled, Runtime
from kestra_gcp.engine.scope import Scope
from kestra_gcp.engine.stdlib.timelib import format_seconds
from kestra_gcp.engine.steps import BREAK, CONTINUE, Ret, release, set_var
from kestra_gcp.engine.values import to_json

MAX_ARGUMENT = 32 * 1024
STATES = ("ACTIVE", "SUCCEEDED", "FAILED", "CANCELLED")


@dataclass
class Execution:
    id: str
    workflow_id: str
    argument: Any
    labels: dict[str, str]
    start_time: float
    state: str = "ACTIVE"
    result: Any = None
    error: Any = None
    error_context: str = ""
    end_time: float | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    runtime: Any = field(default=None, repr=False)
    project: str = "local-project"
    location: str = "us-central1"

    @property
    def name(self) -> str:
        return f"projects/{self.project}/locations/{self.location}/workflows/{self.workflow_id}/executions/{self.id}"

    def to_resource(self) -> dict[str, Any]:
        """The execution as the Workflow Executions REST API shows it."""
        res: dict[str, Any] = {
            "name": self.name,
            "startTime": format_seconds(self.start_time),
            "state": self.state,
            "argument": to_json(self.argument) if self.argument is not None else "null",
            "workflowRevisionId": "000001-local",
            "callLogLevel": "CALL_LOG_LEVEL_UNSPECIFIED",
            "labels": dict(self.labels),
        }
        if self.end_time is not None:
            res["endTime"] = format_seconds(self.end_time)
            res["duration"] = f"{max(0.0, self.end_time - self.start_time):.6f}s"
        if self.state == "SUCCEEDED":
            res["result"] = to_json(self.result)
        if self.state in ("FAILED", "CANCELLED") and self.error is not None:
            res["error"] = {"payload": _safe_json(self.error), "context": self.error_context}
        return res


def _safe_json(v: Any) -> str:
    try:
        return to_json(v)
    except WorkflowError:
        return to_json(str(v))


class ExecutionRuntime(Runtime):
    def __init__(self, engine: Engine, program: Program, execution: Execution, env: dict[str, str]) -> None:
        super().__init__(env=env, clock=engine.clock, on_event=None, http_token=engine.http_token)
        self.engine = engine
        self.program = program
        self.execution = execution
        if engine.on_event is not None:
            listener = engine.on_event
            base = {"execution": execution.id, "workflow": execution.workflow_id}

            def forward(event: dict[str, Any]) -> None:
                listener({**base, **event})

            self.on_event = forward

    def call_subworkflow(self, scope: Scope, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        sub = self.program.workflows.get(name)
        if sub is None:
            raise error("KeyError", f"unknown function or subworkflow: {name}")
        depth = scope.depth + 1
        if depth > MAX_DEPTH:
            raise error("RecursionError", f"maximum call stack depth of {MAX_DEPTH} exceeded calling {name}")
        frame = Scope(self)
        frame.depth = depth
        bind(sub, frame, args, kwargs)
        try:
            return run_frame(sub, frame)
        finally:
            release(frame)


def bind(sub: Subworkflow, frame: Scope, args: list[Any], kwargs: dict[str, Any]) -> None:
    if len(args) > len(sub.params):
        raise type_error(f"{sub.name} takes {len(sub.params)} argument(s), got {len(args)}")
    names = {p.name for p in sub.params}
    for k in kwargs:
        if k not in names:
            raise type_error(f"{sub.name}: unexpected argument '{k}'")
    for i, p in enumerate(sub.params):
        if i < len(args):
            value = args[i]
        elif p.name in kwargs:
            value = kwargs[p.name]
        elif p.has_default:
            value = p.default
        else:
            raise type_error(f"{sub.name}: missing argument '{p.name}'")
        set_var(frame, p.name, value)


def run_frame(sub: Subworkflow, frame: Scope) -> Any:
    sig = sub.body.run(frame)
    if isinstance(sig, Ret):
        return sig.value
    if sig is BREAK or sig is CONTINUE or isinstance(sig, str):
        raise error("SystemError", f"next: {sig} has no target in {sub.name}")
    return None


class Engine:
    """Deployed workflows and their executions. Thread-safe."""

    def __init__(
        self,
        workflows: dict[str, str],
        env: dict[str, str] | None = None,
        clock: Clock | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        project: str = "local-project",
        location: str = "us-central1",
        http_token: str = LOCAL_TOKEN,
        filenames: dict[str, str] | None = None,
    ) -> None:
        self.env = dict(env or {})
        self.clock: Clock = clock or RealClock()
        self.on_event = on_event
        self.project = project
        self.location = location
        self.http_token = http_token
        self.programs: dict[str, Program] = {}
        for wid, source in workflows.items():
            self.programs[wid] = load_program(source, (filenames or {}).get(wid, f"{wid}.yaml"))
        self._lock = threading.Lock()
        self._executions: dict[str, Execution] = {}
        self._counter = itertools.count(1)

    # ------------------------------------------------------------ public API

    def run(self, workflow_id: str, argument: Any = None, labels: dict[str, str] | None = None) -> Execution:
        """Run an execution to completion in the calling thread."""
        ex = self._create(workflow_id, argument, labels)
        self._execute(ex)
        return ex

    def start(self, workflow_id: str, argument: Any = None, labels: dict[str, str] | None = None) -> str:
        """Start an execution in a background thread; returns its id."""
        ex = self._create(workflow_id, argument, labels)
        threading.Thread(target=self._execute, args=(ex,), name=f"wf-{ex.id[:8]}", daemon=True).start()
        return ex.id

    def get(self, execution_id: str) -> Execution:
        with self._lock:
            ex = self._executions.get(execution_id)
        if ex is None:
            raise KeyError(execution_id)
        return ex

    def wait(self, execution_id: str, timeout: float | None = None) -> Execution:
        ex = self.get(execution_id)
        ex.done.wait(timeout)
        return ex

    def cancel(self, execution_id: str) -> Execution:
        ex = self.get(execution_id)
        if ex.state == "ACTIVE" and ex.runtime is not None:
            ex.runtime.cancel_event.set()
        return ex

    def list(self, workflow_id: str | None = None, state: str | None = None) -> list[Execution]:
        with self._lock:
            items = list(self._executions.values())
        return [
            e
            for e in items
            if (workflow_id is None or e.workflow_id == workflow_id) and (state is None or e.state == state)
        ]

    # ------------------------------------------------------------ internals

    def _create(self, workflow_id: str, argument: Any, labels: dict[str, str] | None) -> Execution:
        if workflow_id not in self.programs:
            raise KeyError(workflow_id)
        size = len(to_json(argument).encode("utf-8")) if argument is not None else 0
        if size > MAX_ARGUMENT:
            raise DeployError(f"execution argument is {size} bytes; the limit is {MAX_ARGUMENT // 1024} KB")
        ex = Execution(
            id=str(uuid.uuid4()),
            workflow_id=workflow_id,
            argument=argument,
            labels=dict(labels or {}),
            start_time=self.clock.now(),
            project=self.project,
            location=self.location,
        )
        program = self.programs[workflow_id]
        env = {
            **self.env,
            "GOOGLE_CLOUD_PROJECT_ID": self.project,
            "GOOGLE_CLOUD_PROJECT_NUMBER": "000000000000",
            "GOOGLE_CLOUD_LOCATION": self.location,
            "GOOGLE_CLOUD_WORKFLOW_ID": workflow_id,
            "GOOGLE_CLOUD_WORKFLOW_REVISION_ID": "000001-local",
            "GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID": ex.id,
            "GOOGLE_CLOUD_SERVICE_ACCOUNT_NAME": f"workflows@{self.project}.iam.gserviceaccount.com",
        }
        ex.runtime = ExecutionRuntime(self, program, ex, env)
        with self._lock:
            self._executions[ex.id] = ex
        return ex

    def _execute(self, ex: Execution) -> None:
        rt: ExecutionRuntime = ex.runtime
        main = rt.program.workflows["main"]
        rt.emit({"type": "execution_start"})
        try:
            frame = Scope(rt)
            if main.params:
                set_var(frame, main.params[0].name, ex.argument)
            result = run_frame(main, frame)
            to_json(result)  # bytes or NaN cannot be returned
            ex.result = result
            ex.state = "SUCCEEDED"
        except WorkflowError as exc:
            ex.error = exc.value
            ex.error_context = f"{exc.where}: in step '{exc.step}'" if exc.step else ""
            ex.state = "FAILED"
        except Cancelled:
            ex.error = {"message": "execution cancelled", "tags": ["CancelledError"]}
            ex.state = "CANCELLED"
        except RecursionError:
            ex.error = {"message": "maximum recursion depth exceeded", "tags": ["RecursionError"]}
            ex.state = "FAILED"
        except Exception as exc:  # an engine bug must still end the execution
            ex.error = {"message": f"internal error: {type(exc).__name__}: {exc}", "tags": ["SystemError"]}
            ex.error_context = traceback.format_exc(limit=5)
            ex.state = "FAILED"
        finally:
            ex.end_time = max(self.clock.now(), ex.start_time)
            rt.emit({"type": "execution_end", "state": ex.state})
            ex.done.set()
