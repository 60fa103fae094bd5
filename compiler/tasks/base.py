"""The properties every Kestra task has, and the task spec a plugin family registers per type."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from compiler.model.common import Duration, Strict
from compiler.model.retry import Retry

if TYPE_CHECKING:
    from compiler.backend.builder import StepBuilder
    from compiler.ir import TaskNode


class TaskBase(Strict):
    """Common task properties (core/.../models/tasks/Task.java)."""

    id: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$", max_length=256)
    type: str
    description: str | None = None
    retry: Retry | None = None
    timeout: Duration | None = None
    disabled: bool = False
    allowFailure: bool = False
    allowWarning: bool = False
    runIf: Any = None
    logLevel: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] | None = None
    logToFile: bool | None = None
    workerGroup: Any = None
    taskCache: Any = None
    assets: Any = None
    version: str | None = None
    pluginDefaultsRef: str | None = None


Generate = Callable[["TaskNode", "StepBuilder"], list[dict[str, Any]]]


@dataclass(frozen=True)
class TaskSpec:
    """How one Kestra task type is modelled, checked and compiled.

    `outputs` are the names `outputs.<id>.<name>` may use (None: any). `children` names the properties
    holding nested task lists (flowable tasks). `claims` lets a family accept only some tasks of a type
    (it returns None to accept, or a reason to pass to the next family). `function` is the Cloud Run
    function a data task calls (for the manifest).
    """

    type: str
    model: builtins.type[TaskBase]
    generate: Generate
    outputs: frozenset[str] | None = frozenset()
    children: tuple[str, ...] = ()
    function: str | None = None
    claims: Callable[[dict[str, Any]], str | None] | None = None
    aliases: tuple[str, ...] = ()
    flowable: bool = False
