"""The `kestra-gcp` command line: a typer app whose command groups live in `kestra_gcp.commands`.

Each module in `kestra_gcp.commands` exposes `register(app)`; heavy imports happen inside the
commands so that `kestra-gcp --help` stays fast.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from kestra_gcp import __version__
from kestra_gcp.commands import flows, local, workflows
from kestra_gcp.errors import UserError

app = typer.Typer(
    name="kestra-gcp",
    help="Kestra flows, run serverless on Google Cloud: validate, compile, run locally, backfill.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kestra-gcp {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks for unexpected errors."),
) -> None:
    _state["debug"] = debug


for module in (flows, workflows, local):
    module.register(app)


def main() -> None:
    """Console entry point: run the app, turning errors into one line and an exit code."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    debug = "--debug" in sys.argv[1:]
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except UserError as exc:
        if debug:
            raise
        err.print(f"error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except Exception as exc:  # the last line of defence: never a traceback without --debug
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if debug:
            raise
        err.print(f"error: {type(exc).__name__}: {exc} (run with --debug for details)", markup=False)
        sys.exit(1)
