"""Fast checks of the local runner's parts: inputs, cron ticks, state dir, function host, CLI verbs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from kestra_gcp.errors import UserError
from kestra_gcp.local.backfill import parse_bound, ticks
from kestra_gcp.local.functionhost import FunctionHostProcess
from kestra_gcp.local.inputs import parse_inputs, split_assignments
from kestra_gcp.local.pgendpoints import endpoints
from kestra_gcp.local.state import LocalConfig, StateDir, parse_connection

DECLARED = [
    {"id": "taxi", "type": "SELECT", "values": ["yellow", "green"]},
    {"id": "year", "type": "INT"},
    {"id": "rate", "type": "FLOAT"},
    {"id": "dry", "type": "BOOLEAN"},
    {"id": "cfg", "type": "JSON"},
    {"id": "month", "type": "SELECT", "values": ["01"], "allowCustomValue": True},
]


def test_inputs_are_typed_by_declaration() -> None:
    raw = split_assignments(["taxi=green", "year=2019", "rate=1.5", "dry=true", 'cfg={"a": [1]}', "month=07"])
    assert parse_inputs(DECLARED, raw) == {"taxi": "green", "year": 2019, "rate": 1.5, "dry": True,
                                           "cfg": {"a": [1]}, "month": "07"}


@pytest.mark.parametrize(("item", "message"), [
    ("year=20x9", "input 'year': '20x9' is not an INT"),
    ("taxi=blue", "input 'taxi': 'blue' is not one of yellow, green"),
    ("dry=maybe", "is not a BOOLEAN"),
    ("cfg={", "is not valid JSON"),
    ("nope=1", "unknown input 'nope'"),
])
def test_bad_inputs_are_one_line_errors(item: str, message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        parse_inputs(DECLARED, split_assignments([item]))
    with pytest.raises(UserError, match="expected name=value"):
        split_assignments(["novalue"])


def test_ticks_follow_the_cron_in_the_trigger_zone() -> None:
    utc = ZoneInfo("UTC")
    got = list(ticks("0 9 1 * *", "UTC", parse_bound("2019-01-01", utc, "--start"),
                     parse_bound("2019-03-31", utc, "--end")))
    assert [t.date for t in got] == ["2019-01-01T09:00:00Z", "2019-02-01T09:00:00Z", "2019-03-01T09:00:00Z"]
    assert got[0].previous == "2018-12-01T09:00:00Z" and got[0].next == "2019-02-01T09:00:00Z"
    paris = ZoneInfo("Europe/Paris")
    summer = list(ticks("30 6 * * *", "Europe/Paris", datetime(2024, 3, 30, tzinfo=paris),
                        datetime(2024, 3, 31, 23, 0, tzinfo=paris)))
    assert [t.date for t in summer] == ["2024-03-30T06:30:00+01:00", "2024-03-31T06:30:00+02:00"]
    # the end bound is inclusive, like Kestra's backfill end
    assert len(list(ticks("0 9 1 * *", "UTC", datetime(2019, 1, 1, 9, tzinfo=utc),
                          datetime(2019, 1, 1, 9, tzinfo=utc)))) == 1
    with pytest.raises(UserError, match="--start"):
        parse_bound("yesterday", utc, "--start")


def test_state_dir_config_and_private_secrets(tmp_path: Path) -> None:
    state = StateDir(tmp_path / ".kestra-gcp").ensure()
    assert state.load_config() == LocalConfig()
    state.save_config(LocalConfig(connections={"pgdatabase:5432": "postgresql://u:p@db:5432/x"}))
    assert state.load_config().connections == {"pgdatabase:5432": "postgresql://u:p@db:5432/x"}
    state.config_path.write_text(json.dumps({"connections": {"nohost": "postgresql://x"}}))
    with pytest.raises(UserError, match="connection key 'nohost' must be host:port"):
        state.load_config()
    state.set_secret("API_KEY", "s3cr3t")
    assert state.secrets() == {"API_KEY": "s3cr3t"}
    assert stat.S_IMODE(state.secrets_path.stat().st_mode) == 0o600
    with pytest.raises(UserError, match="secret name"):
        state.set_secret("bad name", "x")
    assert parse_connection("pg:5432=postgresql://a@b/c") == ("pg:5432", "postgresql://a@b/c")
    with pytest.raises(UserError, match="--connection"):
        parse_connection("pg=mysql://x")


def test_pg_endpoints_come_from_task_bodies_with_secrets_resolved() -> None:
    workflow = """
main:
  steps:
    - a:
        call: http.post
        args:
          body:
            task: {id: a, url: "jdbc:postgresql://pgdatabase:5432/ny_taxi", username: root, password: root}
    - b:
        call: http.post
        args:
          body:
            task: {id: b, url: "jdbc:postgresql://other:6543/db2?user=u2", password: "{{secret:PG_PW}}"}
    - c:
        call: http.post
        args:
          body:
            task: {id: c, url: "${dynamic}", username: x}
"""
    got = endpoints({"w": workflow}, {"PG_PW": "pw2"})
    assert got == [
        {"key": "other:6543", "database": "db2", "user": "u2", "password": "pw2"},
        {"key": "pgdatabase:5432", "database": "ny_taxi", "user": "root", "password": "root"},
    ]


def test_function_host_serves_every_entry_point_and_forwards_logs() -> None:
    logs: list[dict[str, object]] = []
    with FunctionHostProcess({"KESTRA_GCP_BUCKET": "b"}, on_log=logs.append) as host:
        body = {"task": {"id": "x", "type": "io.kestra.plugin.core.http.Download"},
                "execution": {"id": "e", "namespace": "n", "flowId": "f"}}
        resp = requests.post(host.url("kv"), json=body, timeout=30, allow_redirects=False)
        assert resp.status_code == 400
        assert resp.json()["error"]["message"].startswith("kv: ")
        assert requests.post(host.url("nope"), json=body, timeout=30).status_code == 404
        assert set(host.workflow_env()) == {f"KESTRA_GCP_FN_{n}" for n in (
            "DOWNLOAD", "GCS", "POSTGRES", "BIGQUERY", "DUCKDB", "KV", "PURGE", "TRIGGER")}
        pid = host.pid
    assert any(e.get("taskId") == "x" for e in logs)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def _cli(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kestra_gcp", *args], cwd=cwd, input=stdin, text=True,
                          capture_output=True, timeout=120)


def test_secrets_cli_reads_stdin_and_never_prints_values(tmp_path: Path) -> None:
    proc = _cli(tmp_path, "secrets", "set", "GCP_KEY", stdin="very-secret\n")
    assert proc.returncode == 0, proc.stderr
    assert "very-secret" not in proc.stdout + proc.stderr
    assert json.loads((tmp_path / ".kestra-gcp" / "secrets.json").read_text()) == {"GCP_KEY": "very-secret"}
    listed = _cli(tmp_path, "secrets", "list")
    assert listed.stdout.split() == ["GCP_KEY"]
    empty = _cli(tmp_path, "secrets", "set", "EMPTY", stdin="")
    assert empty.returncode == 1 and "empty value" in empty.stderr and "Traceback" not in empty.stderr
