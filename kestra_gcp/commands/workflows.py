"""Command group 'workflows': run a Cloud Workflows file with the local engine, or serve the Executions API
for a directory of workflow files."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from kestra_gcp.errors import UserError

workflows_app = typer.Typer(
    name="workflows",
    help="Run Cloud Workflows sources with the local engine.",
    no_args_is_help=True,
)

_SUFFIXES = (".yaml", ".yml", ".json")


def _parse_env(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserError(f"--env {pair!r}: expected NAME=VALUE")
        k, v = pair.split("=", 1)
        env[k] = v
    return env


def _read(path: Path, what: str = "") -> str:
    """The file's text; a one-line UserError when it cannot be read as UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{what}{path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{what}{path}: not UTF-8 text (byte {exc.start})") from None


def _read_dir(directory: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Workflow sources and their file names, keyed by workflow id (the file name stem)."""
    sources: dict[str, str] = {}
    names: dict[str, str] = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.suffix in _SUFFIXES:
            sources[path.stem] = _read(path)
            names[path.stem] = str(path)
    return sources, names


def _argument(data: str) -> Any:
    """The execution argument from --data: inline JSON, or @file.json; None when not given."""
    if not data:
        return None
    text = _read(Path(data[1:]), "--data @") if data.startswith("@") else data
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"--data: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def _stderr_events(verbose: bool) -> Callable[[dict[str, Any]], None]:
    def on_event(event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "log":
            payload = event["payload"]
            text = payload if isinstance(payload, str) else json.dumps(payload)
            print(f"[{event['severity']}] {event.get('workflow')}/{event.get('step')}: {text}", file=sys.stderr)
        elif verbose and kind == "step_start":
            print(f"  -> {event.get('workflow')}/{event['step']}", file=sys.stderr)

    return on_event


@workflows_app.command("run")
def run(
    file: Path = typer.Argument(..., help="A Workflows source file (YAML or JSON).", exists=True, dir_okay=False),
    data: str = typer.Option("", "--data", "-d", help="The execution argument, as JSON (or @file.json)."),
    env: list[str] = typer.Option([], "--env", "-e", help="NAME=VALUE user environment variable (repeatable)."),
    with_dir: Path | None = typer.Option(
        None, "--workflows", help="A directory of other workflows the executions connector may run."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print every step to stderr."),
) -> None:
    """Run FILE: prints the result as JSON (exit 0), or the error value as JSON (exit 1)."""
    from kestra_gcp.engine import DeployError, Engine
    from kestra_gcp.engine.values import to_json

    argument = _argument(data)
    sources: dict[str, str] = {}
    names: dict[str, str] = {}
    if with_dir is not None:
        if not with_dir.is_dir():
            raise UserError(f"--workflows {with_dir}: not a directory")
        sources, names = _read_dir(with_dir)
    wid = file.stem
    sources[wid] = _read(file)
    names[wid] = str(file)
    try:
        engine = Engine(sources, env=_parse_env(env), on_event=_stderr_events(verbose), filenames=names)
        ex = engine.run(wid, argument)
    except DeployError as exc:
        raise UserError(str(exc)) from None
    if ex.state == "SUCCEEDED":
        typer.echo(to_json(ex.result, indent=2))
        return
    try:
        typer.echo(to_json(ex.error, indent=2))
    except Exception:
        typer.echo(json.dumps(str(ex.error)))
    summary = ex.error.get("message") if isinstance(ex.error, dict) else ex.error
    where = ex.error_context or str(file)
    raise UserError(f"{where}: execution {ex.state}: {summary}")


@workflows_app.command("serve")
def serve(
    directory: Path = typer.Argument(
        ..., help="Directory of workflow files; the id is the file name stem.", exists=True, file_okay=False
    ),
    port: int = typer.Option(8090, "--port", "-p", help="Port of the REST API on 127.0.0.1 (0: any)."),
    grpc_port: int = typer.Option(-1, "--grpc-port", help="Also serve gRPC on this port (0: any, -1: off)."),
    env: list[str] = typer.Option([], "--env", "-e", help="NAME=VALUE user environment variable (repeatable)."),
    project: str = typer.Option("local-project", "--project", help="Project id in execution names."),
    location: str = typer.Option("us-central1", "--location", help="Location in execution names."),
) -> None:
    """Serve the Workflow Executions API (create, get, list, cancel) for every workflow in DIRECTORY."""
    import threading

    from kestra_gcp.engine import DeployError, Engine
    from kestra_gcp.engine.api import ExecutionsApi

    sources, names = _read_dir(directory)
    if not sources:
        raise UserError(f"{directory}: no workflow files (*.yaml, *.yml, *.json)")
    try:
        engine = Engine(
            sources,
            env=_parse_env(env),
            on_event=_stderr_events(False),
            filenames=names,
            project=project,
            location=location,
        )
    except DeployError as exc:
        raise UserError(str(exc)) from None
    api = ExecutionsApi(engine)
    try:
        server = api.serve(port)
    except OSError as exc:
        raise UserError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    print(
        f"Executions API: http://127.0.0.1:{server.server_address[1]}/v1 "
        f"({len(sources)} workflows: {', '.join(sorted(sources))})",
        file=sys.stderr,
        flush=True,
    )
    grpc_server = None
    if grpc_port >= 0:
        from kestra_gcp.engine.api_grpc import serve_grpc

        try:
            grpc_server, bound = serve_grpc(api, grpc_port)
        except OSError as exc:
            server.shutdown()
            server.server_close()
            raise UserError(str(exc)) from None
        print(f"Executions API (gRPC): 127.0.0.1:{bound}", file=sys.stderr, flush=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    finally:
        server.shutdown()
        server.server_close()
        if grpc_server is not None:
            grpc_server.stop(None)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.add_typer(workflows_app, name="workflows")
