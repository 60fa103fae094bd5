"""Engine benchmark (not a test): simple assign steps per second, and 10,000 loop iterations reading a
2,000-row (~100 KB) list held in scope.

Run: .venv/bin/python bench/bench_engine.py
"""

from __future__ import annotations

import json
import time

from kestra_gcp.engine import Engine, VirtualClock

ASSIGN_STEPS = 90_000

ASSIGNS = """
- init:
    assign:
      - i: 0
- inc:
    assign:
      - i: ${i + 1}
- loop:
    switch:
      - condition: ${i < @HALF@}
        next: inc
- done:
    return: ${i}
""".replace("@HALF@", str(ASSIGN_STEPS // 2))

LOOP = """
main:
  steps:
    - init:
        assign:
          - raw: '@ROWS@'
          - rows: ${json.decode(raw)}
          - total: 0
    - measure:
        assign:
          - t0: ${sys.now()}
    - loop:
        for:
          value: k
          range: [0, 9999]
          steps:
            - read:
                assign:
                  - total: ${total + rows[k % len(rows)].amount}
    - done:
        return: ${[total, sys.now() - t0]}
"""


def bench_assign() -> float:
    engine = Engine({"a": ASSIGNS}, clock=VirtualClock())
    t0 = time.perf_counter()
    ex = engine.run("a")
    elapsed = time.perf_counter() - t0
    assert ex.state == "SUCCEEDED", ex.error
    assert ex.result == ASSIGN_STEPS // 2  # every inc step really ran
    steps = ex.runtime.steps
    rate = steps / elapsed
    print(f"assign+switch steps: {steps} in {elapsed:.3f} s -> {rate:,.0f} steps/s")
    return rate


def bench_loop() -> float:
    rows = [{"id": i, "name": f"row-{i:05d}", "amount": i % 7, "flag": i % 2 == 0} for i in range(2000)]
    size = len(json.dumps(rows))
    # The rows are part of the source (the 32 KB argument limit forbids passing them in).
    engine = Engine({"l": LOOP.replace("@ROWS@", json.dumps(rows))})
    ex = engine.run("l")
    assert ex.state == "SUCCEEDED", ex.error
    total, elapsed = ex.result
    expected = sum(rows[k % 2000]["amount"] for k in range(10_000))
    assert total == expected
    print(f"10,000 iterations over a 2,000-row list ({size / 1024:.0f} KB): {elapsed:.3f} s")
    return elapsed


BUILD = """
- init:
    assign:
      - rows: []
- loop:
    for:
      value: i
      range: [1, 2000]
      steps:
        - add:
            assign:
              - rows: '${list.concat(rows, {"id": i, "name": "row-" + string(i), "amount": i % 7})}'
- done:
    return: ${len(rows)}
"""


def bench_build() -> float:
    engine = Engine({"b": BUILD}, clock=VirtualClock())
    t0 = time.perf_counter()
    ex = engine.run("b")
    elapsed = time.perf_counter() - t0
    assert ex.state == "SUCCEEDED" and ex.result == 2000, ex.error
    print(f"building a 2,000-row list with list.concat in a loop: {elapsed:.3f} s")
    return elapsed


if __name__ == "__main__":
    bench_assign()
    bench_loop()
    bench_build()
