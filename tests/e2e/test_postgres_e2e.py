"""End to end on the embedded default: hello world, postgres_taxi (green, yellow, re-run, 404), and the
scheduled flow backfilled over three months. Real CLI, real services, real functions."""

from __future__ import annotations

import itertools
import json

import pytest

from tests.e2e.conftest import Cli, month_rows

pytestmark = pytest.mark.e2e


def test_hello_world(cli: Cli) -> None:
    code, result, stderr = cli.run_json(cli.flow("hello_world"), "name=E2E")
    assert code == 0, stderr
    assert result["state"] == "SUCCESS"
    assert result["outputs"]["generate_output"]["value"] == "I was generated during this workflow."
    assert [t["id"] for t in result["taskRuns"]][:2] == ["hello_message", "generate_output"]
    assert "Hello, E2E!" in stderr  # the log streamed live
    assert "✓ hello_message" in stderr and "▶ generate_output" in stderr


def test_bad_input_fails_before_anything_runs(cli: Cli) -> None:
    proc = cli("run", str(cli.flow("postgres_taxi")), "-i", "taxi=blue")
    assert proc.returncode == 1
    assert "input 'taxi': 'blue' is not one of yellow, green" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = cli("run", str(cli.flow("postgres_taxi")), "-i", "colour=green")
    assert proc.returncode == 1 and "unknown input 'colour'" in proc.stderr


def test_compile_error_exits_1_with_location(cli: Cli) -> None:
    broken = cli.cwd / "broken.yaml"
    broken.write_text("id: broken\nnamespace: zoomcamp\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Nope\n")
    proc = cli("run", str(broken))
    assert proc.returncode == 1
    assert "broken.yaml:5:" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("taxi", ["green", "yellow"])
def test_postgres_taxi_loads_a_month_and_rerun_is_idempotent(cli: Cli, taxi: str) -> None:
    flow = cli.flow("postgres_taxi")
    code, result, stderr = cli.run_json(flow, f"taxi={taxi}", "year=2019", "month=02")
    assert code == 0, stderr
    assert result["state"] == "SUCCESS"
    assert result["labels"].get("file") == f"{taxi}_tripdata_2019-02.csv"
    expected = month_rows(taxi, 2019, 2)
    copied = result["outputs"][f"{taxi}_copy_in_to_staging_table"]["rowCount"]
    assert copied == expected
    file_name = f"{taxi}_tripdata_2019-02.csv"
    with cli.pg() as conn:
        count, ids, names = conn.execute(
            f"SELECT count(*), count(DISTINCT unique_row_id), count(*) FILTER (WHERE filename = %s) "
            f"FROM public.{taxi}_tripdata WHERE filename = %s", (file_name, file_name)).fetchone()
        assert count == expected and ids == expected and names == expected
        nulls = conn.execute(f"SELECT count(*) FROM public.{taxi}_tripdata "
                             "WHERE unique_row_id IS NULL OR filename IS NULL").fetchone()[0]
        assert nulls == 0
    # The same month again: the MERGE adds nothing.
    code, result, stderr = cli.run_json(flow, f"taxi={taxi}", "year=2019", "month=02")
    assert code == 0, stderr
    with cli.pg() as conn:
        again = conn.execute(f"SELECT count(*) FROM public.{taxi}_tripdata WHERE filename = %s",
                             (file_name,)).fetchone()[0]
    assert again == expected


def test_download_404_fails_naming_task_and_url_and_merges_nothing(cli: Cli) -> None:
    flow = cli.flow("postgres_taxi")
    before = 0
    if cli.services()["postgres"]["running"]:  # tests may run in any order (and on several workers)
        with cli.pg() as conn:
            exists = conn.execute("SELECT to_regclass('public.green_tripdata')").fetchone()[0]
            before = conn.execute("SELECT count(*) FROM public.green_tripdata").fetchone()[0] if exists else 0
    code, result, stderr = cli.run_json(flow, "taxi=green", "year=2023", "month=01")  # not in the release
    assert code == 1
    assert result["state"] == "FAILED"
    message = result["error"]["message"]
    assert "extract" in message
    assert "green_tripdata_2023-01.csv.gz" in message and "404" in message
    assert "Traceback" not in stderr
    assert result["error"]["taskId"] == "extract"
    ran = {run["id"] for run in result["taskRuns"]}
    assert not ran & {"green_copy_in_to_staging_table", "green_merge_data"}
    with cli.pg() as conn:
        exists = conn.execute("SELECT to_regclass('public.green_tripdata')").fetchone()[0]
        after = conn.execute("SELECT count(*) FROM public.green_tripdata").fetchone()[0] if exists else 0
    assert after == before


def test_postgres_taxi_scheduled_backfill_three_months_concurrency_1(cli: Cli) -> None:
    flow = cli.flow("postgres_taxi_scheduled")
    args = ["backfill", str(flow), "--trigger", "green_schedule", "--start", "2019-03-01", "--end",
            "2019-05-31", "--concurrency", "1", "--json"]
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr
    ticks = json.loads(proc.stdout.strip().splitlines()[-1])["ticks"]
    assert [t["tick"] for t in ticks] == ["2019-03-01T09:00:00Z", "2019-04-01T09:00:00Z", "2019-05-01T09:00:00Z"]
    assert all(t["state"] == "SUCCESS" and not t["skipped"] for t in ticks)
    with cli.pg() as conn:
        rows = dict(conn.execute("SELECT filename, count(*) FROM public.green_tripdata "
                                 "WHERE filename LIKE 'green_tripdata_2019-0_.csv' AND filename >= "
                                 "'green_tripdata_2019-03' GROUP BY filename").fetchall())
    assert rows == {f"green_tripdata_2019-0{m}.csv": month_rows("green", 2019, m) for m in (3, 4, 5)}
    # Executions ran one at a time: each started after the previous one ended.
    for before, after in itertools.pairwise(ticks):
        assert before["ended"] <= after["started"]
    # Resumable: a second backfill skips the ticks already SUCCESS.
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr
    again = json.loads(proc.stdout.strip().splitlines()[-1])["ticks"]
    assert all(t["skipped"] for t in again)
    assert "3 ticks: 0 run, 3 already done, 0 failed" in proc.stderr
