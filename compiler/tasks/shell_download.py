"""The shell idiom `wget -qO- URL | gunzip > FILE` (scripts.shell.Commands with outputFiles), recognised at
compile time and compiled to the `download` function with gunzip; `outputFiles['FILE']` is the stored file."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import Field

from compiler.tasks.base import TaskBase, TaskSpec

if TYPE_CHECKING:
    from compiler.backend.builder import StepBuilder
    from compiler.ir import TaskNode

TYPE = "io.kestra.plugin.scripts.shell.Commands"
IDIOM = re.compile(
    r"^\s*wget\s+(?:-qO-|-q\s+-O\s*-|-O-\s+-q|-qO\s+-)\s+(?P<q>['\"]?)(?P<url>.+?)(?P=q)\s*\|\s*gunzip"
    r"(?:\s+-c)?\s*>\s*(?P<fq>['\"]?)(?P<file>.+?)(?P=fq)\s*$"
)


class ShellCommands(TaskBase):
    commands: list[str]
    outputFiles: list[str] | None = None
    taskRunner: dict[str, Any] | None = None
    containerImage: str | None = None
    docker: dict[str, Any] | None = None
    beforeCommands: list[str] | None = None
    interpreter: list[str] | None = None
    env: dict[str, Any] | None = None
    warningOnStdErr: bool | None = None
    failFast: bool | None = None
    namespaceFiles: dict[str, Any] | None = None
    inputFiles: dict[str, Any] | None = None
    outputDirectory: bool | None = None
    targetOS: str | None = None
    runner: str | None = None
    exitOnFailed: bool | None = None
    pullPolicy: str | None = Field(default=None)


def match(task: dict[str, Any]) -> re.Match[str] | None:
    cmds = task.get("commands")
    if not isinstance(cmds, list) or len(cmds) != 1 or not isinstance(cmds[0], str):
        return None
    if task.get("beforeCommands"):
        return None
    return IDIOM.match(cmds[0])


def claims(task: dict[str, Any]) -> str | None:
    if match(task) is None:
        return "only the `wget -qO- URL | gunzip > FILE` idiom of shell Commands is compiled (script tasks " \
               "run as Cloud Run jobs are not supported yet)"
    return None


def generate(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    from compiler.backend.builder import target

    m = match(node.raw)
    assert m is not None
    n = b.name(node)
    path = (*node.path, "commands", 0)
    url = b.expr.string(m.group("url"), path, b.scope()).value
    file = b.expr.string(m.group("file"), path, b.scope()).value
    task = {"id": node.id, "type": "io.kestra.plugin.core.http.Download", "uri": url, "saveAs": file,
            "gunzip": True}
    steps = b.call_function(node, "download", task, outputs={"exitCode": 0, "outputFiles": {}, "vars": {}})
    steps.append({f"{n}_file": {"assign": [
        {f"{n}_name": file},
        {f"{target('outputs', node.id)}.outputFiles[{n}_name]": f"${{{n}_response.body.outputs.uri}}"},
    ]}})
    return steps


SPECS = [
    TaskSpec(TYPE, ShellCommands, generate, frozenset({"outputFiles", "exitCode", "vars"}), function="download",
             claims=claims),
]
