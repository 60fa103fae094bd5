"""Scope facts and runtime values of compiled flows, run in the Workflows interpreter: optional inputs, task.id and
task.type, Kestra truthiness of conditions, KV reads (namespaces, missing keys), ForEach-keyed outputs and
execution.state in afterExecution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compiler.api import compile_paths
from kestra_gcp.engine import Engine, Execution, VirtualClock
from tests.compiler.conftest import assert_schema_valid
from tests.compiler.fndouble import FunctionDouble, function_double

HEADER = "id: f\nnamespace: tests\n"


def _run(tmp_path: Path, text: str, args: dict[str, Any], double: FunctionDouble) -> Execution:
    path = tmp_path / "flow.yaml"
    path.write_text(HEADER + text)
    result = compile_paths([path])
    assert result.ok, [d.format() for d in result.diagnostics]
    assert_schema_valid(result.workflows)
    return Engine(result.workflows, env=double.env(), clock=VirtualClock()).run("tests-f", args)


def _states(ex: Execution) -> dict[str, str]:
    """Task states, from the result or (failed runs) the raised failure map."""
    return {run["id"]: run["state"] for run in (ex.result or ex.error)["taskRuns"]}


def test_optional_input_without_default_renders_as_empty(tmp_path: Path) -> None:
    flow = ("inputs:\n  - id: opt\n    type: STRING\n    required: false\n"
            "tasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: \"x{{ inputs.opt }}y\"\n")
    with function_double() as fd:
        ex = _run(tmp_path, flow, {}, fd)
        given = _run(tmp_path, flow, {"inputs": {"opt": "A"}}, fd)
    assert ex.state == "SUCCEEDED", ex.error
    assert ex.result["outputs"]["r"] == {"value": "xy"}
    assert given.result["outputs"]["r"] == {"value": "xAy"}


def test_task_id_and_type(tmp_path: Path) -> None:
    flow = ("tasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n"
            "    format: \"{{ task.id }} {{ task.type }}\"\n")
    with function_double() as fd:
        ex = _run(tmp_path, flow, {}, fd)
    assert ex.state == "SUCCEEDED", ex.error
    assert ex.result["outputs"]["r"] == {"value": "r io.kestra.plugin.core.debug.Return"}


def test_conditions_use_kestra_truthiness(tmp_path: Path) -> None:
    flow = ("inputs:\n  - id: flag\n    type: STRING\n    required: false\n"
            "tasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    runIf: \"{{ inputs.flag }}\"\n"
            "    format: ran\n"
            "  - id: i\n    type: io.kestra.plugin.core.flow.If\n    condition: \"{{ inputs.flag }}\"\n"
            "    then:\n      - id: yes\n        type: io.kestra.plugin.core.debug.Return\n        format: y\n"
            "    else:\n      - id: no\n        type: io.kestra.plugin.core.debug.Return\n        format: n\n"
            "  - id: a\n    type: io.kestra.plugin.core.execution.Assert\n    conditions:\n"
            "      - \"{{ inputs.flag ?? 'unset' }}\"\n")
    outcomes: dict[str | None, tuple[str | None, str | None, str]] = {}
    with function_double() as fd:
        for flag in ("-0", "0", "false", "", None, "False", "yes"):
            ex = _run(tmp_path, flow, {"inputs": {} if flag is None else {"flag": flag}}, fd)
            outcomes[flag] = (_states(ex).get("r"), _states(ex).get("yes"), ex.state)
    for falsy in ("-0", "0", "false", ""):  # Kestra's false values; the Assert fails on them
        assert outcomes[falsy] == ("SKIPPED", None, "FAILED"), falsy
    assert outcomes[None] == ("SKIPPED", None, "SUCCEEDED")  # null: not run, else branch; the Assert sees 'unset'
    assert outcomes["False"] == ("SUCCESS", "SUCCESS", "SUCCEEDED")  # only the exact text 'false' is false
    assert outcomes["yes"] == ("SUCCESS", "SUCCESS", "SUCCEEDED")


KV_FLOW = """inputs:
  - id: deep
    type: BOOLEAN
    defaults: false
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('A') }} {{ kv('B', 'other') }} [{{ kv('GONE', errorOnMissing=false) }}]"
  - id: branch
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.deep }}"
    then:
      - id: needs_missing
        type: io.kestra.plugin.core.debug.Return
        format: "{{ kv('NOPE') }}"
"""


def test_kv_namespaces_and_missing_keys(tmp_path: Path) -> None:
    with function_double() as fd:
        fd.kv = {"tests/A": "a", "other/B": "b"}
        ex = _run(tmp_path, KV_FLOW, {}, fd)
        deep = _run(tmp_path, KV_FLOW, {"inputs": {"deep": True}}, fd)
        loads = [r for r in fd.requests if r["function"] == "kv"]
    # each task loads the keys it reads, tolerant of missing ones; a missing key fails only the task reading it
    assert [r["task"]["id"] for r in loads] == ["r_kv", "r_kv", "needs_missing_kv"]
    assert all(k["errorOnMissing"] is False for k in loads[0]["task"]["keys"])
    assert ex.state == "SUCCEEDED", ex.error
    assert ex.result["outputs"]["r"] == {"value": "a b []"}
    assert deep.state == "FAILED"
    assert deep.error["taskId"] == "needs_missing"
    assert "NOPE" in deep.error["message"]
    assert _states(deep)["r"] == "SUCCESS"


def test_kv_is_read_when_the_task_runs(tmp_path: Path) -> None:
    flow = ("tasks:\n  - id: set\n    type: io.kestra.plugin.core.kv.Set\n    key: K\n    value: fresh\n"
            "  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n"
            "      - id: r\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ kv('K') }}\"\n"
            "      - id: s\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ kv('K') }}!\"\n")
    with function_double() as fd:
        fd.kv = {"tests/K": "stale"}
        ex = _run(tmp_path, flow, {}, fd)
    assert ex.state == "SUCCEEDED", ex.error
    assert ex.result["outputs"]["r"] == {"value": "fresh"} and ex.result["outputs"]["s"] == {"value": "fresh!"}


def test_foreach_keyed_outputs_and_execution_state(tmp_path: Path) -> None:
    flow = ("tasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [\"a\", \"b\"]\n"
            "    tasks:\n      - id: t\n        type: io.kestra.plugin.core.debug.Return\n"
            "        format: \"v{{ taskrun.value }}\"\n"
            "  - id: after\n    type: io.kestra.plugin.core.debug.Return\n"
            "    format: \"{{ outputs.t['a'].value }}-{{ outputs.t['b'].value }}\"\n"
            "afterExecution:\n  - id: last\n    type: io.kestra.plugin.core.debug.Return\n"
            "    format: \"{{ execution.state }}\"\n")
    with function_double() as fd:
        ex = _run(tmp_path, flow, {}, fd)
    assert ex.state == "SUCCEEDED", ex.error
    assert ex.result["outputs"]["after"] == {"value": "va-vb"}
    assert ex.result["outputs"]["last"] == {"value": "SUCCESS"}
