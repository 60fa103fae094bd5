"""postgres CopyIn / CopyOut: streamed from/to the GCS emulator into a real PostgreSQL, retry and kill safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import psycopg

from tests.functions.conftest import FUNCTIONS_DIR, Invoke, execution
from tests.functions.sql.conftest import PgDatabase


def _sql(db: PgDatabase, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.url, autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


def _put(bucket: str, name: str, data: bytes) -> str:
    from kfn import storage

    storage.client().bucket(bucket).blob(name).upload_from_string(data)
    return f"gs://{bucket}/{name}"


TAXI = (
    b"VendorID,tpep_pickup_datetime,passenger_count,fare_amount,store_and_fwd_flag\n"
    b"1,2019-01-01 00:46:40,1,7.0,N\n"
    b"2,2019-01-01 00:59:47,,14.0,\n"
    b'1,2019-01-01 00:21:28,1,"4.5",""\n'
)
TAXI_DDL = ("CREATE TABLE taxi (VendorID int, tpep_pickup_datetime timestamp, passenger_count int, "
            "fare_amount double precision, store_and_fwd_flag text)")


def test_copy_in_csv_with_header_as_the_course_flow(invoke: Invoke, pg_db: PgDatabase, state_bucket: str) -> None:
    _sql(pg_db, TAXI_DDL)
    source = _put(state_bucket, "executions/zoomcamp/flow/e1/extract/yellow.csv", TAXI)
    task = pg_db.task("CopyIn", table="taxi", format="CSV", header=True, delimiter=",", **{"from": source})
    status, body = invoke("postgres", task)
    assert status == 200, body
    assert body["outputs"] == {"rowCount": 3}
    assert _sql(pg_db, "SELECT VendorID, passenger_count, fare_amount, store_and_fwd_flag FROM taxi ORDER BY 1, 3") \
        == [(1, 1, 4.5, ""), (1, 1, 7.0, "N"), (2, None, 14.0, None)]


def test_copy_in_format_options(invoke: Invoke, pg_db: PgDatabase, state_bucket: str) -> None:
    _sql(pg_db, "CREATE TABLE o (a int, b text, c text DEFAULT 'dflt')")
    text = _put(state_bucket, "in/o.txt", b"1|NA\n2|x\\|y\n")
    status, body = invoke("postgres", pg_db.task("CopyIn", table="o", columns=["a", "b"], delimiter="|",
                                                 nullString="NA", **{"from": text}))
    assert status == 200 and body["outputs"]["rowCount"] == 2, body
    csv = _put(state_bucket, "in/o.csv", b"a;b\n3;''\n4;'q;'''\n")
    status, body = invoke("postgres", pg_db.task("CopyIn", table="o", columns=["a", "b"], format="CSV", header=True,
                                                 delimiter=";", quote="'", forceNull=["b"], **{"from": csv}))
    assert status == 200 and body["outputs"]["rowCount"] == 2, body
    assert _sql(pg_db, "SELECT a, b, c FROM o ORDER BY a") == [
        (1, None, "dflt"), (2, "x|y", "dflt"), (3, None, "dflt"), (4, "q;'", "dflt")]


def test_copy_in_bad_row_leaves_the_table_unchanged(invoke: Invoke, pg_db: PgDatabase, state_bucket: str) -> None:
    _sql(pg_db, TAXI_DDL)
    _sql(pg_db, "INSERT INTO taxi (VendorID) VALUES (9)")
    source = _put(state_bucket, "in/bad.csv", TAXI + b"x,2019-01-01 00:00:00,1,1.0,N\n")
    status, body = invoke("postgres", pg_db.task("CopyIn", table="taxi", format="CSV", header=True,
                                                 **{"from": source}))
    assert status == 400
    assert body["error"]["message"] == (
        'postgres: invalid input syntax for type integer: "x" (COPY taxi, line 5, column vendorid: "x")')
    assert _sql(pg_db, "SELECT VendorID FROM taxi") == [(9,)]


def test_copy_in_missing_object_and_table(invoke: Invoke, pg_db: PgDatabase, state_bucket: str) -> None:
    missing = f"gs://{state_bucket}/nope.csv"
    status, body = invoke("postgres", pg_db.task("CopyIn", table="taxi", **{"from": missing}))
    assert status == 404
    assert body["error"] == {"type": "NotFound", "message": f"postgres: from: object {missing} does not exist"}
    source = _put(state_bucket, "in/a.csv", TAXI)
    status, body = invoke("postgres", pg_db.task("CopyIn", table="no_table", format="CSV", **{"from": source}))
    assert status == 400 and body["error"]["message"] == 'postgres: relation "no_table" does not exist'


def test_copy_in_retried_with_the_same_run_loads_once(invoke: Invoke, pg_db: PgDatabase, state_bucket: str) -> None:
    _sql(pg_db, TAXI_DDL)
    source = _put(state_bucket, "in/r.csv", TAXI)
    task = pg_db.task("CopyIn", table="taxi", format="CSV", header=True, **{"from": source})
    run = execution(taskRunId="tr-1")
    assert invoke("postgres", task, run) == (200, {"outputs": {"rowCount": 3}})
    assert invoke("postgres", task, run) == (200, {"outputs": {"rowCount": 3}})
    assert _sql(pg_db, "SELECT count(*) FROM taxi") == [(3,)]
    # another execution is another load
    assert invoke("postgres", task, execution())[0] == 200
    assert _sql(pg_db, "SELECT count(*) FROM taxi") == [(6,)]


_KILL_SCRIPT = textwrap.dedent("""
    import json, sys
    from kfn.request import Call, ExecutionRef
    from kfn import postgres
    task, exec_ref = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    postgres.handle(Call("postgres", task, ExecutionRef.model_validate(exec_ref)))
    print("finished")
""")


def test_killing_copy_in_midway_leaves_the_table_unchanged(pg_db: PgDatabase, state_bucket: str) -> None:
    _sql(pg_db, "CREATE TABLE k (a int)")
    _sql(pg_db, "INSERT INTO k VALUES (-1)")
    # a row trigger that sleeps makes the load slow enough to be killed in the middle
    _sql(pg_db, "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_sleep(0.002); RETURN NEW; END $$")
    _sql(pg_db, "CREATE TRIGGER slow BEFORE INSERT ON k FOR EACH ROW EXECUTE FUNCTION slow()")
    source = _put(state_bucket, "in/k.txt", b"".join(b"%d\n" % i for i in range(20000)))
    task = pg_db.task("CopyIn", table="k", **{"from": source})
    env = dict(os.environ, PYTHONPATH=str(FUNCTIONS_DIR))
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, json.dumps(task), json.dumps(execution())],
                            env=env, cwd=FUNCTIONS_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        processed = 0
        while time.monotonic() < deadline and processed < 200:
            rows = _sql(pg_db, "SELECT tuples_processed FROM pg_stat_progress_copy WHERE relid = 'k'::regclass")
            processed = rows[0][0] if rows else 0
            time.sleep(0.05)
        assert processed >= 200, "the load never started"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # the server notices the dead client, aborts the COPY and releases the table
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _sql(
            pg_db, "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY k%' AND pid <> pg_backend_pid()"):
        time.sleep(0.1)
    assert _sql(pg_db, "SELECT a FROM k") == [(-1,)]


def test_copy_out_table_and_query(invoke: Invoke, pg_db: PgDatabase, state_bucket: str) -> None:
    from kfn import storage

    _sql(pg_db, "CREATE TABLE c AS SELECT g AS id, 'n' || g AS name FROM generate_series(1, 3) g")
    exec_ref = execution()
    status, body = invoke("postgres", pg_db.task("CopyOut", table="c", columns=["name", "id"], format="CSV",
                                                 header=True), exec_ref)
    assert status == 200, body
    assert body["outputs"]["rowCount"] == 3
    assert body["outputs"]["uri"] == f"gs://{state_bucket}/executions/zoomcamp/flow/{exec_ref['id']}/t/t.csv"
    assert storage.blob(body["outputs"]["uri"]).download_as_bytes() == b"name,id\nn1,1\nn2,2\nn3,3\n"
    status, body = invoke("postgres", pg_db.task("CopyOut", sql="SELECT id FROM c WHERE id > 1;",
                                                 delimiter="\\t", nullString=""))
    assert status == 200 and body["outputs"]["rowCount"] == 2, body
    assert storage.blob(body["outputs"]["uri"]).download_as_bytes() == b"2\n3\n"
