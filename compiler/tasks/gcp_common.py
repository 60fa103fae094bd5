"""Properties shared by Google Cloud tasks, and their handling: `serviceAccount` is dropped (functions run as
their own service account), `projectId` is passed on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compiler.tasks.base import TaskBase

if TYPE_CHECKING:
    from compiler.backend.builder import StepBuilder
    from compiler.ir import TaskNode

DROPPED = ("serviceAccount", "impersonatedServiceAccount", "scopes")


class GcpTask(TaskBase):
    projectId: str | None = None
    serviceAccount: str | None = None
    impersonatedServiceAccount: str | None = None
    scopes: list[str] | None = None


def gcp_call(node: TaskNode, b: StepBuilder, function: str) -> list[dict[str, Any]]:
    if "serviceAccount" in node.raw:
        b.notes.append(f"{node.id}: serviceAccount dropped; the {function} function uses its own service account")
    return b.call_function(node, function, b.task_body(node, skip=DROPPED))
