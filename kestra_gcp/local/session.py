"""One local session: a compiled flow, its services, the hosted functions and the engine, ready to execute.

`LocalSession(flow_path, state, ...)` compiles the flow (diagnostics -> `CompileFailed` before anything
starts), then `open()` starts or reuses the services the manifest needs, creates the databases and roles of
the flow's JDBC URLs on the embedded PostgreSQL, starts the function host and builds the engine. `run()`
and `start()`/`wait()` execute the workflow with the contract's argument and return `Outcome`s in Kestra's
terms (SUCCESS / WARNING / FAILED / CANCELLED).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from kestra_gcp.errors import UserError
from kestra_gcp.local import pgendpoints, stack
from kestra_gcp.local.functionhost import FunctionHostProcess
from kestra_gcp.local.state import StateDir

EventSink = Callable[[dict[str, Any]], None]


class CompileFailed(UserError):
    """The flow does not compile; `diagnostics` are the formatted `file:line:col: message` lines."""

    def __init__(self, diagnostics: list[str]) -> None:
        self.diagnostics = diagnostics
        count = len(diagnostics)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} found; nothing was run")


@dataclass
class Outcome:
    """A finished execution in Kestra's terms."""

    execution_id: str
    state: str
    outputs: dict[str, Any]
    labels: dict[str, Any]
    task_runs: list[dict[str, Any]]
    message: str = ""
    task_id: str = ""
    started: float = 0.0
    ended: float = 0.0

    @property
    def ok(self) -> bool:
        return self.state in {"SUCCESS", "WARNING"}

    @property
    def duration(self) -> float:
        return max(0.0, self.ended - self.started)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.execution_id, "state": self.state, "outputs": self.outputs,
                                "labels": self.labels, "taskRuns": self.task_runs}
        if not self.ok:
            data["error"] = {"message": self.message, "taskId": self.task_id or None}
        return data


def outcome_of(execution: Any) -> Outcome:
    """Translate an engine `Execution` (SUCCEEDED result / FAILED raised map) into an Outcome."""
    common = {"execution_id": execution.id, "started": float(execution.start_time or 0.0),
              "ended": float(execution.end_time or time.time())}
    if execution.state == "SUCCEEDED":
        result = execution.result if isinstance(execution.result, dict) else {}
        return Outcome(state=str(result.get("state", "SUCCESS")), outputs=dict(result.get("outputs") or {}),
                       labels=dict(result.get("labels") or {}), task_runs=list(result.get("taskRuns") or []),
                       **common)
    error: dict[str, Any] = (execution.error if isinstance(execution.error, dict)
                             else {"message": str(execution.error)})
    state = "CANCELLED" if execution.state == "CANCELLED" else str(error.get("state") or "FAILED")
    if state in {"SUCCESS", "WARNING"}:  # a raise must never read as success
        state = "FAILED"
    message = str(error.get("message") or error.get("tags") or "execution failed")
    return Outcome(state=state, outputs=dict(error.get("outputs") or {}), labels=dict(error.get("labels") or {}),
                   task_runs=list(error.get("taskRuns") or []), message=message,
                   task_id=str(error.get("taskId") or ""), **common)


def task_ids(flow_path: Path) -> list[str]:
    """Ids of every task of the flow (tasks, errors, finally, nested), in source order."""
    try:
        doc = YAML(typ="safe").load(flow_path.read_text())
    except Exception:
        return []
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("id"), str) and isinstance(node.get("type"), str) and node is not doc:
                found.append(node["id"])
            for key, value in node.items():
                if key not in {"triggers", "pluginDefaults", "inputs"}:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    return [t for t in found if not t.startswith("__")]


@dataclass
class LocalSession:
    """Compile once, open once, execute many times (backfill), close."""

    flow_path: Path
    state: StateDir
    connections: dict[str, str] = field(default_factory=dict)
    on_event: EventSink | None = None
    on_function_log: EventSink | None = None
    workflows: dict[str, str] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    workflow_id: str = ""
    engine: Any = None
    host: FunctionHostProcess | None = None
    stack: stack.LocalStack | None = None

    # ------------------------------------------------------------------ compile

    def compile(self) -> LocalSession:
        if not self.flow_path.is_file():
            raise UserError(f"{self.flow_path}: no such file")
        from compiler.api import compile_paths

        result = compile_paths([self.flow_path])
        errors = [d for d in result.diagnostics if getattr(d, "severity", "error") == "error"]
        if errors or not result.ok:
            raise CompileFailed([d.format() for d in (errors or result.diagnostics)])
        flows = result.manifest.get("flows", {})
        if len(flows) != 1:
            raise UserError(f"{self.flow_path}: expected one flow, found {len(flows)}")
        self.workflow_id = next(iter(flows))
        self.workflows = dict(result.workflows)
        self.schedules = list(result.schedules)
        self.manifest = result.manifest
        self._add_related_flows()
        return self

    def _add_related_flows(self) -> None:
        """Subflows and downstream flows live beside the flow: compile its directory for them."""
        entry = self.flow
        wanted = set(entry.get("subflows", [])) | set(entry.get("downstream", []))
        if not wanted - set(self.workflows):
            return
        from compiler.api import compile_paths

        result = compile_paths([self.flow_path.parent])
        for wid in wanted - set(self.workflows):
            if wid not in result.workflows:
                raise UserError(f"{self.flow_path}: flow {wid} (subflow or downstream) not found beside it")
            self.workflows[wid] = result.workflows[wid]
            self.manifest["flows"][wid] = result.manifest["flows"][wid]

    def declared_inputs(self) -> list[dict[str, Any]]:
        """The manifest's inputs, with `values`/`allowCustomValue` of SELECTs read from the flow source."""
        try:
            doc = YAML(typ="safe").load(self.flow_path.read_text())
            source = {str(i.get("id")): i for i in (doc.get("inputs") or []) if isinstance(i, dict)}
        except Exception:
            source = {}
        merged = []
        for spec in self.flow.get("inputs", []):
            extra = source.get(str(spec.get("id")), {})
            merged.append({**{k: extra[k] for k in ("values", "allowCustomValue") if k in extra}, **spec})
        return merged

    @property
    def flow(self) -> dict[str, Any]:
        return dict(self.manifest["flows"][self.workflow_id])

    def job_env(self) -> dict[str, str]:
        """`KESTRA_GCP_JOB_<KEY>` for every script image (docs/contracts.md); run locally by `local.scripts`."""
        from compiler.tasks.scripts import job_env_var

        keys = {img["key"] for entry in self.manifest.get("flows", {}).values() for img in entry.get("images", [])}
        cfg = self.stack.config if self.stack is not None else None
        project, region = (cfg.project, cfg.region) if cfg is not None else ("local", "local")
        return {job_env_var(k): f"projects/{project}/locations/{region}/jobs/{k}" for k in sorted(keys)}

    def needs(self) -> set[str]:
        used: set[str] = set()
        for entry in self.manifest.get("flows", {}).values():
            used.update(entry.get("functions", []))
        return {name for name in ("postgres", "bigquery") if name in used} | {"gcs"}

    # ------------------------------------------------------------------ open / close

    def open(self) -> LocalSession:
        from kestra_gcp.engine import DeployError, Engine

        secrets = self.state.secrets()
        eps = pgendpoints.endpoints(self.workflows, secrets) if "postgres" in self.needs() else []
        self.stack = stack.ensure(self.state, self.needs(), self.connections, eps)
        logs_dir = self.state.root / "logs"
        logs_dir.mkdir(parents=True, exist_ok=True)
        self.host = FunctionHostProcess(self.stack.function_env(), on_log=self.on_function_log,
                                        log_path=logs_dir / "functions.log").start()
        env = {"KESTRA_GCP_BUCKET": self.stack.config.bucket, **self.host.workflow_env(), **self.job_env()}
        if any(entry.get("images") for entry in self.manifest.get("flows", {}).values()):
            from kestra_gcp.local import scripts

            os.environ["STORAGE_EMULATOR_HOST"] = self.stack.gcs_url
            scripts.install(self.state.root / "cache")
        try:
            self.engine = Engine(self.workflows, env=env, on_event=self.on_event,
                                 project=self.stack.config.project, location=self.stack.config.region)
        except DeployError as exc:  # the compiler emitted something the engine refuses: say where
            self.close()
            raise UserError(f"{self.flow_path}: compiled workflow rejected by the local engine: {exc}") from None
        return self

    def close(self) -> None:
        if self.host is not None:
            with contextlib.suppress(Exception):
                self.host.stop()
            self.host = None

    def __enter__(self) -> LocalSession:
        return self.open()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ execute

    def argument(self, inputs: dict[str, Any], trigger: dict[str, Any] | None = None,
                 labels: dict[str, str] | None = None) -> dict[str, Any]:
        arg: dict[str, Any] = {"inputs": inputs, "labels": dict(labels or {})}
        if trigger is not None:
            arg["trigger"] = trigger
        return arg

    def run(self, argument: dict[str, Any]) -> Outcome:
        return outcome_of(self.engine.run(self.workflow_id, argument))

    def start(self, argument: dict[str, Any]) -> str:
        return str(self.engine.start(self.workflow_id, argument))

    def wait(self, execution_id: str, timeout: float | None = None) -> Outcome:
        return outcome_of(self.engine.wait(execution_id, timeout))
