"""Live rendering of a local execution on stderr (rich): task starts, logs, function logs, final summary.

Everything goes to stderr so that `--json` keeps stdout for the execution JSON alone.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kestra_gcp.local.session import Outcome

_STATE_STYLE = {"SUCCESS": "green", "WARNING": "yellow", "FAILED": "red", "CANCELLED": "magenta",
                "KILLED": "magenta", "SKIPPED": "dim", "RUNNING": "cyan", "QUEUED": "dim"}
_SEVERITY_STYLE = {"ERROR": "red", "CRITICAL": "red", "WARNING": "yellow", "DEBUG": "dim"}


def state_text(state: str) -> str:
    return f"[{_STATE_STYLE.get(state, 'white')}]{escape(state)}[/]"


class RunDisplay:
    """Receives engine events and function logs (from several threads) and prints one line per fact."""

    def __init__(self, console: Console, task_ids: list[str]) -> None:
        self.console = console
        self.task_ids = set(task_ids)
        self._lock = threading.Lock()
        self._seen_start: set[tuple[str, str]] = set()
        self._started: dict[tuple[str, str], float] = {}
        self._t0 = time.monotonic()

    def _line(self, text: str) -> None:
        with self._lock:
            self.console.print(f"[dim]{time.monotonic() - self._t0:7.2f}s[/] {text}", highlight=False, soft_wrap=True)

    def _task_of(self, step: str | None) -> str | None:
        if not step:
            return None
        if step in self.task_ids:
            return step
        for task_id in self.task_ids:  # compiled helper steps are named after their task
            if step.startswith((f"{task_id}_", f"{task_id}-", f"t_{task_id}")):
                return task_id
        return None

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "step_start":
            step = str(event.get("step") or "")
            task = self._task_of(step)
            key = (str(event.get("execution", "")), task or "")
            if task and key not in self._seen_start:
                self._seen_start.add(key)
                self._started[key] = time.monotonic()
                self._line(f"[cyan]▶[/] {escape(task)}")
            elif task and step == f"{task}_end":  # the compiled task records its success
                took = time.monotonic() - self._started.get(key, time.monotonic())
                self._line(f"[green]✓[/] {escape(task)} [dim]{took:.2f}s[/]")
            elif task and step == f"{task}_failed":
                self._line(f"[red]✗[/] {escape(task)} failed")
        elif kind == "log":
            severity = str(event.get("severity") or "INFO").upper()
            payload = event.get("payload")
            text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
            style = _SEVERITY_STYLE.get(severity, "white")
            task = self._task_of(event.get("step")) or ""
            self._line(f"  [{style}]{severity:<7}[/] [bold]{escape(task)}[/] {escape(text)}")

    def on_function_log(self, entry: dict[str, Any]) -> None:
        severity = str(entry.get("severity") or "INFO").upper()
        message = str(entry.get("message", ""))
        task = str(entry.get("taskId") or "")
        style = _SEVERITY_STYLE.get(severity, "white")
        self._line(f"  [{style}]{severity:<7}[/] [bold]{escape(task)}[/] {escape(message)}")

    def summary(self, outcome: Outcome) -> None:
        with self._lock:
            if outcome.task_runs:
                table = Table(title=None, show_edge=False, header_style="bold")
                for col in ("task", "state", "attempts", "duration"):
                    table.add_column(col)
                for run in outcome.task_runs:
                    table.add_row(escape(str(run.get("id", ""))), state_text(str(run.get("state", ""))),
                                  str(run.get("attempts", "")), _duration(run))
                self.console.print(table)
            if outcome.outputs:
                self.console.print("[bold]outputs[/]")
                self.console.print_json(json.dumps(outcome.outputs, default=str))
            line = f"execution {outcome.execution_id} {state_text(outcome.state)} in {outcome.duration:.2f}s"
            self.console.print(line, highlight=False)
            if not outcome.ok and outcome.message:
                self.console.print(f"[red]error:[/] {escape(outcome.message)}", highlight=False)


def _duration(run: dict[str, Any]) -> str:
    from datetime import datetime

    try:
        start = datetime.fromisoformat(str(run["startDate"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(run["endDate"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return ""
    return f"{(end - start).total_seconds():.2f}s"
