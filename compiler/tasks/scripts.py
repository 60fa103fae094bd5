"""Script tasks (python and shell Script/Commands) -> a Cloud Run job per container image.

The step starts the image's job with the `googleapis.run.v2.projects.locations.jobs.run` connector, passing the
rendered task as the runner spec (docs/contracts.md, "Script tasks"), then reads the outputs document the runner
wrote to execution storage, so that `outputs.<id>.vars`, `exitCode` and `outputFiles['name']` work as in Kestra.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from compiler.tasks.base import TaskBase, TaskSpec

if TYPE_CHECKING:
    from compiler.backend.builder import StepBuilder
    from compiler.ir import TaskNode

PYTHON = "io.kestra.plugin.scripts.python."
SHELL = "io.kestra.plugin.scripts.shell."
# Kestra defaults shell tasks to ubuntu:latest, which has no python3 for the runner: both use a Python image.
DEFAULT_IMAGES = {PYTHON: "python:3.13-slim", SHELL: "python:3.13-slim"}
JOB_TIMEOUT = 3600  # seconds, when the task sets none
CONNECTOR_MARGIN = 300  # the connector waits a little longer than the job may run
SPEC_PROPS = ("script", "commands", "beforeCommands", "dependencies", "env", "inputFiles", "outputFiles", "failFast")
OUTPUTS = frozenset({"vars", "exitCode", "outputFiles"})


class ScriptTask(TaskBase):
    """Properties shared by the python and shell script tasks (plugin-scripts AbstractExecScript)."""

    containerImage: str | None = None
    docker: dict[str, Any] | None = None
    taskRunner: dict[str, Any] | None = None
    beforeCommands: list[str] | None = None
    interpreter: list[str] | None = None
    env: dict[str, Any] | None = None
    failFast: bool | None = None
    warningOnStdErr: bool | None = None
    namespaceFiles: dict[str, Any] | None = None
    inputFiles: dict[str, Any] | str | None = None
    outputFiles: list[str] | None = None
    outputDirectory: bool | None = None
    targetOS: str | None = None
    runner: str | None = None
    pullPolicy: str | None = None


class PythonTask(ScriptTask):
    dependencies: list[str] | None = None
    pythonVersion: str | None = None
    packageManager: str | None = None
    dependencyCacheEnabled: bool | None = None
    uvAutoInstallEnabled: bool | None = None


class PythonScript(PythonTask):
    script: str


class PythonCommands(PythonTask):
    commands: list[str]


class ShellScript(ScriptTask):
    script: str


class ShellCommands(ScriptTask):
    commands: list[str]
    exitOnFailed: bool | None = None


def image_of(node: TaskNode) -> str:
    """The task's container image as Kestra picks it: containerImage, then the deprecated docker.image."""
    image = node.raw.get("containerImage") or (node.raw.get("docker") or {}).get("image")
    if isinstance(image, str) and image:
        return image
    return DEFAULT_IMAGES[PYTHON if node.type.startswith(PYTHON) else SHELL]


def image_key(image: str) -> str:
    """The job key of an image: lower-case, `[a-z0-9-]`, at most 40 characters (contracts.md)."""
    key = re.sub(r"[^a-z0-9]+", "-", image.lower()).strip("-")[:40].strip("-")
    return key or "image"


def job_env_var(key: str) -> str:
    return "KESTRA_GCP_JOB_" + key.upper().replace("-", "_")


def generate(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    from compiler.backend.builder import step_name, target
    from compiler.model.common import duration_seconds

    n = step_name(node.id)
    image = image_of(node)
    if "{{" in image:
        b.error((*node.path, "containerImage"),
                "containerImage must be a constant: a Cloud Run job is created per image")
    namespace_files = node.raw.get("namespaceFiles")
    if isinstance(namespace_files, dict) and namespace_files.get("enabled"):
        b.error((*node.path, "namespaceFiles"),
                "namespaceFiles are not supported: pass the files with inputFiles (inline content or a gs:// URI)")
    key = image_key(image)
    b.images[key] = image
    timeout = duration_seconds(node.model.timeout) if node.model.timeout else None
    job_timeout = int(timeout) if timeout else JOB_TIMEOUT
    task = {"id": node.id, "type": node.type}
    for prop in SPEC_PROPS:
        if prop in node.raw:
            task[prop] = b.value(node, prop)
    # one prefix per task run: inside loops, the index of every enclosing iteration (else they overwrite)
    iterations = "".join(f' + string({index}) + "/"' for index in b.loop_indexes)
    prefix = f'"executions/{b.flow.namespace}/{b.flow.id}/" + execution.id + "/{node.id}/"{iterations}'
    spec = {
        "task": task,
        "execution": {"id": "${execution.id}", "namespace": b.flow.namespace, "flowId": b.flow.id},
        "storage": {"bucket": '${sys.get_env("KESTRA_GCP_BUCKET")}', "prefix": f"${{{prefix}}}"},
        "outputsObject": f'${{{prefix} + "_outputs.json"}}',
        "timeoutSeconds": job_timeout,
    }
    doc = f"{n}_doc"
    return [
        {f"{n}_spec": {"assign": [{f"{n}_spec": spec}]}},
        {f"{n}_job": {"call": "googleapis.run.v2.projects.locations.jobs.run", "args": {
            "name": f'${{sys.get_env("{job_env_var(key)}")}}',
            "body": {"overrides": {
                "containerOverrides": [{"env": [
                    {"name": "KESTRA_RUNNER_SPEC", "value": f"${{base64.encode(json.encode({n}_spec))}}"}]}],
                "timeout": f"{job_timeout}s"}},
            "connector_params": {"timeout": job_timeout + CONNECTOR_MARGIN},
        }}},
        {f"{n}_read": {"call": "googleapis.storage.v1.objects.get", "args": {
            "bucket": f"${{{n}_spec.storage.bucket}}",
            "object": f"${{text.url_encode({n}_spec.outputsObject)}}",
            "alt": "media",
        }, "result": f"{n}_raw"}},
        {f"{n}_decode": {"switch": [
            {"condition": f'${{type({n}_raw) == "map"}}', "assign": [{doc: f"${{{n}_raw}}"}]},
            {"condition": True, "assign": [{doc: f"${{json.decode({n}_raw)}}"}]},
        ]}},
        {f"{n}_check": {"switch": [{"condition": f'${{{doc}.state != "SUCCESS"}}', "raise": {
            "tags": ["TaskError"], "message": f"${{{doc}.message}}", "exitCode": f"${{{doc}.exitCode}}"}}]}},
        {f"{n}_outputs": {"assign": [{target("outputs", node.id): {
            "vars": f"${{{doc}.vars}}", "exitCode": f"${{{doc}.exitCode}}",
            "outputFiles": f"${{{doc}.outputFiles}}"}}]}},
    ]


SPECS = [
    TaskSpec(PYTHON + "Script", PythonScript, generate, OUTPUTS),
    TaskSpec(PYTHON + "Commands", PythonCommands, generate, OUTPUTS),
    TaskSpec(SHELL + "Script", ShellScript, generate, OUTPUTS),
    TaskSpec(SHELL + "Commands", ShellCommands, generate, OUTPUTS),
]
