"""Row encodings (JSON responses, Ion STORE lines) and SQL text handling shared by the SQL functions."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal


def test_json_values() -> None:
    from kfn.postgres_rows import json_value

    assert json_value(Decimal("12.50")) == 12.5 and json_value(Decimal("3")) == 3
    assert json_value(datetime(2019, 1, 1, 0, 10)) == "2019-01-01T00:10:00"
    assert json_value(datetime(2019, 1, 1, tzinfo=UTC)) == "2019-01-01T00:00:00+00:00"
    assert json_value(timedelta(days=1, seconds=90)) == "P1DT90S"
    assert json_value(b"\x00\x01") == "AAE="
    assert json_value(float("nan")) == "nan"
    u = uuid.uuid4()
    assert json_value({"a": [u, date(2020, 2, 29)]}) == {"a": [str(u), "2020-02-29"]}


def test_ion_lines() -> None:
    from kfn.postgres_rows import ion_line

    row = [None, True, 7, 1.5, Decimal("12.50"), Decimal("3"), 'a"b\\c\n', datetime(2019, 1, 1, 0, 0, 5),
           datetime(2019, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), date(2019, 1, 2), time(8, 30),
           b"\x01\x02", [1, "x"], {"k": None}]
    cols = [f"c{i}" for i in range(len(row))]
    assert ion_line(cols, row).decode() == (
        '{"c0":null,"c1":true,"c2":7,"c3":1.5e0,"c4":12.50,"c5":3.,"c6":"a\\"b\\\\c\\n",'
        '"c7":2019-01-01T00:00:05-00:00,"c8":2019-01-01T01:00:00+01:00,"c9":2019-01-02,"c10":"08:30:00",'
        '"c11":{{AQI=}},"c12":[1,"x"],"c13":{"k":null}}\n')


def test_statement_splitting_and_named_parameters() -> None:
    from kfn.postgres_sql import bind_named, named_to_dollar, quoted_literals, split_statements

    sql = "SELECT 'a;b'; -- x;y\nSELECT $f$;$f$ /* ; /* ; */ */; ;\n SELECT E'\\';'"
    assert split_statements(sql) == ["SELECT 'a;b'", "-- x;y\nSELECT $f$;$f$ /* ; /* ; */ */", "SELECT E'\\';'"]
    assert bind_named("SELECT :a, x::int, ':a', 5 % 2, arr[1:2]", {"a": 1}) == (
        "SELECT %s, x::int, ':a', 5 %% 2, arr[1:2]", [1])
    assert bind_named("SELECT :a, '%'", {"a": 1}, placeholder="?") == ("SELECT ?, '%'", [1])
    assert bind_named("SELECT 1 % 2", {"a": 1}) == ("SELECT 1 % 2", None)
    assert named_to_dollar("SELECT :a, ':a', :b", {"a"}) == "SELECT $a, ':a', :b"
    assert quoted_literals("SELECT * FROM read_csv('gs://b/x.csv') -- 'c'") == ["gs://b/x.csv"]
