"""The `bigquery` function: io.kestra.plugin.gcp.bigquery Query, CreateDataset, LoadFromGcs and Load
(google-cloud-bigquery; locally pointed at the stand-in by KESTRA_GCP_BIGQUERY_ENDPOINT).

Jobs are idempotent across retries of the same task run: the job id is derived from the execution,
task run id and the task body as sent, so a retry after a lost response finds the job it already started (running or
done) instead of running the SQL twice; only a job that failed is started again under a new id.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from typing import TYPE_CHECKING, Any

from kfn import storage
from kfn.durations import parse_duration
from kfn.errors import Conflict, FunctionError, NotFound, TaskError, TransientError
from kfn.postgres import fetch_type
from kfn.postgres_rows import InlineRows, ion_line, json_row
from kfn.request import Call

if TYPE_CHECKING:
    from google.cloud import bigquery

_clients: dict[tuple[str | None, str | None, str | None], bigquery.Client] = {}
_lock = threading.Lock()
_JOB_ATTEMPTS = 10
_LABEL = re.compile(r"[^a-z0-9_-]")
_DISPOSITIONS = {
    "writeDisposition": ("WRITE_TRUNCATE", "WRITE_APPEND", "WRITE_EMPTY"),
    "createDisposition": ("CREATE_IF_NEEDED", "CREATE_NEVER"),
}
_FORMATS = {"CSV": "CSV", "JSON": "NEWLINE_DELIMITED_JSON", "AVRO": "AVRO", "PARQUET": "PARQUET", "ORC": "ORC"}


def client(call: Call) -> bigquery.Client:
    """One client per (project, location) per instance; anonymous against the local stand-in."""
    project = call.prop("projectId") or os.environ.get("GOOGLE_CLOUD_PROJECT") or None
    location = call.prop("location")
    endpoint = os.environ.get("KESTRA_GCP_BIGQUERY_ENDPOINT")
    key = (project, location, endpoint)
    with _lock:
        found = _clients.get(key)
        if found is not None:
            return found
        from google.cloud import bigquery

        if endpoint:
            from google.auth.credentials import AnonymousCredentials

            made = bigquery.Client(project=project, location=location, credentials=AnonymousCredentials(),
                                   client_options={"api_endpoint": endpoint})
        else:
            made = bigquery.Client(project=project, location=location)
        _clients[key] = made
        return made


def _label(value: str) -> str:
    return _LABEL.sub("_", value.replace(".", "_").lower())[:63]


def _labels(call: Call) -> dict[str, str]:
    execution = call.need_execution()
    labels = {"kestra_namespace": _label(execution.namespace), "kestra_flow_id": _label(execution.flow_id),
              "kestra_execution_id": _label(execution.id), "kestra_task_id": _label(call.task_id)}
    extra = call.prop("labels", {})
    if not isinstance(extra, dict):
        raise TaskError("labels must be a map of key -> value")
    labels.update({str(k): str(v) for k, v in extra.items()})
    return labels


def _job_id_base(call: Call) -> str:
    """Same task run (execution, task run id, task body as sent: loop iterations differ) -> same id."""
    execution = call.need_execution()
    task = call.body.get("task", call.task) if call.body else call.task
    material = json.dumps([execution.id, execution.task_run_id or "", task], sort_keys=True, default=str)
    return f"kestra_{_label(call.task_id)[:40]}_{hashlib.sha256(material.encode()).hexdigest()[:32]}"


def _enum(call: Call, name: str, allowed: tuple[str, ...]) -> str | None:
    value = call.prop(name)
    if value is None:
        return None
    text = str(value).upper()
    if text not in allowed:
        raise TaskError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return text


def table_ref(text: object, project: str | None, what: str = "destinationTable") -> str:
    """`dataset.table` or `project.dataset.table` -> fully qualified (Kestra's BigQueryService.tableId)."""
    parts = str(text).replace(":", ".").strip("`").split(".") if text else []
    if len(parts) == 2 and project:
        parts = [project, *parts]
    if len(parts) != 3 or not all(parts):
        raise TaskError(f"{what}: invalid table name {text!r} (expected project.dataset.table or dataset.table)")
    return ".".join(parts)


def bq_error(exc: Exception) -> FunctionError:
    """A google-api-core / job error as the contract's error, with BigQuery's own message."""
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.GoogleAPICallError):
        errors = getattr(exc, "errors", None) or []
        message = next((e.get("message") for e in errors if isinstance(e, dict) and e.get("message")), None)
        message = (message or exc.message or str(exc)).strip().splitlines()[0]
        code = int(exc.code) if isinstance(exc.code, int) else 500
        if code == 404:
            return NotFound(message)
        if code == 409:
            return Conflict(message)
        if code == 429 or code >= 500:
            return TransientError(message)
        return TaskError(message)
    if isinstance(exc, FunctionError):
        return exc
    return TransientError(f"{type(exc).__name__}: {exc}")


def _start_job(call: Call, bq: bigquery.Client, create: Any) -> Any:
    """Start the task run's job, or adopt the one an earlier attempt of this run already started."""
    from google.api_core import exceptions as gexc

    base = _job_id_base(call)
    for attempt in range(_JOB_ATTEMPTS):
        job_id = base if attempt == 0 else f"{base}_{attempt + 1}"
        try:
            return create(job_id)
        except gexc.Conflict:
            existing = bq.get_job(job_id, location=call.prop("location"))
            if existing.state == "DONE" and existing.error_result:
                continue  # that attempt failed: start afresh under the next id
            return existing
    raise TaskError(f"{_JOB_ATTEMPTS} jobs of this task run already failed")


def _query(call: Call) -> dict[str, Any]:
    from google.cloud import bigquery

    bq = client(call)
    kind = fetch_type(call)
    config = bigquery.QueryJobConfig()
    config.use_legacy_sql = call.flag("legacySql", False) or call.flag("useLegacySql", False)
    config.dry_run = call.flag("dryRun", False)
    config.labels = _labels(call)
    if call.prop("destinationTable"):
        config.destination = table_ref(call.prop("destinationTable"), bq.project)
    for name, allowed in _DISPOSITIONS.items():
        value = _enum(call, name, allowed)
        if value is not None:
            setattr(config, "write_disposition" if name == "writeDisposition" else "create_disposition", value)
    if call.prop("defaultDataset"):
        dataset = str(call.prop("defaultDataset"))
        config.default_dataset = dataset if "." in dataset else f"{bq.project}.{dataset}"
    if call.prop("priority"):
        config.priority = _enum(call, "priority", ("INTERACTIVE", "BATCH"))
    if call.prop("clusteringFields"):
        config.clustering_fields = list(call.prop("clusteringFields"))
    if call.prop("timePartitioningField"):
        config.time_partitioning = bigquery.TimePartitioning(
            type_=str(call.prop("timePartitioningType", "DAY")).upper(), field=str(call.prop("timePartitioningField")))
    if call.prop("schemaUpdateOptions"):
        config.schema_update_options = list(call.prop("schemaUpdateOptions"))
    for prop, attr in (("useQueryCache", "use_query_cache"), ("allowLargeResults", "allow_large_results"),
                       ("flattenResults", "flatten_results")):
        if call.prop(prop) is not None:
            setattr(config, attr, call.flag(prop, False))
    if call.prop("maximumBytesBilled") is not None:
        config.maximum_bytes_billed = int(call.prop("maximumBytesBilled"))
    if call.prop("jobTimeout") is not None:
        config.job_timeout_ms = int(parse_duration(call.prop("jobTimeout"), "jobTimeout").total_seconds() * 1000)
    sql = str(call.require("sql"))
    location = call.prop("location")

    if config.dry_run:
        job = bq.query(sql, job_config=config, location=location)
        return {"jobId": job.job_id}
    job = _start_job(call, bq, lambda job_id: bq.query(sql, job_config=config, job_id=job_id, location=location,
                                                            job_retry=None))
    page_size = int(call.prop("fetchSize", 10000))
    result = job.result(page_size=page_size, max_results=call.prop("maxResults"))
    outputs: dict[str, Any] = {"jobId": job.job_id}
    if kind != "NONE":
        columns = [f.name for f in (result.schema or [])]
        if kind == "STORE":
            uri = storage.execution_uri(call.need_execution(), call.task_id, f"{call.task_id}.ion")
            count = 0
            with storage.open_write(uri, what="STORE") as out:
                for row in result:
                    out.write(ion_line(columns, row.values()))
                    count += 1
            outputs.update(uri=uri, size=count)
        elif kind == "FETCH_ONE":
            first = next(iter(result), None)
            outputs.update(row=json_row(columns, first.values()) if first is not None else {},
                           size=1 if first is not None else 0)
        else:
            inline = InlineRows("query")
            for row in result:
                inline.add(json_row(columns, row.values()))
            outputs.update(rows=inline.rows, size=len(inline.rows))
    destination = job.destination
    if destination is not None:
        outputs["destinationTable"] = {"project": destination.project, "dataset": destination.dataset_id,
                                       "table": destination.table_id}
    return outputs


def _dataset_output(dataset: Any) -> dict[str, Any]:
    return {"dataset": dataset.dataset_id, "project": dataset.project, "friendlyName": dataset.friendly_name,
            "description": dataset.description, "location": dataset.location}


def _create_dataset(call: Call) -> dict[str, Any]:
    from google.api_core import exceptions as gexc
    from google.cloud import bigquery

    bq = client(call)
    name = call.prop("dataset") or call.require("name")  # `dataset`: the name older flows use
    if_exists = _enum(call, "ifExists", ("ERROR", "UPDATE", "SKIP")) or "ERROR"
    dataset = bigquery.Dataset(f"{bq.project}.{name}" if "." not in str(name) else str(name))
    dataset.location = call.prop("location")
    dataset.description = call.prop("description")
    dataset.friendly_name = call.prop("friendlyName")
    if call.prop("labels"):
        dataset.labels = {str(k): str(v) for k, v in dict(call.prop("labels")).items()}
    if call.prop("defaultTableLifetime") is not None:
        dataset.default_table_expiration_ms = int(call.prop("defaultTableLifetime")) * 1000
    if call.prop("defaultPartitionExpirationMs") is not None:
        dataset.default_partition_expiration_ms = int(call.prop("defaultPartitionExpirationMs"))
    try:  # get first: without project-level create permission BigQuery answers 403, not 409, when it exists
        bq.get_dataset(dataset.reference)
    except gexc.NotFound:
        try:
            return _dataset_output(bq.create_dataset(dataset))
        except gexc.Conflict:
            pass  # created meanwhile by someone else
    if if_exists == "SKIP":
        return _dataset_output(bq.get_dataset(dataset.reference))
    if if_exists == "UPDATE":
        fields = [f for f, v in (("description", dataset.description), ("friendly_name", dataset.friendly_name),
                                 ("labels", dataset.labels or None),
                                 ("default_table_expiration_ms", dataset.default_table_expiration_ms))
                  if v is not None]
        return _dataset_output(bq.update_dataset(dataset, fields))
    raise Conflict(f"dataset {dataset.project}.{dataset.dataset_id} already exists "
                   "(set ifExists: SKIP or UPDATE)")


def _schema(value: Any) -> list[Any]:
    from google.cloud import bigquery

    if not isinstance(value, dict) or not isinstance(value.get("fields"), list):
        raise TaskError("schema must be a map with a 'fields' list")

    def field(item: dict[str, Any]) -> Any:
        sub = item.get("fields")
        extra: dict[str, Any] = {"description": str(item["description"])} if item.get("description") else {}
        return bigquery.SchemaField(str(item["name"]), str(item["type"]).upper(), mode=item.get("mode", "NULLABLE"),
                                    fields=[field(s) for s in sub] if sub else (), **extra)

    return [field(f) for f in value["fields"]]


def _load(call: Call, sources: list[str]) -> dict[str, Any]:
    from google.cloud import bigquery

    bq = client(call)
    destination = table_ref(call.require("destinationTable"), bq.project)
    config = bigquery.LoadJobConfig()
    config.labels = _labels(call)
    fmt = str(call.prop("format", "CSV")).upper()
    if fmt not in _FORMATS:
        raise TaskError(f"format must be one of {', '.join(_FORMATS)}, got {call.prop('format')!r}")
    config.source_format = _FORMATS[fmt]
    csv = call.prop("csvOptions", {}) or {}
    if fmt == "CSV":
        if csv.get("skipLeadingRows") is not None:
            config.skip_leading_rows = int(csv["skipLeadingRows"])
        if csv.get("fieldDelimiter") is not None:
            config.field_delimiter = str(csv["fieldDelimiter"])
        if csv.get("quote") is not None:
            config.quote_character = str(csv["quote"])
        if csv.get("encoding") is not None:
            config.encoding = str(csv["encoding"])
        if csv.get("allowJaggedRows") is not None:
            config.allow_jagged_rows = bool(csv["allowJaggedRows"])
        if csv.get("allowQuotedNewLines") is not None:
            config.allow_quoted_newlines = bool(csv["allowQuotedNewLines"])
    for name in _DISPOSITIONS:
        value = _enum(call, name, _DISPOSITIONS[name])
        if value is not None:
            setattr(config, "write_disposition" if name == "writeDisposition" else "create_disposition", value)
    if call.prop("autodetect") is not None:
        config.autodetect = call.flag("autodetect", False)
    if call.prop("ignoreUnknownValues") is not None:
        config.ignore_unknown_values = call.flag("ignoreUnknownValues", False)
    if call.prop("maxBadRecords") is not None:
        config.max_bad_records = int(call.prop("maxBadRecords"))
    if call.prop("schema") is not None:
        config.schema = _schema(call.prop("schema"))
    if call.prop("timePartitioningField"):
        config.time_partitioning = bigquery.TimePartitioning(
            type_=str(call.prop("timePartitioningType", "DAY")).upper(), field=str(call.prop("timePartitioningField")))
    if call.prop("clusteringFields"):
        config.clustering_fields = list(call.prop("clusteringFields"))
    location = call.prop("location")
    job = _start_job(call, bq, lambda job_id: bq.load_table_from_uri(
        sources, destination, job_config=config, job_id=job_id, location=location))
    job.result()
    return {"jobId": job.job_id, "destinationTable": destination, "rows": job.output_rows}


def _sources(call: Call) -> list[str]:
    value = call.require("from")
    sources = [value] if isinstance(value, str) else value
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        raise TaskError("from must be a gs:// URI or a list of them")
    for uri in sources:
        storage.parse_gs_uri(uri, "from")
    return sources


def handle(call: Call) -> dict[str, Any]:
    kind = call.short_type
    try:
        if kind == "Query":
            return _query(call)
        if kind == "CreateDataset":
            return _create_dataset(call)
        if kind in ("LoadFromGcs", "Load"):
            return _load(call, _sources(call))
    except FunctionError:
        raise
    except Exception as exc:
        from google.api_core import exceptions as gexc

        if isinstance(exc, gexc.GoogleAPICallError):
            raise bq_error(exc) from exc
        raise
    raise TaskError(f"task type {call.type} is not served by the bigquery function")
