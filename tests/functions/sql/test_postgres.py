"""The postgres function against a real embedded PostgreSQL and the GCS emulator."""

from __future__ import annotations

import base64
import json
from typing import Any

import psycopg
import pytest

from kestra_gcp.local.services.postgres import EmbeddedPostgres
from tests.functions.conftest import Invoke, execution
from tests.functions.sql.conftest import PgDatabase


def _rows(db: PgDatabase, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.url) as conn:
        return conn.execute(sql).fetchall()


def _read(uri: str) -> bytes:
    from kfn import storage

    return storage.blob(uri).download_as_bytes()


def _put(bucket: str, name: str, data: bytes) -> str:
    from kfn import storage

    storage.client().bucket(bucket).blob(name).upload_from_string(data)
    return f"gs://{bucket}/{name}"


# -- connection ---------------------------------------------------------------------------------------


def test_jdbc_urls_become_libpq_parameters() -> None:
    from kfn.errors import TaskError
    from kfn.postgres_conn import parse_jdbc_url

    spec = parse_jdbc_url("jdbc:postgresql://pgdatabase:5433/ny_taxi?user=root&sslmode=VERIFY_FULL&ssl=true")
    assert spec.params == {"host": "pgdatabase", "port": "5433", "dbname": "ny_taxi", "user": "root",
                           "sslmode": "verify-full"}
    assert spec.key == "pgdatabase:5433"
    spec = parse_jdbc_url("jdbc:postgresql://[::1],h2:6000/db?currentSchema=s1&ApplicationName=x")
    assert spec.params["host"] == "::1,h2" and spec.params["port"] == "5432,6000"
    assert spec.params["options"] == "-c search_path=s1" and spec.params["application_name"] == "x"
    assert parse_jdbc_url("jdbc:postgresql:ny_taxi").params == {
        "host": "localhost", "port": "5432", "dbname": "ny_taxi"}
    assert parse_jdbc_url("jdbc:postgresql://h/db?ssl=true").params["sslmode"] == "require"
    with pytest.raises(TaskError, match="jdbc:postgresql://"):
        parse_jdbc_url("postgresql://h/db")
    with pytest.raises(TaskError, match="not a number"):
        parse_jdbc_url("jdbc:postgresql://h:abc/db")


def test_connection_override_redirects_host_port(
    invoke: Invoke, pg_db: PgDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The flow names the docker-compose host; the deployment says where it really is (a secret URL here).
    target = f"postgresql://{pg_db.server.host}:{pg_db.server.port}"
    monkeypatch.setenv("SECRET_PG_TARGET", base64.b64encode(target.encode()).decode())
    monkeypatch.setenv("KESTRA_GCP_PG_CONNECTIONS", json.dumps({"pgdatabase:5432": "secret:PG_TARGET"}))
    task = pg_db.task("Query", url=f"jdbc:postgresql://pgdatabase:5432/{pg_db.name}",
                      sql="SELECT current_database() AS db, current_user AS who", fetchType="FETCH_ONE")
    status, body = invoke("postgres", task)
    assert status == 200, body
    assert body["outputs"]["row"] == {"db": pg_db.name, "who": pg_db.user}
    # a target URL carrying credentials wins over the flow's
    monkeypatch.setenv("KESTRA_GCP_PG_CONNECTIONS", json.dumps(
        {"pgdatabase:5432": f"postgresql://nobody_here:x@{pg_db.server.host}:{pg_db.server.port}/{pg_db.name}"}))
    status, body = invoke("postgres", task)
    assert status == 400
    assert 'password authentication failed for user "nobody_here"' in body["error"]["message"]


def test_wrong_password_is_a_task_error_and_refused_port_is_transient(
    invoke: Invoke, pg_db: PgDatabase
) -> None:
    status, body = invoke("postgres", pg_db.task("Query", password="wrong", sql="SELECT 1"))
    assert status == 400
    assert body["error"]["message"].startswith(f"postgres: cannot connect to {pg_db.name}@127.0.0.1:")
    assert "password authentication failed" in body["error"]["message"]
    from kestra_gcp.local.services.postgres import free_port

    url = f"jdbc:postgresql://127.0.0.1:{free_port()}/{pg_db.name}"
    status, body = invoke("postgres", pg_db.task("Query", url=url, sql="SELECT 1"))
    assert status == 503 and body["error"]["type"] == "TransientError"
    assert "Connection refused" in body["error"]["message"] or "connection" in body["error"]["message"].lower()


def test_secret_password_is_resolved_and_never_echoed(
    invoke: Invoke, pg_db: PgDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_PG_PASSWORD", base64.b64encode(pg_db.password.encode()).decode())
    monkeypatch.setenv("SECRET_SECRET_TABLE", base64.b64encode(b"hidden_tbl_9").decode())
    task = pg_db.task("Query", password="{{secret:PG_PASSWORD}}", sql="SELECT * FROM {{secret:SECRET_TABLE}}")
    status, body = invoke("postgres", task)
    assert status == 400
    assert body["error"]["message"] == 'postgres: relation "******" does not exist'


# -- Query / Queries ----------------------------------------------------------------------------------


def test_queries_outputs_one_entry_per_row_returning_statement(invoke: Invoke, pg_db: PgDatabase) -> None:
    sql = """
        CREATE TABLE trips (id int PRIMARY KEY, pickup timestamp, fare numeric(8,2), tag text);
        INSERT INTO trips VALUES (1, '2019-01-01 00:10:00', 12.50, 'a;b'), (2, NULL, 3, $$x;'y$$);
        -- a comment with a ; inside
        SELECT id, pickup, fare, tag FROM trips ORDER BY id;
        SELECT count(*) AS n FROM trips;
    """
    status, body = invoke("postgres", pg_db.task("Queries", sql=sql, fetchType="FETCH"))
    assert status == 200, body
    assert body["outputs"]["outputs"] == [
        {"rows": [{"id": 1, "pickup": "2019-01-01T00:10:00", "fare": 12.5, "tag": "a;b"},
                  {"id": 2, "pickup": None, "fare": 3, "tag": "x;'y"}], "size": 2},
        {"rows": [{"n": 2}], "size": 1},
    ]


def test_queries_roll_back_everything_when_a_statement_fails(invoke: Invoke, pg_db: PgDatabase) -> None:
    invoke("postgres", pg_db.task("Query", sql="CREATE TABLE t (a int)"))
    status, body = invoke("postgres", pg_db.task("Queries", sql="INSERT INTO t VALUES (1); SELECT * FROM nope"))
    assert status == 400
    assert body["error"] == {"type": "TaskError",
                             "message": 'postgres: relation "nope" does not exist (statement 2)'}
    assert _rows(pg_db, "SELECT count(*) FROM t") == [(0,)]
    # transaction: false commits statement by statement
    status, _ = invoke("postgres", pg_db.task("Queries", transaction=False,
                                              sql="INSERT INTO t VALUES (1); SELECT * FROM nope"))
    assert status == 400
    assert _rows(pg_db, "SELECT count(*) FROM t") == [(1,)]


def test_named_parameters_bind_safely(invoke: Invoke, pg_db: PgDatabase) -> None:
    sql = "SELECT :name AS name, :n::int + 1 AS n, '50%' AS pct, ':name' AS literal, 7 % 4 AS m"
    task = pg_db.task("Query", sql=sql, parameters={"name": "O'Reilly; DROP TABLE x", "n": "41"},
                      fetchType="FETCH_ONE")
    status, body = invoke("postgres", task)
    assert status == 200, body
    assert body["outputs"] == {"row": {"name": "O'Reilly; DROP TABLE x", "n": 42, "pct": "50%",
                                       "literal": ":name", "m": 3}, "size": 1}


def test_fetch_types(invoke: Invoke, pg_db: PgDatabase, state_bucket: str) -> None:
    invoke("postgres", pg_db.task("Query", sql="CREATE TABLE v AS SELECT g AS id, 'r' || g AS name, "
                                  "g * 1.5 AS x, (g % 2 = 0) AS even FROM generate_series(1, 3) g"))
    none = invoke("postgres", pg_db.task("Query", sql="SELECT * FROM v"))
    assert none == (200, {"outputs": {}})
    one = invoke("postgres", pg_db.task("Query", sql="SELECT * FROM v ORDER BY id", fetchOne=True))
    assert one[1]["outputs"] == {"row": {"id": 1, "name": "r1", "x": 1.5, "even": False}, "size": 1}
    empty = invoke("postgres", pg_db.task("Query", sql="SELECT * FROM v WHERE id < 0", fetchType="FETCH_ONE"))
    assert empty[1]["outputs"] == {"size": 0}
    exec_ref = execution()
    status, body = invoke("postgres", pg_db.task("Query", sql="SELECT * FROM v ORDER BY id", fetchType="STORE"),
                          exec_ref)
    assert status == 200, body
    uri = body["outputs"]["uri"]
    assert uri == f"gs://{state_bucket}/executions/zoomcamp/flow/{exec_ref['id']}/t/t.ion"
    assert body["outputs"]["size"] == 3
    lines = _read(uri).decode().splitlines()
    assert lines[0] == '{"id":1,"name":"r1","x":1.5,"even":false}'
    assert len(lines) == 3


def test_store_of_an_empty_result_writes_an_empty_file(invoke: Invoke, pg_db: PgDatabase, state_bucket: str) -> None:
    status, body = invoke("postgres", pg_db.task(
        "Queries", sql="CREATE TABLE e (a int); SELECT * FROM e", fetchType="STORE"))
    assert status == 200, body
    [out] = body["outputs"]["outputs"]
    assert out["size"] == 0 and out["uri"].endswith("/t/t-2.ion")
    assert _read(out["uri"]) == b""


def test_fetch_too_large_for_the_workflow_asks_for_store(invoke: Invoke, pg_db: PgDatabase) -> None:
    sql = "SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 5000) g"
    status, body = invoke("postgres", pg_db.task("Query", sql=sql, fetchType="FETCH"))
    assert status == 400
    assert "use fetchType: STORE" in body["error"]["message"]


def test_unknown_fetch_type_and_missing_sql(invoke: Invoke, pg_db: PgDatabase) -> None:
    status, body = invoke("postgres", pg_db.task("Query", sql="SELECT 1", fetchType="ALL"))
    assert status == 400 and "fetchType must be one of" in body["error"]["message"]
    status, body = invoke("postgres", pg_db.task("Query"))
    assert status == 400 and body["error"]["message"] == "postgres: task 't': property 'sql' is required"
    status, body = invoke("postgres", pg_db.task("Batch", sql="SELECT 1"))
    assert status == 400 and "not served by the postgres function" in body["error"]["message"]


# -- retries ------------------------------------------------------------------------------------------


def test_a_retried_writing_run_is_applied_once(invoke: Invoke, pg_db: PgDatabase) -> None:
    invoke("postgres", pg_db.task("Query", sql="CREATE TABLE r (a int)"))
    run = execution(taskRunId="run-1")
    task = pg_db.task("Queries", sql="INSERT INTO r VALUES (1); SELECT count(*) AS n FROM r", fetchType="FETCH")
    first = invoke("postgres", task, run)
    assert first == (200, {"outputs": {"outputs": [{"rows": [{"n": 1}], "size": 1}]}})
    assert invoke("postgres", task, run) == first  # the workflow re-sent the same request
    assert _rows(pg_db, "SELECT count(*) FROM r") == [(1,)]
    # another loop iteration of the same task in the same execution has another body: it runs
    loop = pg_db.task("Query", sql="INSERT INTO r VALUES (:v)", parameters={"v": 2})
    assert invoke("postgres", loop, run)[0] == 200
    assert invoke("postgres", {**loop, "parameters": {"v": 3}}, run)[0] == 200
    assert _rows(pg_db, "SELECT a FROM r ORDER BY a") == [(1,), (2,), (3,)]
    # a failed attempt records nothing: its retry runs
    bad = pg_db.task("Queries", sql="INSERT INTO r VALUES (4); SELECT 1/0")
    assert invoke("postgres", bad, run)[0] == 400
    assert _rows(pg_db, "SELECT count(*) FROM r WHERE a = 4") == [(0,)]


def test_roles_without_create_privilege_still_run(
    invoke: Invoke, pg_db: PgDatabase, postgres_server: EmbeddedPostgres
) -> None:
    with psycopg.connect(postgres_server.superuser_url(pg_db.name), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS reader_only")
        conn.execute("CREATE ROLE reader_only LOGIN PASSWORD 'r'")
        conn.execute(f"REVOKE CREATE ON DATABASE {pg_db.name} FROM PUBLIC")
    with psycopg.connect(pg_db.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.w (a int)")
        conn.execute("GRANT INSERT, SELECT ON public.w TO reader_only")
    status, body = invoke("postgres", pg_db.task("Query", username="reader_only", password="r",
                                                 sql="INSERT INTO w VALUES (1)"))
    assert status == 200, body
    assert _rows(pg_db, "SELECT count(*) FROM w") == [(1,)]



def test_ssl_properties_reach_libpq(invoke: Invoke, pg_db: PgDatabase) -> None:
    # the embedded server is built without TLS: libpq must refuse when the task requires it
    for props in ({"ssl": True}, {"sslMode": "VERIFY_FULL", "sslRootCert": "-----BEGIN CERTIFICATE-----\n"}):
        status, body = invoke("postgres", pg_db.task("Query", sql="SELECT 1", **props))
        assert status == 400, body
        assert body["error"]["message"].startswith(f"postgres: cannot connect to {pg_db.name}@127.0.0.1:")
        assert "SSL" in body["error"]["message"]
    status, body = invoke("postgres", pg_db.task("Query", sql="SELECT 1", sslMode="DISABLE", fetchOne=True))
    assert status == 200 and body["outputs"]["size"] == 1
    status, body = invoke("postgres", pg_db.task("Query", sql="SELECT 1", sslMode="SOMETIMES"))
    assert status == 400 and "sslMode must be one of" in body["error"]["message"]


def test_time_zone(invoke: Invoke, pg_db: PgDatabase) -> None:
    sql = "SELECT current_setting('TimeZone') AS tz, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS ts"
    status, body = invoke("postgres", pg_db.task("Query", sql=sql, timeZoneId="Europe/Paris", fetchOne=True))
    assert status == 200, body
    assert body["outputs"]["row"] == {"tz": "Europe/Paris", "ts": "2024-01-01T01:00:00+01:00"}
    status, body = invoke("postgres", pg_db.task("Query", sql=sql, timeZoneId="Mars/Olympus"))
    assert status == 400 and body["error"]["message"].startswith("postgres: timeZoneId 'Mars/Olympus': ")


def test_unknown_host_names_the_override(invoke: Invoke, pg_db: PgDatabase,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KESTRA_GCP_PG_CONNECTIONS", raising=False)
    task = pg_db.task("Query", url="jdbc:postgresql://pgdatabase.invalid:5432/ny_taxi", sql="SELECT 1")
    status, body = invoke("postgres", task)
    assert status == 400
    assert body["error"]["message"].startswith("postgres: cannot connect to ny_taxi@pgdatabase.invalid:5432: ")
    assert body["error"]["message"].endswith(
        "(map pgdatabase.invalid:5432 to the real server in KESTRA_GCP_PG_CONNECTIONS)")
