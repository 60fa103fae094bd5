"""The duckdb function: gs:// inputs streamed to a private working directory, outputs to the GCS emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from tests.functions.conftest import Invoke, execution

Q = "io.kestra.plugin.jdbc.duckdb.Query"
QS = "io.kestra.plugin.jdbc.duckdb.Queries"


def _put(bucket: str, name: str, data: bytes) -> str:
    from kfn import storage

    storage.client().bucket(bucket).blob(name).upload_from_string(data)
    return f"gs://{bucket}/{name}"


def _read(uri: str) -> bytes:
    from kfn import storage

    return storage.blob(uri).download_as_bytes()


def _task(type_: str = Q, **props: Any) -> dict[str, Any]:
    return {"id": "query", "type": type_, **props}


def test_getting_started_query_reads_the_transform_output(invoke: Invoke, state_bucket: str) -> None:
    csv = b"id,category,price\n1,beauty,9.5\n2,beauty,19.5\n3,groceries,1.5\n"
    uri = _put(state_bucket, "executions/zoomcamp/getting_started/e1/transform/products.csv", csv)
    sql = (f"SELECT category, COUNT(*) as count, AVG(price) as avg_price\nFROM read_csv_auto('{uri}')\n"
           "GROUP BY category\nORDER BY count DESC")
    status, body = invoke("duckdb", _task(sql=sql, fetchType="FETCH"))
    assert status == 200, body
    assert body["outputs"] == {"rows": [{"category": "beauty", "count": 2, "avg_price": 14.5},
                                        {"category": "groceries", "count": 1, "avg_price": 1.5}],
                               "size": 2, "outputFiles": {}}


def test_input_files_output_files_and_working_dir(invoke: Invoke, state_bucket: str) -> None:
    stored = _put(state_bucket, "in/more.csv", b"a,b\n3,4\n")
    exec_ref = execution()
    sql = """
        CREATE TABLE t AS SELECT * FROM read_csv_auto('inline.csv');
        INSERT INTO t SELECT * FROM read_csv_auto('{{workingDir}}/more.csv');
        COPY (SELECT * FROM t ORDER BY a) TO '{{ outputFiles.out.csv }}' (HEADER);
        COPY (SELECT sum(b) AS s FROM t) TO '{{workingDir}}/sum.csv' (HEADER);
        SELECT a, b FROM t ORDER BY a;
    """
    task = _task(QS, sql=sql, inputFiles={"inline.csv": "a,b\n1,2\n", "more.csv": stored},
                 outputFiles=["out.csv", "sum.csv"], fetchType="STORE")
    status, body = invoke("duckdb", task, exec_ref)
    assert status == 200, body
    prefix = f"gs://{state_bucket}/executions/zoomcamp/flow/{exec_ref['id']}/query/"
    assert body["outputs"]["outputFiles"] == {"out.csv": prefix + "out.csv", "sum.csv": prefix + "sum.csv"}
    assert _read(prefix + "out.csv") == b"a,b\n1,2\n3,4\n"
    assert _read(prefix + "sum.csv") == b"s\n6\n"
    assert body["outputs"]["outputs"] == [{"uri": prefix + "query-5.ion", "size": 2}]
    assert _read(prefix + "query-5.ion") == b'{"a":1,"b":2}\n{"a":3,"b":4}\n'


def test_glob_uris_fetch_every_matching_object(invoke: Invoke, state_bucket: str) -> None:
    for month in ("01", "02"):
        _put(state_bucket, f"lake/green_2019-{month}.csv", f"m,n\n{month},1\n".encode())
    _put(state_bucket, "lake/other.txt", b"ignored")
    sql = f"SELECT count(*) AS files, sum(n) AS n FROM read_csv_auto('gs://{state_bucket}/lake/green_*.csv')"
    status, body = invoke("duckdb", _task(sql=sql, fetchType="FETCH_ONE"))
    assert status == 200, body
    assert body["outputs"]["row"] == {"files": 2, "n": 2}


def test_named_parameters(invoke: Invoke, state_bucket: str) -> None:
    sql = "SELECT :who AS who, :n + 1 AS n, ':who' AS lit, 7 % 4 AS m"
    status, body = invoke("duckdb", _task(sql=sql, parameters={"who": "x'; --", "n": 41}, fetchType="FETCH_ONE"))
    assert status == 200, body
    assert body["outputs"]["row"] == {"who": "x'; --", "n": 42, "lit": ":who", "m": 3}


def test_transaction_rolls_back_a_file_database(invoke: Invoke, tmp_path: Path, state_bucket: str) -> None:
    db = tmp_path / "w.duckdb"
    url = f"jdbc:duckdb:{db}"
    assert invoke("duckdb", _task(QS, url=url, sql="CREATE TABLE t (a int)"))[0] == 200
    status, body = invoke("duckdb", _task(QS, url=url, sql="INSERT INTO t VALUES (1); SELECT * FROM nope"))
    assert status == 400
    assert body["error"]["message"] == "duckdb: Catalog Error: Table with name nope does not exist! (statement 2)"
    with duckdb.connect(str(db)) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    status, _ = invoke("duckdb", _task(QS, url=url, transaction=False,
                                       sql="INSERT INTO t VALUES (1); SELECT * FROM nope"))
    assert status == 400
    with duckdb.connect(str(db)) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_database_file_round_trip(invoke: Invoke, state_bucket: str) -> None:
    status, body = invoke("duckdb", _task(sql="CREATE TABLE kept AS SELECT 42 AS answer", outputDbFile=True))
    assert status == 200, body
    db_uri = body["outputs"]["databaseUri"]
    status, body = invoke("duckdb", _task(databaseUri=db_uri, sql="SELECT answer FROM kept", fetchType="FETCH_ONE"))
    assert status == 200, body
    assert body["outputs"]["row"] == {"answer": 42}


def test_errors_are_actionable(invoke: Invoke, state_bucket: str) -> None:
    missing = f"gs://{state_bucket}/nope/products.csv"
    status, body = invoke("duckdb", _task(sql=f"SELECT * FROM read_csv_auto('{missing}')"))
    assert status == 404 and body["error"]["message"] == f"duckdb: sql: object {missing} does not exist"
    status, body = invoke("duckdb", _task(sql="SELEC 1"))
    assert status == 400 and body["error"]["message"] == 'duckdb: Parser Error: syntax error at or near "SELEC"'
    status, body = invoke("duckdb", _task(sql="SELECT 1", outputFiles=["never.csv"]))
    assert status == 400 and "outputFiles: 'never.csv' was not written by the SQL" in body["error"]["message"]
    status, body = invoke("duckdb", _task(sql="SELECT 1", url="jdbc:postgresql://h/db"))
    assert status == 400 and "url must start with jdbc:duckdb:" in body["error"]["message"]
    status, body = invoke("duckdb", _task(sql="SELECT 1", inputFiles={"../escape.csv": "x"}))
    assert status == 400 and "outside the working directory" in body["error"]["message"]


def test_getting_started_json_query_with_builtin_extension(invoke: Invoke, state_bucket: str) -> None:
    products = _put(state_bucket, "executions/zoomcamp/gs/e/transform/products.json",
                    b'[{"brand": "A", "price": 2.5}, {"brand": "A", "price": 3.5}, {"brand": "B", "price": 1}]')
    sql = ("INSTALL json;\nLOAD json;\nSELECT brand, round(avg(price), 2) AS avg_price\n"
           "FROM read_json_auto('{{workingDir}}/products.json')\nGROUP BY brand\nORDER BY avg_price DESC;\n")
    status, body = invoke("duckdb", _task(sql=sql, inputFiles={"products.json": products}, fetchType="STORE"))
    assert status == 200, body
    assert _read(body["outputs"]["uri"]) == b'{"brand":"A","avg_price":3.0e0}\n{"brand":"B","avg_price":1.0e0}\n'


def test_copy_to_a_gs_uri_uploads_after_success(invoke: Invoke, state_bucket: str) -> None:
    target = f"gs://{state_bucket}/exports/summary.csv"
    sql = f"COPY (SELECT 1 AS a UNION ALL SELECT 2) TO '{target}' (HEADER)"
    status, body = invoke("duckdb", _task(sql=sql))
    assert status == 200, body
    assert _read(target) == b"a\n1\n2\n"
    failed = f"gs://{state_bucket}/exports/never.csv"
    status, _ = invoke("duckdb", _task(QS, sql=f"COPY (SELECT 1 AS a) TO '{failed}'; SELECT * FROM nope"))
    assert status == 400
    from kfn import storage

    assert not storage.blob(failed).exists()
