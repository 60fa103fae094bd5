"""`backfill --local`: the flow's concurrency limit caps --concurrency; without a limit executions overlap."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e

FLOW = Path(__file__).parent / "flows" / "scheduled_hello.yaml"


def _ticks(cli: Cli, flow: Path) -> list[dict[str, object]]:
    proc = cli("backfill", str(flow), "--trigger", "monthly", "--start", "2020-01-01", "--end", "2020-03-01",
               "--concurrency", "3", "--force", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "2020-03-01T09:00:00Z" not in proc.stdout  # the end bound is 00:00, before the 09:00 tick
    return list(json.loads(proc.stdout.strip().splitlines()[-1])["ticks"])


def test_flow_concurrency_limit_wins_over_the_option(cli: Cli) -> None:
    ticks = _ticks(cli, FLOW)
    assert [t["tick"] for t in ticks] == ["2020-01-01T09:00:00Z", "2020-02-01T09:00:00Z"]
    assert all(t["state"] == "SUCCESS" for t in ticks)
    for before, after in itertools.pairwise(ticks):
        assert before["ended"] <= after["started"]  # type: ignore[operator]


def test_without_a_limit_ticks_run_concurrently(cli: Cli) -> None:
    unlimited = cli.cwd / "scheduled_unlimited.yaml"
    unlimited.write_text(FLOW.read_text().replace("concurrency:\n  limit: 1\n", ""))
    ticks = _ticks(cli, unlimited)
    assert all(t["state"] == "SUCCESS" for t in ticks)
    assert ticks[1]["started"] < ticks[0]["ended"]  # type: ignore[operator]
