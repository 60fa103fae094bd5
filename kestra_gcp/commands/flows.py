"""Commands on flow files: `validate`, `compile`, `graph` (the compiler's command line)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from compiler.diagnostics import Diagnostic
from kestra_gcp.errors import UserError


def _print_diagnostics(diags: list[Diagnostic], fmt: str) -> None:
    if fmt == "json":
        typer.echo(json.dumps([d.to_json() for d in diags], indent=2))
        return
    for d in diags:
        typer.echo(d.format(), err=True)


def validate(
    paths: list[Path] = typer.Argument(..., help="Flow files or directories (searched for *.yaml / *.yml)."),
    fmt: str = typer.Option("text", "--format", help="Output format: text (path:line:col lines) or json."),
) -> None:
    """Check flows without writing anything; prints every problem as `path:line:col: error: message`."""
    from compiler.api import validate_paths

    if fmt not in ("text", "json"):
        raise UserError(f"unknown --format '{fmt}' (use text or json)")
    diags = validate_paths(paths)
    _print_diagnostics(diags, fmt)
    errors = sum(1 for d in diags if d.is_error)
    if fmt == "text":
        typer.echo(f"{errors} error(s)" if errors else "ok", err=bool(errors))
    raise SystemExit(1 if errors else 0)


def compile_cmd(
    paths: list[Path] = typer.Argument(..., help="Flow files or directories."),
    out: Path = typer.Option(Path("build"), "-o", "--out", help="Output directory for the artifacts."),
    flow: str | None = typer.Option(None, "--flow", help="Compile only this flow (id, namespace.id or workflow id)."),
    fmt: str = typer.Option("text", "--format", help="Diagnostics format: text or json."),
    skip_unsupported: bool = typer.Option(
        False, "--skip-unsupported",
        help="Leave out (with a warning) flows whose only problems are unsupported task types."),
) -> None:
    """Compile flows into OUT/workflows/*.yaml, OUT/schedules.json and OUT/manifest.json."""
    from compiler.api import compile_paths

    result = compile_paths(paths, flow, skip_unsupported=skip_unsupported)
    _print_diagnostics(result.diagnostics, fmt)
    if not result.ok:
        raise SystemExit(1)
    result.write(out)
    typer.echo(f"compiled {len(result.workflows)} workflow(s), {len(result.schedules)} schedule(s) into {out}")


def graph(
    flow: str = typer.Argument(..., help="The flow to draw: id, namespace.id or workflow id."),
    paths: list[Path] = typer.Option([Path("flows")], "--path", "-p", help="Where to look for flows."),
) -> None:
    """Print a Mermaid diagram of the compiled steps of FLOW."""
    from compiler.api import compile_paths
    from compiler.graph import mermaid

    result = compile_paths(paths, flow)
    _print_diagnostics(result.diagnostics, "text")
    if not result.ok or not result.workflows:
        raise SystemExit(1)
    for text in result.workflows.values():
        typer.echo(mermaid(text))


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.command("validate")(validate)
    app.command("compile")(compile_cmd)
    app.command("graph")(graph)
