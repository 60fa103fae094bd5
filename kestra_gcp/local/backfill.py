"""`kestra-gcp backfill`: one execution per cron tick of a Schedule trigger in a window, as Kestra does.

Each execution gets the contract's argument: the trigger's inputs, `trigger.date` (the tick),
`trigger.next` and `trigger.previous` as ISO-8601 strings in the trigger's time zone, and labels
`system.from=trigger`, `system.backfill=true`. At most `concurrency` executions run at once (never more than
the flow's own concurrency limit). Results are recorded tick by tick under `.kestra-gcp/backfills/`, so an
interrupted backfill resumes where it stopped: ticks already SUCCESS are skipped unless `--force`.

Executions run on this machine (`LocalSession`) or on Cloud Workflows with google-cloud-workflows
(`--project/--region`; `endpoint` points the client at another Executions API, e.g. the local engine's).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kestra_gcp.errors import UserError
from kestra_gcp.local.display import state_text
from kestra_gcp.local.session import LocalSession, Outcome
from kestra_gcp.local.state import StateDir


@dataclass(frozen=True)
class Tick:
    """One scheduled instant with Kestra's trigger variables."""

    date: str
    next: str
    previous: str

    def variables(self) -> dict[str, str]:
        return {"date": self.date, "next": self.next, "previous": self.previous}


def iso(moment: datetime) -> str:
    """ISO-8601 with offset, `Z` for UTC, as Kestra serialises the trigger dates."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") and str(moment.tzinfo) in ("UTC", "Etc/UTC") else text


def parse_bound(text: str, tz: ZoneInfo, option: str) -> datetime:
    """A date or datetime; naive values are in the trigger's zone."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"{option} {text!r}: expected a date (2019-01-01) or datetime (2019-01-01T09:00:00)") from None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)


def _croniter_expr(cron: str, with_seconds: bool) -> str:
    fields = cron.split()
    if with_seconds and len(fields) == 6:  # Kestra puts seconds first, croniter last
        fields = fields[1:] + fields[:1]
    return " ".join(fields)


def ticks(cron: str, zone: str, start: datetime, end: datetime, with_seconds: bool = False) -> Iterator[Tick]:
    """Every tick in [start, end] with its next and previous ticks."""
    from croniter import croniter

    expr = _croniter_expr(cron, with_seconds)
    tz = ZoneInfo(zone)
    it = croniter(expr, start.astimezone(tz) - timedelta(seconds=1))
    date: datetime = it.get_next(datetime)
    while date <= end:
        following: datetime = croniter(expr, date).get_next(datetime)
        previous: datetime = croniter(expr, date).get_prev(datetime)
        yield Tick(iso(date), iso(following), iso(previous))
        date = following


class Record:
    """The resumable record of one backfill target: tick date -> {state, executionId, duration}."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self.data: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}
        except ValueError:
            raise UserError(f"{path}: corrupt backfill record (delete it to start over)") from None

    def done(self, tick: Tick) -> bool:
        return self.data.get(tick.date, {}).get("state") == "SUCCESS"

    def save(self, tick: Tick, outcome: Outcome) -> None:
        with self._lock:
            self.data[tick.date] = {"state": outcome.state, "executionId": outcome.execution_id,
                                    "duration": round(outcome.duration, 3), "message": outcome.message}
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True))
            tmp.replace(self.path)


def _record_path(state: StateDir, workflow: str, trigger: str, target: str) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{target}__{workflow}__{trigger}")
    return state.backfills_dir / f"{name}.json"


def _schedule(session: LocalSession, trigger: str) -> dict[str, Any]:
    flow = session.flow
    for entry in session.schedules:
        if entry.get("workflow") == session.workflow_id and entry.get("triggerId") == trigger:
            return entry
    known = [e.get("triggerId") for e in session.schedules if e.get("workflow") == session.workflow_id]
    raise UserError(f"{session.flow_path}: flow {flow.get('id')} has no Schedule trigger {trigger!r}"
                    + (f" (its schedules: {', '.join(map(str, known))})" if known else " (it has none)"))


Executor = Callable[[dict[str, Any]], Outcome]


class CloudExecutor:
    """Runs executions on Cloud Workflows (or any Executions API) with google-cloud-workflows."""

    def __init__(self, project: str, region: str, workflow: str, endpoint: str | None) -> None:
        from google.cloud.workflows import executions_v1

        if endpoint:  # a local Executions API: plaintext gRPC, anonymous (executions_v1 ships gRPC only)
            import grpc
            from google.auth.credentials import AnonymousCredentials
            from google.cloud.workflows.executions_v1.services.executions.transports import (
                ExecutionsGrpcTransport,
            )

            address = endpoint.split("://", 1)[-1].rstrip("/")
            transport = ExecutionsGrpcTransport(channel=grpc.insecure_channel(address),
                                                credentials=AnonymousCredentials())
            self.client = executions_v1.ExecutionsClient(transport=transport)
        else:
            self.client = executions_v1.ExecutionsClient()
        self.parent = f"projects/{project}/locations/{region}/workflows/{workflow}"
        self.types = executions_v1

    def __call__(self, argument: dict[str, Any]) -> Outcome:
        started = time.time()
        execution = self.types.Execution(argument=json.dumps(argument))
        created = self.client.create_execution(parent=self.parent, execution=execution)
        delay = 0.2
        while True:
            current = self.client.get_execution(name=created.name)
            state = self.types.Execution.State(current.state).name
            if state not in {"ACTIVE", "QUEUED", "STATE_UNSPECIFIED"}:
                break
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)
        exec_id = created.name.rsplit("/", 1)[-1]
        if state == "SUCCEEDED":
            result = json.loads(current.result or "{}")
            return Outcome(exec_id, str(result.get("state", "SUCCESS")), result.get("outputs") or {},
                           result.get("labels") or {}, result.get("taskRuns") or [], started=started,
                           ended=time.time())
        payload: Any = current.error.payload if current.error else ""
        try:
            error = json.loads(payload) if payload else {}
        except ValueError:
            error = {"message": payload}
        if not isinstance(error, dict):
            error = {"message": str(error)}
        final = "CANCELLED" if state == "CANCELLED" else "FAILED"
        return Outcome(exec_id, final, error.get("outputs") or {}, error.get("labels") or {},
                       error.get("taskRuns") or [], message=str(error.get("message") or payload or state),
                       task_id=str(error.get("taskId") or ""), started=started, ended=time.time())


def run_backfill(flow: Path, trigger: str, start: str, end: str, *, project: str | None, region: str | None,
                 concurrency: int | None, force: bool, json_out: bool, connections: dict[str, str],
                 endpoint: str | None, console: Console) -> int:
    """Plan, execute and summarise a backfill; returns the process exit code."""
    state = StateDir.in_cwd().ensure()
    logs = state.root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_file = (logs / "backfill.log").open("a")
    log_lock = threading.Lock()

    def to_log(entry: dict[str, Any]) -> None:
        with log_lock:
            log_file.write(json.dumps(entry, default=str) + "\n")
            log_file.flush()

    session = LocalSession(flow, state, connections, on_event=to_log, on_function_log=to_log)
    try:
        from kestra_gcp.local.session import CompileFailed

        try:
            session.compile()
        except CompileFailed as exc:
            for line in exc.diagnostics:
                console.print(line, markup=False)
            raise
        schedule = _schedule(session, trigger)
        zone = str(schedule.get("timeZone") or "UTC")
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise UserError(f"trigger {trigger}: unknown time zone {zone!r}") from None
        lo, hi = parse_bound(start, tz, "--start"), parse_bound(end, tz, "--end")
        if hi < lo:
            raise UserError("--end is before --start")
        plan = list(ticks(str(schedule["cron"]), zone, lo, hi, bool(schedule.get("withSeconds"))))
        limit = (session.flow.get("concurrency") or {}).get("limit")
        workers = concurrency or limit or 1
        if limit:
            workers = min(workers, int(limit))
        target = f"{project}-{region}" if project else "local"
        record = Record(_record_path(state, session.workflow_id, trigger, target))
        inputs = dict(schedule.get("inputs") or {})
        labels = {"system.from": "trigger", "system.backfill": "true",
                  **{str(k): str(v) for k, v in (schedule.get("labels") or {}).items()}}
        todo = [t for t in plan if force or not record.done(t)]
        if project:
            executor: Executor = CloudExecutor(project, str(region), session.workflow_id, endpoint)
            results = _execute(todo, executor, session, inputs, labels, workers, record, console)
        else:
            with session:
                results = _execute(todo, session.run, session, inputs, labels, workers, record, console)
    finally:
        session.close()
        log_file.close()
    return _summarise(plan, results, record, console, json_out)


def _execute(todo: list[Tick], executor: Executor, session: LocalSession, inputs: dict[str, Any],
             labels: dict[str, str], workers: int, record: Record, console: Console) -> dict[str, Outcome]:
    results: dict[str, Outcome] = {}
    if not todo:
        return results
    progress = Progress(TextColumn("[bold]backfill[/]"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[last]}"), TimeElapsedColumn(), console=console,
                        transient=False)
    with progress, ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backfill") as pool:
        bar = progress.add_task("ticks", total=len(todo), last="")
        pending: dict[Future[Outcome], Tick] = {}
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < workers:
                tick = queue.pop(0)
                argument = session.argument(inputs, tick.variables(), labels)
                pending[pool.submit(executor, argument)] = tick
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                tick = pending.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:  # a transport failure is this tick's failure, not the backfill's
                    outcome = Outcome("", "FAILED", {}, {}, [], message=f"{type(exc).__name__}: {exc}",
                                      started=time.time(), ended=time.time())
                results[tick.date] = outcome
                record.save(tick, outcome)
                progress.update(bar, advance=1, last=f"{tick.date} {outcome.state}")
    return results


def _summarise(plan: list[Tick], results: dict[str, Outcome], record: Record, console: Console,
               json_out: bool) -> int:
    rows: list[dict[str, Any]] = []
    for tick in plan:
        outcome = results.get(tick.date)
        if outcome is None:
            previous = record.data.get(tick.date, {})
            rows.append({"tick": tick.date, "state": previous.get("state", "SUCCESS"), "skipped": True,
                         "duration": previous.get("duration"), "executionId": previous.get("executionId"),
                         "message": ""})
        else:
            rows.append({"tick": tick.date, "state": outcome.state, "skipped": False,
                         "duration": round(outcome.duration, 3), "executionId": outcome.execution_id,
                         "started": outcome.started, "ended": outcome.ended, "message": outcome.message})
    table = Table(show_edge=False, header_style="bold")
    for col in ("tick", "state", "duration", "execution"):
        table.add_column(col)
    for row in rows:
        label = state_text(row["state"]) + (" [dim](already done)[/]" if row["skipped"] else "")
        duration = f"{row['duration']:.2f}s" if isinstance(row["duration"], int | float) else ""
        table.add_row(row["tick"], label, duration, str(row["executionId"] or ""))
    console.print(table)
    for row in rows:
        if row["message"] and row["state"] not in {"SUCCESS", "WARNING"}:
            console.print(f"[red]{row['tick']}[/]: {escape(row['message'])}", highlight=False)
    failed = [r for r in rows if r["state"] not in {"SUCCESS", "WARNING"}]
    ran = sum(1 for r in rows if not r["skipped"])
    console.print(f"{len(plan)} ticks: {ran} run, {len(plan) - ran} already done, {len(failed)} failed")
    if json_out:
        import sys

        sys.stdout.write(json.dumps({"ticks": rows}) + "\n")
    return 1 if failed else 0
