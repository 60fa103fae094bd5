"""Compiled workflows run in the project's Workflows interpreter against a test double of the function contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler.api import compile_paths
from kestra_gcp.engine import Engine, VirtualClock
from tests.compiler.conftest import FLOWS, assert_schema_valid
from tests.compiler.fndouble import FunctionDouble, function_double

DATA = Path(__file__).with_name("data")


def _engine(paths: list[Path], double: FunctionDouble) -> Engine:
    result = compile_paths(paths)
    assert result.ok, [d.format() for d in result.diagnostics]
    assert_schema_valid(result.workflows)
    return Engine(result.workflows, env=double.env(), clock=VirtualClock())


def _states(result: dict[str, Any]) -> dict[str, str]:
    return {run["id"]: run["state"] for run in result["taskRuns"]}


def test_hello_world_runs() -> None:
    with function_double() as fd:
        ex = _engine([FLOWS / "hello_world.yaml"], fd).run("zoomcamp-hello_world", {"inputs": {"name": "Ann"}})
    assert ex.state == "SUCCEEDED", ex.error
    assert ex.result["state"] == "SUCCESS"
    assert ex.result["outputs"] == {"generate_output": {"value": "I was generated during this workflow."}}
    assert [r["id"] for r in ex.result["taskRuns"]] == [
        "hello_message", "generate_output", "sleep", "log_output", "goodbye_message"]
    assert fd.requests == []


def test_postgres_taxi_sends_the_contract_bodies() -> None:
    with function_double() as fd:
        eng = _engine([FLOWS / "postgres_taxi.yaml"], fd)
        ex = eng.run("zoomcamp-postgres_taxi", {"inputs": {"taxi": "green", "year": "2020", "month": "03"}})
        assert ex.state == "SUCCEEDED", ex.error
        first = fd.requests[0]
        assert first["function"] == "download"
        assert first["task"]["uri"] == ("https://github.com/DataTalksClub/nyc-tlc-data/releases/download/green/"
                                        "green_tripdata_2020-03.csv.gz")
        assert first["task"]["gunzip"] is True and first["task"]["saveAs"] == "green_tripdata_2020-03.csv"
        assert first["execution"]["namespace"] == "zoomcamp" and first["execution"]["attempt"] == 1
        copy = next(r for r in fd.requests if r["task"]["id"] == "green_copy_in_to_staging_table")
        assert copy["task"]["from"] == "gs://bucket/executions/extract/green_tripdata_2020-03.csv"
        assert copy["task"]["table"] == "public.green_tripdata_staging"
        assert copy["task"]["url"] == "jdbc:postgresql://pgdatabase:5432/ny_taxi"
        update = next(r for r in fd.requests if r["task"]["id"] == "green_add_unique_id_and_filename")
        assert "filename = 'green_tripdata_2020-03.csv'" in update["task"]["sql"]
        assert not any(r["task"]["id"].startswith("yellow_") for r in fd.requests)
        assert ex.result["labels"] == {"file": "green_tripdata_2020-03.csv", "taxi": "green"}
        assert _states(ex.result)["if_yellow_taxi"] == "SUCCESS"


def test_bad_input_fails_before_any_side_effect() -> None:
    with function_double() as fd:
        ex = _engine([FLOWS / "postgres_taxi.yaml"], fd).run("zoomcamp-postgres_taxi", {"inputs": {"taxi": "blue"}})
        assert ex.state == "FAILED"
        assert ex.error["tags"] == ["KestraInputError"]
        assert ex.error["message"] == "input 'taxi': 'blue' is not one of yellow, green"
        assert fd.requests == []


def test_control_flow() -> None:
    with function_double() as fd:
        fd.script["flaky"] = [(503, {"error": {"type": "Unavailable", "message": "busy"}}),
                              (200, {"outputs": {"uri": "gs://b/x"}})]
        ex = _engine([DATA / "control_flow.yaml"], fd).run("tests-control", {"inputs": {"n": "3"}})
    assert ex.state == "SUCCEEDED", ex.error
    res = ex.result
    assert res["state"] == "WARNING"
    assert res["outputs"]["big"] == {"value": "big 3"} and "small" not in res["outputs"]
    assert res["outputs"]["pick"] == {"value": "b", "defaults": False}
    assert res["outputs"]["case_b"] == {"value": "hi b"}
    assert {res["outputs"]["p1"]["value"], res["outputs"]["p2"]["value"]} == {"one", "two"}
    runs = res["taskRuns"]
    assert [r["id"] for r in runs].count("each") == 3
    flaky = next(r for r in runs if r["id"] == "flaky")
    assert flaky["attempts"] == 2 and flaky["state"] == "SUCCESS"
    states = _states(res)
    assert states["may_fail"] == "WARNING" and states["skipped"] == "SKIPPED" and states["always"] == "SUCCESS"


FAILING = """
id: failing
namespace: tests
tasks:
  - id: get
    type: io.kestra.plugin.core.http.Download
    uri: http://example.invalid/missing.csv
    retry:
      type: constant
      interval: PT1S
      maxAttempts: 4
  - id: not_reached
    type: io.kestra.plugin.core.log.Log
    message: never
errors:
  - id: on_error
    type: io.kestra.plugin.core.log.Log
    message: "failed"
finally:
  - id: cleanup
    type: io.kestra.plugin.core.log.Log
    message: cleanup
"""


@pytest.mark.parametrize("status, attempts", [(404, 1), (500, 4)])
def test_failure_raises_execution_failed(tmp_path: Path, status: int, attempts: int) -> None:
    (tmp_path / "f.yaml").write_text(FAILING)
    with function_double() as fd:
        fd.script["get"] = [(status, {"error": {"type": "NotFound", "message": "download: GET x returned 404"}})]
        ex = _engine([tmp_path / "f.yaml"], fd).run("tests-failing", None)
    assert ex.state == "FAILED"
    err = ex.error
    assert err["tags"] == ["KestraExecutionFailed"] and err["state"] == "FAILED" and err["taskId"] == "get"
    assert err["message"] == "task 'get' failed: download: GET x returned 404"
    states = _states(err)
    assert states == {"get": "FAILED", "on_error": "SUCCESS", "cleanup": "SUCCESS"}
    assert next(r for r in err["taskRuns"] if r["id"] == "get")["attempts"] == attempts


PARENT = """
id: parent
namespace: tests
tasks:
  - id: call_child
    type: io.kestra.plugin.core.flow.Subflow
    namespace: tests
    flowId: child
    inputs:
      who: world
"""
CHILD = """
id: child
namespace: tests
inputs:
  - id: who
    type: STRING
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.who }}"
"""
AFTER = """
id: after
namespace: tests
tasks:
  - id: note
    type: io.kestra.plugin.core.log.Log
    message: "parent finished"
triggers:
  - id: on_parent
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlowCondition
        namespace: tests
        flowId: parent
      - type: io.kestra.plugin.core.condition.ExecutionStatusCondition
        in: [SUCCESS]
"""


def test_subflow_and_flow_trigger(tmp_path: Path) -> None:
    for name, text in (("parent", PARENT), ("child", CHILD), ("after", AFTER)):
        (tmp_path / f"{name}.yaml").write_text(text)
    with function_double() as fd:
        eng = _engine([tmp_path], fd)
        ex = eng.run("tests-parent", None)
        assert ex.state == "SUCCEEDED", ex.error
        assert ex.result["outputs"]["call_child"]["state"] == "SUCCESS"
        assert ex.result["outputs"]["call_child"]["outputs"] == {"greet": {"value": "hello world"}}
        downstream = [e for e in eng.list() if e.workflow_id == "tests-after"] if hasattr(eng, "list") else []
        assert downstream, "the Flow trigger started the downstream workflow"


INPUTS = """
id: inp
namespace: tests
inputs:
  - id: j
    type: JSON
    defaults: '{"a": 1}'
  - id: arr
    type: ARRAY
    itemType: INT
    defaults: [1, 2]
  - id: d
    type: DATE
    defaults: "2024-01-31"
  - id: dt
    type: DATETIME
    required: false
  - id: n
    type: INT
    defaults: 3
    min: 1
  - id: b
    type: BOOLEAN
    defaults: false
  - id: code
    type: STRING
    validator: "[A-Z]{3}"
    defaults: ABC
tasks:
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      j: "{{ inputs.j.a }}"
      n: "{{ inputs.n }}"
      b: "{{ inputs.b }}"
"""


@pytest.mark.parametrize("given, expected", [
    (None, {"j": 1, "n": 3, "b": False}),
    ({"j": '{"a": 7}', "n": "12", "b": "true", "arr": "[1, 2, 3]", "dt": "2024-01-01T00:00:00Z"},
     {"j": 7, "n": 12, "b": True}),
    ({"j": "{bad"}, "input 'j': '{bad' is not valid JSON"),
    ({"d": "2024/01/01"}, "input 'd': '2024/01/01' is not a date (YYYY-MM-DD)"),
    ({"dt": "yesterday"}, "input 'dt': 'yesterday' is not an ISO-8601 date-time"),
    ({"arr": "5"}, "input 'arr': 5 is not a list"),
    ({"n": "ten"}, "input 'n': 'ten' is not an integer"),
    ({"n": 0}, "input 'n': 0 is below min 1"),
    ({"b": "maybe"}, "input 'b': 'maybe' is not a boolean"),
    ({"code": "ABCD"}, "input 'code': 'ABCD' does not match ^(?:[A-Z]{3})$"),
])
def test_inputs_are_coerced_and_checked(tmp_path: Path, given: dict[str, Any] | None, expected: Any) -> None:
    (tmp_path / "inp.yaml").write_text(INPUTS)
    with function_double() as fd:
        ex = _engine([tmp_path / "inp.yaml"], fd).run("tests-inp", None if given is None else {"inputs": given})
    if isinstance(expected, str):
        assert ex.state == "FAILED" and ex.error == {"tags": ["KestraInputError"], "state": "FAILED",
                                                     "message": expected}
    else:
        assert ex.state == "SUCCEEDED", ex.error
        assert ex.result["outputs"]["out"]["values"] == expected


RESERVED_IDS = """
id: names
namespace: tests
inputs:
  - id: x
    type: STRING
    defaults: v
tasks:
  - id: run
    type: io.kestra.plugin.core.debug.Return
    format: a
  - id: input_x
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.run.value }}b"
  - id: result
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: state
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.input_x.value }}c"
"""


def test_task_ids_that_collide_with_runtime_names(tmp_path: Path) -> None:
    (tmp_path / "n.yaml").write_text(RESERVED_IDS)
    with function_double() as fd:
        ex = _engine([tmp_path / "n.yaml"], fd).run("tests-names", None)
    assert ex.state == "SUCCEEDED", ex.error
    assert ex.result["outputs"]["state"] == {"value": "abc"}
    assert ex.result["state"] == "SUCCESS"



FOREACH_OUTPUTS = """
id: fe
namespace: tests
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.debug.Return
        format: "v-{{ taskrun.value }}"
      - id: use
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.inner[taskrun.value].value }}!"
"""


def test_foreach_outputs_are_keyed_by_value(tmp_path: Path) -> None:
    (tmp_path / "fe.yaml").write_text(FOREACH_OUTPUTS)
    with function_double() as fd:
        ex = _engine([tmp_path / "fe.yaml"], fd).run("tests-fe", None)
    assert ex.state == "SUCCEEDED", ex.error
    outputs = ex.result["outputs"]
    assert outputs["inner"]["a"] == {"value": "v-a"} and outputs["inner"]["b"] == {"value": "v-b"}
    assert outputs["use"]["a"] == {"value": "v-a!"} and outputs["use"]["b"] == {"value": "v-b!"}


NESTED_LOOPS = """
id: nested
namespace: tests
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.ForEach
    values: ["x", "y"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.ForEach
        values: ["1", "2"]
        concurrencyLimit: 0
        tasks:
          - id: get
            type: io.kestra.plugin.core.http.Download
            uri: "http://example.invalid/{{ taskrun.value }}.csv"
            retry:
              type: constant
              interval: PT1S
              maxAttempts: 3
      - id: after
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"""


def test_each_loop_iteration_is_its_own_task_run(tmp_path: Path) -> None:
    """taskRunId differs per iteration of every enclosing loop and stays the same across retries; a nested
    (parallel) loop has its own taskrun, and the outer one's is intact after it."""
    (tmp_path / "nested.yaml").write_text(NESTED_LOOPS)
    with function_double() as fd:
        fd.script["get"] = [(503, {"error": {"type": "Unavailable", "message": "busy"}}),
                            (200, {"outputs": {"uri": "gs://b/x"}})]
        ex = _engine([tmp_path / "nested.yaml"], fd).run("tests-nested", None)
    assert ex.state == "SUCCEEDED", ex.error
    runs: dict[str, list[int]] = {}
    for request in fd.requests:
        runs.setdefault(request["execution"]["taskRunId"], []).append(request["execution"]["attempt"])
    assert sorted(runs.values()) == [[1], [1], [1], [1, 2]]  # four iterations; a retry is the same task run
    assert sorted(r["task"]["uri"] for r in fd.requests if r["execution"]["attempt"] == 1) == [
        "http://example.invalid/1.csv", "http://example.invalid/1.csv",
        "http://example.invalid/2.csv", "http://example.invalid/2.csv"]
    assert len({r["execution"]["id"] for r in fd.requests}) == 1
    assert ex.result["outputs"]["after"]["x"] == {"value": "x"}
    assert ex.result["outputs"]["after"]["y"] == {"value": "y"}
