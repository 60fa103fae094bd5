"""Jobs: insert (asynchronous, one worker, duplicate ids refused), get, cancel, list, jobs.query, and the paged
`getQueryResults` rows read straight from the DuckDB result table (never the whole result in memory)."""

from __future__ import annotations

import copy
import hashlib
import threading
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from duckdb.sqltypes import DuckDBPyType

from .errors import BigQueryError, invalid, not_found
from .executor import Executor
from .outcome import Outcome
from .sql import TableRef
from .transfers import Transfers
from .types import bq_field, quote_ident, row_sql
from .warehouse import RESULTS, now_ms

_PAGE_BYTES = 8 * 1024 * 1024
_PAGE_ROWS = 100_000
_KEPT_RESULTS = 500
_INSERT_WAIT_S = 2.0


@dataclass
class Job:
    """A job and, once DONE, its outcome or error."""

    project: str
    job_id: str
    location: str
    configuration: dict[str, Any]
    state: str = "PENDING"
    error: BigQueryError | None = None
    outcome: Outcome | None = None
    created: str = field(default_factory=now_ms)
    started: str | None = None
    ended: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    cursor: duckdb.DuckDBPyConnection | None = None
    cancelled: bool = False
    local_files: list[Path] = field(default_factory=list)
    expired: bool = False
    result_schema: list[tuple[str, DuckDBPyType]] = field(default_factory=list)
    total_rows: int = 0

    @property
    def kind(self) -> str:
        for kind in ("query", "load", "copy", "extract"):
            if kind in self.configuration:
                return kind
        return "query"

    def reference(self) -> dict[str, str]:
        return {"projectId": self.project, "jobId": self.job_id, "location": self.location}

    def schema(self) -> dict[str, Any]:
        return {"fields": [bq_field(name, t) for name, t in self.result_schema]}

    def resource(self) -> dict[str, Any]:
        status: dict[str, Any] = {"state": self.state}
        if self.error is not None:
            status["errorResult"] = self.error.error_proto()
            status["errors"] = [self.error.error_proto()]
        statistics: dict[str, Any] = {"creationTime": self.created}
        if self.started:
            statistics["startTime"] = self.started
        if self.ended:
            statistics["endTime"] = self.ended
        out = self.outcome
        if out is not None and self.kind == "query":
            query: dict[str, Any] = {"statementType": out.statement_type, "totalBytesProcessed": "0",
                                     "totalBytesBilled": "0", "cacheHit": False}
            if out.dml_rows is not None:
                query["numDmlAffectedRows"] = str(out.dml_rows)
            if out.ddl_operation:
                query["ddlOperationPerformed"] = out.ddl_operation
            if out.ddl_target is not None:
                query["ddlTargetTable"] = out.ddl_target.api()
            if self.result_schema:
                query["schema"] = self.schema()
            statistics["query"] = query
            statistics["totalBytesProcessed"] = "0"
        elif out is not None and self.kind in ("load", "extract"):
            statistics[self.kind] = out.load
        return {"kind": "bigquery#job", "etag": self.created, "id": f"{self.project}:{self.location}.{self.job_id}",
                "jobReference": self.reference(), "configuration": self.configuration, "status": status,
                "statistics": statistics, "user_email": "standin@localhost"}


class JobService:
    """All jobs of the stand-in. Jobs run one at a time on a worker thread, like a single slot."""

    def __init__(self, executor: Executor, transfers: Transfers) -> None:
        self.executor = executor
        self.transfers = transfers
        self.warehouse = executor.warehouse
        self._jobs: dict[tuple[str, str], Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bq-standin-job")
        self._requests: dict[str, str] = {}
        self._results: deque[Job] = deque()

    def close(self) -> None:
        """Cancel pending jobs, interrupt the running one, wait for the worker."""
        with self._lock:
            running = [j for j in self._jobs.values() if j.state != "DONE"]
        for job in running:
            job.cancelled = True
            if job.cursor is not None:
                job.cursor.interrupt()
        self._pool.shutdown(wait=True, cancel_futures=True)

    # --- API -----------------------------------------------------------------------------------------------
    def insert(self, project: str, body: dict[str, Any], local_files: list[Path] | None = None) -> dict[str, Any]:
        ref = body.get("jobReference") or {}
        configuration = copy.deepcopy(body.get("configuration") or {})
        if not any(k in configuration for k in ("query", "load", "copy", "extract")):
            raise invalid("Required parameter is missing: configuration.query or configuration.load")
        job_id = ref.get("jobId") or f"job_{uuid.uuid4().hex}"
        location = ref.get("location") or "US"
        project = ref.get("projectId") or project
        self.warehouse.ensure_project(project)
        if configuration.get("dryRun"):
            return self._dry_run(project, job_id, location, configuration)
        job = Job(project, job_id, location, configuration, local_files=local_files or [])
        configuration.setdefault("jobType", job.kind.upper())
        with self._lock:
            if (project, job_id) in self._jobs:
                raise BigQueryError(409, "duplicate", f"Already Exists: Job {project}:{location}.{job_id}")
            self._jobs[(project, job_id)] = job
        self._pool.submit(self._run, job)
        job.done.wait(_INSERT_WAIT_S)  # short jobs answer DONE at once, sparing the client its polling backoff
        return job.resource()

    def get(self, project: str, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get((project, job_id))
        if job is None:
            raise not_found(f"Not found: Job {project}:{job_id}")
        return job

    def list_jobs(self, project: str) -> list[dict[str, Any]]:
        with self._lock:
            jobs = [j for (p, _), j in self._jobs.items() if p == project]
        return [dict(j.resource(), state=j.state) for j in reversed(jobs)]

    def cancel(self, project: str, job_id: str) -> dict[str, Any]:
        job = self.get(project, job_id)
        job.cancelled = True
        if job.state == "RUNNING" and job.cursor is not None:
            job.cursor.interrupt()
        return {"kind": "bigquery#jobCancelResponse", "job": job.resource()}

    def query(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        """jobs.query: a query job created from the request, waited for up to timeoutMs."""
        request_id = body.get("requestId")
        job_id = self._requests.get(request_id) if request_id else None
        if job_id is None:
            config = {k: body[k] for k in ("query", "useLegacySql", "defaultDataset", "queryParameters",
                                           "parameterMode", "labels", "useQueryCache") if k in body}
            insert = {"jobReference": {"projectId": project, "location": body.get("location") or "US"},
                      "configuration": {"query": config, "dryRun": bool(body.get("dryRun"))}}
            if body.get("dryRun"):
                resource = self.insert(project, insert)
                return {"kind": "bigquery#queryResponse", "jobComplete": True, "totalRows": "0",
                        "schema": resource["statistics"]["query"].get("schema") or {"fields": []},
                        "totalBytesProcessed": "0"}
            job_id = self.insert(project, insert)["jobReference"]["jobId"]
            if request_id:
                self._requests[request_id] = job_id
        response = self.results(project, job_id, body.get("maxResults"), None, None,
                                body.get("timeoutMs", 10_000),
                                bool((body.get("formatOptions") or {}).get("useInt64Timestamp")))
        response["kind"] = "bigquery#queryResponse"
        return response

    def results(self, project: str, job_id: str, max_results: Any, page_token: str | None, start_index: Any,
                timeout_ms: Any, int64_timestamp: bool) -> dict[str, Any]:
        """jobs.getQueryResults: waits up to timeoutMs, then one page of rows."""
        job = self.get(project, job_id)
        job.done.wait(min(float(timeout_ms if timeout_ms is not None else 10_000), 60_000) / 1000)
        response: dict[str, Any] = {"kind": "bigquery#getQueryResultsResponse", "etag": job.created,
                                    "jobReference": job.reference(), "jobComplete": job.state == "DONE"}
        if job.state != "DONE":
            return response
        if job.error is not None:
            raise job.error
        if job.expired:
            raise not_found(f"Not found: results of job {project}:{job_id} have expired (the local stand-in keeps "
                            f"the latest {_KEPT_RESULTS})")
        out = job.outcome
        response.update(totalBytesProcessed="0", cacheHit=False)
        if out is not None and out.dml_rows is not None:
            response["numDmlAffectedRows"] = str(out.dml_rows)
        if out is None or out.result_table is None:
            return response
        response.update(totalRows=str(job.total_rows), schema=job.schema())
        start = int(page_token) if page_token else int(start_index or 0)
        limit = _PAGE_ROWS if max_results in (None, "") else min(int(max_results), _PAGE_ROWS)
        rows, next_start = self._page(job, out.result_table, start, limit, int64_timestamp)
        if rows:
            response["rows"] = rows
        if next_start < job.total_rows and limit > 0:
            response["pageToken"] = str(next_start)
        return response

    def table_rows(self, ref: TableRef, max_results: Any, page_token: str | None, start_index: Any,
                   int64_timestamp: bool) -> dict[str, Any]:
        """tabledata.list: one page of a table's rows."""
        with self.warehouse.cursor() as cur:
            described = cur.execute(f"SELECT * FROM {ref.duck()} LIMIT 0").description or []
            count = cur.execute(f"SELECT count(*) FROM {ref.duck()}").fetchone()
        view = Job(ref.project, "tabledata", "US", {}, result_schema=[(str(d[0]), d[1]) for d in described],
                   total_rows=int(count[0]) if count else 0)
        start = int(page_token) if page_token else int(start_index or 0)
        limit = _PAGE_ROWS if max_results in (None, "") else min(int(max_results), _PAGE_ROWS)
        rows, next_start = self._page(view, ref.duck(), start, limit, int64_timestamp)
        body: dict[str, Any] = {"kind": "bigquery#tableDataList", "etag": now_ms(),
                                "totalRows": str(view.total_rows)}
        if rows:
            body["rows"] = rows
        if next_start < view.total_rows and limit > 0:
            body["pageToken"] = str(next_start)
        return body

    # --- execution -----------------------------------------------------------------------------------------
    def _run(self, job: Job) -> None:
        if job.cancelled:
            self._finish(job, BigQueryError(400, "stopped", "Job execution was cancelled: User requested "
                                                            "cancellation"))
            return
        job.state, job.started = "RUNNING", now_ms()
        try:
            with self.warehouse.cursor() as cur:
                job.cursor = cur
                key = "r" + hashlib.sha256(f"{job.project}/{job.job_id}".encode()).hexdigest()[:32]
                if job.kind == "query":
                    job.outcome = self.executor.run_query(cur, job.project, key, job.configuration["query"])
                elif job.kind == "load":
                    job.outcome = self.transfers.run_load(cur, job.project, job.configuration["load"],
                                                         job.local_files or None)
                elif job.kind == "copy":
                    job.outcome = self.transfers.run_copy(cur, job.project, job.configuration["copy"])
                elif job.kind == "extract":
                    job.outcome = self.transfers.run_extract(cur, job.project, job.configuration["extract"],
                                                            self.warehouse.data_dir / "_tmp")
                else:
                    raise BigQueryError(400, "invalid", f"{job.kind} jobs are not supported by the local "
                                                        "BigQuery stand-in")
                if job.outcome.result_table:
                    described = cur.execute(f"SELECT * FROM {job.outcome.result_table} LIMIT 0").description
                    job.result_schema = [(str(d[0]), d[1]) for d in described or []]
                    count = cur.execute(f"SELECT count(*) FROM {job.outcome.result_table}").fetchone()
                    job.total_rows = int(count[0]) if count else 0
                    if job.outcome.result_table.startswith(quote_ident(RESULTS)):
                        self._retain(cur, job)
            self._finish(job, None)
        except BigQueryError as err:
            self._finish(job, err)
        except Exception as err:  # a bug must still end the job, with a message instead of a hang
            message = f"Local BigQuery stand-in failed: {type(err).__name__}: {err}".splitlines()[0]
            self._finish(job, BigQueryError(400, "invalid", message))
        finally:
            for path in job.local_files:
                path.unlink(missing_ok=True)
            self.executor.objects.trim()

    def _retain(self, cur: duckdb.DuckDBPyConnection, job: Job) -> None:
        """Keep the anonymous result tables of the latest jobs only (BigQuery expires them after a day)."""
        self._results.append(job)
        while len(self._results) > _KEPT_RESULTS:
            old = self._results.popleft()
            if old.outcome is not None and old.outcome.result_table:
                cur.execute(f"DROP TABLE IF EXISTS {old.outcome.result_table}")
                old.expired = True

    @staticmethod
    def _finish(job: Job, error: BigQueryError | None) -> None:
        job.error = error
        job.cursor = None
        job.ended = now_ms()
        job.started = job.started or job.ended
        job.state = "DONE"
        job.done.set()

    def _dry_run(self, project: str, job_id: str, location: str, configuration: dict[str, Any]) -> dict[str, Any]:
        if "query" not in configuration:
            raise invalid("dryRun is only supported for query jobs")
        with self.warehouse.cursor() as cur:
            info = self.executor.dry_run(cur, project, configuration["query"])
        job = Job(project, job_id, location, configuration, state="DONE")
        resource = job.resource()
        query: dict[str, Any] = {"statementType": info["statementType"], "totalBytesProcessed": "0",
                                 "totalBytesBilled": "0", "cacheHit": False}
        if info["schema"]:
            query["schema"] = info["schema"]
        resource["statistics"].update(query=query, totalBytesProcessed="0")
        return resource

    def _page(self, job: Job, table: str, start: int, limit: int, int64_timestamp: bool) -> tuple[list[str], int]:
        """One page of rows as JSON texts (`{"f": [{"v": ...}]}`), rendered by DuckDB."""
        if limit <= 0 or start >= job.total_rows:
            return [], start
        rows: list[str] = []
        size = 0
        with self.warehouse.cursor() as cur:
            cur.execute(f"SELECT {row_sql(job.result_schema, int64_timestamp)} FROM {table} "
                        f"LIMIT {int(limit)} OFFSET {int(start)}")
            while len(rows) < limit and size < _PAGE_BYTES:
                batch = cur.fetchmany(4096)
                if not batch:
                    break
                for (text,) in batch:
                    rows.append(str(text))
                    size += len(text)
                    if size >= _PAGE_BYTES:
                        break
        return rows, start + len(rows)
