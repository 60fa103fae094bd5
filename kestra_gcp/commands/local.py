"""Local commands: `run`, `backfill`, `services status|stop`, `kv set|get|list`, `secrets set`.

All of them work on the state directory `.kestra-gcp/` of the current working directory. Progress and logs
go to stderr; stdout carries results (`--json`, `kv get`), so the commands compose in shell pipelines.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from kestra_gcp.errors import UserError

services_app = typer.Typer(help="The embedded services under .kestra-gcp/ (GCS, PostgreSQL, BigQuery).",
                           no_args_is_help=True)
kv_app = typer.Typer(help="The local KV store (what kv() reads and core.kv.Set writes).", no_args_is_help=True)
secrets_app = typer.Typer(help="Local secrets (what secret('NAME') reads).", no_args_is_help=True)


def _err() -> Console:
    return Console(stderr=True, highlight=False)


def _connections(items: list[str]) -> dict[str, str]:
    from kestra_gcp.local.state import parse_connection

    return dict(parse_connection(item) for item in items)


def run(
    flow: Path = typer.Argument(..., help="The flow's YAML file.", show_default=False),
    inputs: list[str] = typer.Option([], "-i", "--input", help="An input value: name=value (repeatable)."),
    json_out: bool = typer.Option(False, "--json", help="Print only the final execution as JSON on stdout."),
    connection: list[str] = typer.Option(
        [], "--connection", help="Map a flow's JDBC host:port to a real server: host:port=postgresql://..."),
) -> None:
    """Compile FLOW and run it on this machine with the embedded services."""
    from kestra_gcp.local.display import RunDisplay
    from kestra_gcp.local.inputs import parse_inputs, split_assignments
    from kestra_gcp.local.session import CompileFailed, LocalSession, task_ids
    from kestra_gcp.local.state import StateDir

    err = _err()
    raw_inputs = split_assignments(inputs)
    display = RunDisplay(err, task_ids(flow))
    session = LocalSession(flow, StateDir.in_cwd(), _connections(connection),
                           on_event=display.on_event, on_function_log=display.on_function_log)
    try:
        session.compile()
    except CompileFailed as exc:
        for line in exc.diagnostics:
            err.print(line, markup=False)
        raise
    typed = parse_inputs(session.declared_inputs(), raw_inputs)
    with session:
        outcome = session.run(session.argument(typed))
    display.summary(outcome)
    if json_out:
        sys.stdout.write(json.dumps(outcome.to_json(), default=str) + "\n")
        sys.stdout.flush()
    sys.exit(0 if outcome.ok else 1)  # SystemExit: the root CLI runs click with standalone_mode=False


def backfill(
    flow: Path = typer.Argument(..., help="The flow's YAML file.", show_default=False),
    trigger: str = typer.Option(..., "--trigger", help="The Schedule trigger id."),
    start: str = typer.Option(..., "--start", help="Start of the window (date or datetime, inclusive)."),
    end: str = typer.Option(..., "--end", help="End of the window (date or datetime, inclusive)."),
    local: bool = typer.Option(False, "--local", help="Run on this machine (the default without --project)."),
    project: str = typer.Option("", "--project", help="GCP project: start executions on Cloud Workflows."),
    region: str = typer.Option("", "--region", help="Cloud Workflows region (with --project)."),
    concurrency: int = typer.Option(0, "--concurrency", min=0,
                                    help="Executions at once (default: the flow's concurrency limit, else 1)."),
    force: bool = typer.Option(False, "--force", help="Re-run ticks that already succeeded."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    connection: list[str] = typer.Option([], "--connection", help="host:port=postgresql://... (local runs)."),
    endpoint: str = typer.Option("", "--endpoint", hidden=True,
                                 help="Workflows API endpoint override (tests: the local Executions API)."),
) -> None:
    """One execution per cron tick of TRIGGER in [START, END], as Kestra's backfill."""
    from kestra_gcp.local.backfill import run_backfill

    if local and project:
        raise UserError("--local and --project exclude each other")
    if project and not region:
        raise UserError("--project needs --region")
    code = run_backfill(flow, trigger, start, end, project=project or None, region=region or None,
                        concurrency=concurrency or None, force=force, json_out=json_out,
                        connections=_connections(connection), endpoint=endpoint or None, console=_err())
    sys.exit(code)


@services_app.command("status")
def services_status(json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout.")) -> None:
    """Show which embedded services run under .kestra-gcp/."""
    from rich.table import Table

    from kestra_gcp.local import stack
    from kestra_gcp.local.state import StateDir

    rows = stack.status(StateDir.in_cwd())
    if json_out:
        data = [{"name": r.name, "running": r.running, "pid": r.pid, "url": r.url, "dataDir": str(r.data_dir)}
                for r in rows]
        typer.echo(json.dumps(data))
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("service", "state", "pid", "endpoint", "data dir"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.name, "[green]running[/]" if r.running else "[dim]stopped[/]", str(r.pid or ""),
                      r.url, str(r.data_dir))
    Console().print(table)


@services_app.command("stop")
def services_stop() -> None:
    """Stop every embedded service of .kestra-gcp/ (data is kept)."""
    from kestra_gcp.local import stack
    from kestra_gcp.local.state import StateDir

    stopped = stack.stop(StateDir.in_cwd())
    _err().print(f"stopped: {', '.join(stopped)}" if stopped else "no service was running")


def _kv() -> Any:
    from kestra_gcp.local import stack
    from kestra_gcp.local.kvstore import KVStore
    from kestra_gcp.local.state import StateDir

    local = stack.ensure(StateDir.in_cwd(), {"gcs"})
    return KVStore(local.storage_client(), local.config.bucket)


@kv_app.command("set")
def kv_set(
    namespace: str = typer.Argument(..., show_default=False),
    key: str = typer.Argument(..., show_default=False),
    value: str = typer.Argument(..., show_default=False),
    kv_type: str = typer.Option("STRING", "--type", help="STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION, JSON."),
) -> None:
    """Set KEY in NAMESPACE to VALUE."""
    from kestra_gcp.local.kvstore import convert

    typed = convert(value, kv_type)
    _kv().set(namespace, key, typed, kv_type)


@kv_app.command("get")
def kv_get(namespace: str = typer.Argument(..., show_default=False),
           key: str = typer.Argument(..., show_default=False)) -> None:
    """Print the value of KEY (JSON for non-strings); exit 1 if missing."""
    doc = _kv().get(namespace, key)
    if doc is None:
        raise UserError(f"kv: no key '{key}' in namespace '{namespace}'")
    value = doc.get("value")
    typer.echo(value if isinstance(value, str) else json.dumps(value))


@kv_app.command("list")
def kv_list(namespace: str = typer.Argument(..., show_default=False)) -> None:
    """List the keys of NAMESPACE with their type."""
    for key, doc in _kv().list(namespace):
        typer.echo(f"{key}\t{doc.get('type', '')}")


@secrets_app.command("set")
def secrets_set(name: str = typer.Argument(..., show_default=False)) -> None:
    """Store secret NAME; the value is read from stdin (a trailing newline is dropped)."""
    from kestra_gcp.local.state import StateDir

    if sys.stdin.isatty():
        _err().print(f"value of {name} (end with Ctrl-D):")
    value = sys.stdin.read()
    if value.endswith("\n"):
        value = value[:-1]
    if not value:
        raise UserError(f"secrets: empty value for {name} (pipe it on stdin)")
    StateDir.in_cwd().set_secret(name, value)
    _err().print(f"secret {name} stored in .kestra-gcp/secrets.json")


@secrets_app.command("list")
def secrets_list() -> None:
    """List the names of the local secrets (never their values)."""
    from kestra_gcp.local.state import StateDir

    for name in sorted(StateDir.in_cwd().secrets()):
        typer.echo(name)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.command("run")(run)
    app.command("backfill")(backfill)
    app.add_typer(services_app, name="services")
    app.add_typer(kv_app, name="kv")
    app.add_typer(secrets_app, name="secrets")
