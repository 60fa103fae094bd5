"""The intermediate representation between the checked flow model and the generators: plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compiler.model.inputs import Input
from compiler.model.retry import Retry
from compiler.model.triggers import FlowTrigger, Schedule, Webhook
from compiler.tasks.base import TaskBase, TaskSpec
from compiler.yamlsource import Path, SourceMap


@dataclass(eq=False)
class TaskNode:
    """One task of a flow, typed, with its nested task lists (for flowable tasks)."""

    id: str
    type: str
    spec: TaskSpec
    model: TaskBase
    raw: dict[str, Any]
    path: Path
    children: dict[str, list[TaskNode]] = field(default_factory=dict)
    parent: TaskNode | None = None

    def prop(self, name: str, default: Any = None) -> Any:
        return self.raw.get(name, default)

    def effective_retry(self, flow_retry: Retry | None) -> Retry | None:
        """Task retry, else the nearest flowable parent's, else the flow's (Kestra's resolution order)."""
        node: TaskNode | None = self
        while node is not None:
            if node.model.retry is not None:
                return node.model.retry
            node = node.parent
        return flow_retry

    def walk(self) -> list[TaskNode]:
        out = [self]
        for kids in self.children.values():
            for k in kids:
                out.extend(k.walk())
        return out


@dataclass
class TriggerIR:
    """A trigger with where it is in the file."""

    id: str
    kind: str  # schedule | flow | webhook
    model: Schedule | FlowTrigger | Webhook
    path: Path
    cron: str | None = None  # normalised 5-field cron (schedules)


@dataclass
class FlowIR:
    """One checked flow, ready for the generators."""

    id: str
    namespace: str
    file: str
    source: SourceMap
    raw: dict[str, Any]
    description: str | None = None
    inputs: list[Input] = field(default_factory=list)
    input_paths: dict[str, Path] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    tasks: list[TaskNode] = field(default_factory=list)
    errors: list[TaskNode] = field(default_factory=list)
    finally_: list[TaskNode] = field(default_factory=list)
    after_execution: list[TaskNode] = field(default_factory=list)
    triggers: list[TriggerIR] = field(default_factory=list)
    concurrency: dict[str, Any] | None = None
    retry: Retry | None = None
    disabled: bool = False
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def workflow_id(self) -> str:
        return workflow_id(self.namespace, self.id)

    def all_tasks(self) -> list[TaskNode]:
        out: list[TaskNode] = []
        for top in (*self.tasks, *self.errors, *self.finally_, *self.after_execution):
            out.extend(top.walk())
        return out


def workflow_id(namespace: str, flow_id: str) -> str:
    """`<namespace>-<flow id>` with characters outside [A-Za-z0-9_-] replaced by '-' (contracts.md)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "-" for c in f"{namespace}-{flow_id}")
