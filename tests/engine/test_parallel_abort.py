"""With the default exception policy, a failing branch aborts a sibling that is sleeping (real clock)."""

from __future__ import annotations

import time

from kestra_gcp.engine import Engine

WORKFLOW = """
- init:
    assign:
      - x: 0
- t:
    try:
      parallel:
        shared: [x]
        branches:
          - fast_fail:
              steps:
                - fail:
                    raise: immediate failure
          - slow:
              steps:
                - wait:
                    call: sys.sleep
                    args: {seconds: 30}
                - set:
                    assign:
                      - x: 999
    except:
      as: e
      steps:
        - out:
            return: ${[x, e.tags]}
"""


def test_failing_branch_aborts_sleeping_sibling() -> None:
    t0 = time.monotonic()
    ex = Engine({"w": WORKFLOW}).run("w")
    assert ex.state == "SUCCEEDED", ex.error
    assert ex.result == [0, ["UnhandledBranchError"]]
    assert time.monotonic() - t0 < 5


def test_cancel_wakes_a_sleeping_execution() -> None:
    engine = Engine({"w": "- s:\n    call: sys.sleep\n    args: {seconds: 60}\n"})
    eid = engine.start("w")
    time.sleep(0.1)
    engine.cancel(eid)
    ex = engine.wait(eid, 5)
    assert ex.state == "CANCELLED"
    assert ex.end_time is not None
