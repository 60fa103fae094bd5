"""The BigQuery v2 REST routes (`/bigquery/v2/projects/...`) used by google-cloud-bigquery, as a Flask app."""

from __future__ import annotations

import json
from typing import Any

import duckdb
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from .errors import BigQueryError, duck_error, invalid, not_found
from .jobs import JobService
from .sql import TableRef
from .transfers import insert_all
from .uploads import Uploads
from .warehouse import Warehouse, now_ms

_PAGE = 1000


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None and request.data:
        raise invalid("Invalid JSON payload received")
    return data or {}


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("true", "1")


def _with_rows(body: dict[str, Any]) -> Response:
    """JSON response whose `rows` are already JSON texts (rendered by DuckDB), spliced in without re-parsing."""
    rows = body.pop("rows", None)
    text = json.dumps(body)
    if rows:
        text = text[:-1] + ', "rows": [' + ",".join(rows) + "]}"
    return Response(text, mimetype="application/json")


def _paged(items: list[dict[str, Any]], key: str, kind: str) -> dict[str, Any]:
    start = int(request.args.get("pageToken") or 0)
    size = int(request.args.get("maxResults") or _PAGE)
    page = items[start:start + size]
    body: dict[str, Any] = {"kind": kind, "etag": now_ms(), key: page}
    if key == "tables":
        body["totalItems"] = len(items)
    if start + size < len(items):
        body["nextPageToken"] = str(start + size)
    return body


def create_app(warehouse: Warehouse, jobs: JobService, uploads: Uploads) -> Flask:
    app = Flask("kestra_gcp.standins.bigquery")
    prefix = "/bigquery/v2/projects/<project>"

    @app.errorhandler(BigQueryError)
    def bigquery_error(err: BigQueryError) -> tuple[Response, int]:
        return jsonify(err.http_body()), err.code

    @app.errorhandler(duckdb.Error)
    def duckdb_error(err: duckdb.Error) -> tuple[Response, int]:
        wrapped = duck_error(err, 1, 1)
        return jsonify(wrapped.http_body()), wrapped.code

    @app.errorhandler(404)
    def unknown_route(_: Exception) -> tuple[Response, int]:
        err = not_found(f"Not found: {request.method} {request.path} (not served by the local BigQuery stand-in)")
        return jsonify(err.http_body()), 404

    @app.errorhandler(Exception)
    def other_error(err: Exception) -> tuple[Response, int]:
        # 4xx, not 5xx: the client would retry a 5xx for minutes, and a stand-in bug will not go away.
        if isinstance(err, HTTPException):
            wrapped = BigQueryError(err.code or 400, "invalid", f"{err.name}: {request.method} {request.path}")
        else:
            first = f"{type(err).__name__}: {err}".splitlines()[0]
            wrapped = BigQueryError(400, "invalid", f"Local BigQuery stand-in failed: {first}")
        return jsonify(wrapped.http_body()), wrapped.code

    # --- datasets ------------------------------------------------------------------------------------------
    @app.post(f"{prefix}/datasets")
    def insert_dataset(project: str) -> tuple[Response, int]:
        body = _body()
        ref = body.get("datasetReference") or {}
        if not ref.get("datasetId"):
            raise invalid("Required parameter is missing: datasetReference.datasetId")
        with warehouse.cursor() as cur:
            return jsonify(warehouse.create_dataset(cur, ref.get("projectId") or project, ref["datasetId"],
                                                    body)), 200

    @app.get(f"{prefix}/datasets")
    def list_datasets(project: str) -> Response:
        with warehouse.cursor() as cur:
            items = [{"kind": d["kind"], "id": d["id"], "datasetReference": d["datasetReference"],
                      "location": d.get("location", "US"), "labels": d.get("labels", {})}
                     for d in warehouse.list_datasets(cur, project)]
        return jsonify(_paged(items, "datasets", "bigquery#datasetList"))

    @app.get(f"{prefix}/datasets/<dataset>")
    def get_dataset(project: str, dataset: str) -> Response:
        with warehouse.cursor() as cur:
            return jsonify(warehouse.dataset_resource(cur, project, dataset))

    @app.route(f"{prefix}/datasets/<dataset>", methods=["PATCH", "PUT"])
    def patch_dataset(project: str, dataset: str) -> Response:
        with warehouse.cursor() as cur:
            return jsonify(warehouse.update_dataset(cur, project, dataset, _body()))

    @app.delete(f"{prefix}/datasets/<dataset>")
    def delete_dataset(project: str, dataset: str) -> tuple[str, int]:
        with warehouse.cursor() as cur:
            warehouse.delete_dataset(cur, project, dataset, _flag("deleteContents"))
        return "", 204

    # --- tables --------------------------------------------------------------------------------------------
    @app.get(f"{prefix}/datasets/<dataset>/tables")
    def list_tables(project: str, dataset: str) -> Response:
        with warehouse.cursor() as cur:
            return jsonify(_paged(warehouse.list_tables(cur, project, dataset), "tables", "bigquery#tableList"))

    @app.get(f"{prefix}/datasets/<dataset>/tables/<table>")
    def get_table(project: str, dataset: str, table: str) -> Response:
        with warehouse.cursor() as cur:
            return jsonify(warehouse.table_resource(cur, TableRef(project, dataset, table)))

    @app.post(f"{prefix}/datasets/<dataset>/tables")
    def insert_table(project: str, dataset: str) -> Response:
        body = _body()
        ref_body = body.get("tableReference") or {}
        if not ref_body.get("tableId"):
            raise invalid("Required parameter is missing: tableReference.tableId")
        ref = TableRef(ref_body.get("projectId") or project, ref_body.get("datasetId") or dataset,
                       ref_body["tableId"])
        with warehouse.cursor() as cur:
            warehouse.create_table(cur, ref, body)
            return jsonify(warehouse.table_resource(cur, ref))

    @app.route(f"{prefix}/datasets/<dataset>/tables/<table>", methods=["PATCH", "PUT"])
    def patch_table(project: str, dataset: str, table: str) -> Response:
        ref = TableRef(project, dataset, table)
        with warehouse.cursor() as cur:
            warehouse.update_table(cur, ref, _body())
            return jsonify(warehouse.table_resource(cur, ref))

    @app.delete(f"{prefix}/datasets/<dataset>/tables/<table>")
    def delete_table(project: str, dataset: str, table: str) -> tuple[str, int]:
        ref = TableRef(project, dataset, table)
        with warehouse.cursor() as cur:
            warehouse.open_project(project)
            warehouse.require_dataset(cur, project, dataset)
            cur.execute("BEGIN")
            dropped = warehouse.drop_object(cur, ref)
            cur.execute("COMMIT")
        if not dropped:
            raise not_found(f"Not found: Table {ref.bq_id()}")
        return "", 204

    @app.get(f"{prefix}/datasets/<dataset>/tables/<table>/data")
    def list_rows(project: str, dataset: str, table: str) -> Response:
        ref = TableRef(project, dataset, table)
        with warehouse.cursor() as cur:
            warehouse.table_resource(cur, ref)
        return _with_rows(jobs.table_rows(ref, request.args.get("maxResults"), request.args.get("pageToken"),
                                       request.args.get("startIndex"),
                                       _flag("formatOptions.useInt64Timestamp")))

    @app.post(f"{prefix}/datasets/<dataset>/tables/<table>/insertAll")
    def insert_all_rows(project: str, dataset: str, table: str) -> Response:
        ref = TableRef(project, dataset, table)
        with warehouse.cursor() as cur:
            if warehouse.object_kind(cur, ref) != "TABLE":
                warehouse.require_dataset(cur, project, dataset)
                raise not_found(f"Not found: Table {ref.bq_id()}")
            return jsonify(insert_all(warehouse, cur, ref, _body(), warehouse.data_dir / "_tmp"))

    # --- media uploads (load_table_from_file) --------------------------------------------------------------
    upload_path = "/upload/bigquery/v2/projects/<project>/jobs"

    @app.post(upload_path)
    def upload_start(project: str) -> Response | tuple[Response, int]:
        kind = request.args.get("uploadType")
        if kind == "multipart":
            metadata, path = uploads.multipart(request.content_type or "", request.get_data())
            return jsonify(jobs.insert(project, metadata, [path]))
        if kind == "resumable":
            upload_id = uploads.start(project, _body())
            response = jsonify({})
            response.headers["Location"] = f"{request.host_url.rstrip('/')}{request.path}" \
                                           f"?uploadType=resumable&upload_id={upload_id}"
            return response
        raise invalid(f"Unsupported uploadType {kind!r}")

    @app.put(upload_path)
    def upload_chunk(project: str) -> Response | tuple[Response, int]:
        session = uploads.put(request.args.get("upload_id", ""), request.headers.get("Content-Range"),
                              request.stream)
        if session is None:
            response = jsonify({})
            response.status_code = 308
            received = uploads.received(request.args.get("upload_id", ""))
            if received:
                response.headers["Range"] = f"bytes=0-{received - 1}"
            return response
        return jsonify(jobs.insert(session.project, session.metadata, [session.path]))

    # --- jobs ----------------------------------------------------------------------------------------------
    @app.post(f"{prefix}/jobs")
    def insert_job(project: str) -> Response:
        return jsonify(jobs.insert(project, _body()))

    @app.get(f"{prefix}/jobs")
    def list_jobs(project: str) -> Response:
        return jsonify(_paged(jobs.list_jobs(project), "jobs", "bigquery#jobList"))

    @app.get(f"{prefix}/jobs/<job_id>")
    def get_job(project: str, job_id: str) -> Response:
        return jsonify(jobs.get(project, job_id).resource())

    @app.post(f"{prefix}/jobs/<job_id>/cancel")
    def cancel_job(project: str, job_id: str) -> Response:
        return jsonify(jobs.cancel(project, job_id))

    @app.get(f"{prefix}/queries/<job_id>")
    def get_query_results(project: str, job_id: str) -> Response:
        args = request.args
        return _with_rows(jobs.results(project, job_id, args.get("maxResults"), args.get("pageToken"),
                                    args.get("startIndex"), args.get("timeoutMs"),
                                    _flag("formatOptions.useInt64Timestamp")))

    @app.post(f"{prefix}/queries")
    def query(project: str) -> Response:
        return _with_rows(jobs.query(project, _body()))

    return app
