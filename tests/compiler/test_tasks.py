"""One test per row of the DESIGN.md task mapping table: what each Kestra task compiles to."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from compiler.api import CompileResult, compile_paths

HEAD = "id: t\nnamespace: tests\n"


def _steps(doc: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (name, step) in a workflow document, depth first."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            if (isinstance(value, dict) and key not in ("args", "body", "assign", "raise", "return")
                    and any(k in value for k in ("call", "assign", "switch", "for", "parallel", "raise", "try",
                                                 "steps", "return", "next"))):
                yield key, value
            yield from _steps(value)
    elif isinstance(doc, list):
        for item in doc:
            yield from _steps(item)


class Compiled:
    def __init__(self, result: CompileResult) -> None:
        assert result.ok, [d.format() for d in result.diagnostics]
        self.result = result
        self.text = result.workflows["tests-t"]
        self.doc = YAML(typ="safe").load(self.text)
        self.steps = dict(_steps(self.doc["main"]))

    def step(self, name: str) -> dict[str, Any]:
        return self.steps[name]


@pytest.fixture
def one(compile_text: Callable[[str], CompileResult]) -> Callable[[str], Compiled]:
    def run(tasks: str, extra: str = "") -> Compiled:
        return Compiled(compile_text(HEAD + extra + "tasks:\n" + tasks))

    return run


def test_log(one: Callable[..., Compiled]) -> None:
    c = one("  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n    level: WARN\n")
    assert c.step("l_log") == {"call": "sys.log", "args": {"text": "hi", "severity": "WARNING"}}


def test_return_and_output_values(one: Callable[..., Compiled]) -> None:
    c = one("  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: x\n"
            "  - id: o\n    type: io.kestra.plugin.core.output.OutputValues\n    values:\n      a: 1\n")
    assert c.step("r_outputs") == {"assign": [{"outputs.r": {"value": "x"}}]}
    assert c.step("o_outputs") == {"assign": [{"outputs.o": {"values": {"a": 1}}}]}


def test_sleep_fail_assert(one: Callable[..., Compiled]) -> None:
    c = one("  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT1M30S\n"
            "  - id: a\n    type: io.kestra.plugin.core.execution.Assert\n    conditions:\n      - \"{{ 1 == 1 }}\"\n"
            "  - id: f\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: boom\n")
    assert c.step("s_sleep") == {"call": "sys.sleep", "args": {"seconds": 90.0}}
    # a condition known at compile time: the assertion can never fail
    assert c.step("a_assert1")["switch"][0]["condition"] is False
    assert c.step("f_fail") == {"raise": {"tags": ["KestraTaskError"], "message": "boom"}}


def test_if_switch(one: Callable[..., Compiled]) -> None:
    c = one("  - id: i\n    type: io.kestra.plugin.core.flow.If\n    condition: \"{{ inputs.x == 'a' }}\"\n"
            "    then:\n      - id: t1\n        type: io.kestra.plugin.core.log.Log\n        message: a\n"
            "  - id: s\n    type: io.kestra.plugin.core.flow.Switch\n    value: \"{{ inputs.x }}\"\n"
            "    cases:\n      a:\n        - id: c1\n          type: io.kestra.plugin.core.log.Log\n"
            "          message: a\n    defaults:\n      - id: d1\n        type: io.kestra.plugin.core.log.Log\n"
            "          message: d\n".replace("          message: d", "        message: d"),
            "inputs:\n  - id: x\n    type: STRING\n    defaults: a\n")
    assert "switch" in c.step("i_switch")
    cases = c.step("s_select")["switch"]
    assert cases[0]["condition"] == '${s_value == "a"}' and cases[-1]["condition"] is True


def test_foreach_sequential_and_parallel(one: Callable[..., Compiled]) -> None:
    body = ("    tasks:\n      - id: {c}\n        type: io.kestra.plugin.core.log.Log\n"
            "        message: \"{{{{ taskrun.value }}}}\"\n")
    c = one("  - id: seq\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [1, 2]\n" + body.format(c="a")
            + "  - id: par\n    type: io.kestra.plugin.core.flow.ForEach\n    values: \"{{ inputs.v }}\"\n"
            "    concurrencyLimit: 3\n" + body.format(c="b"),
            "inputs:\n  - id: v\n    type: JSON\n    defaults: '[1, 2]'\n")
    assert c.step("seq_loop")["for"]["in"] == [1, 2]
    par = c.step("par_loop")["parallel"]
    assert par["concurrency_limit"] == 3 and "outputs" in par["shared"] and par["for"]["in"] == "${par_items}"
    assert c.step("par_values")["call"] == "kestra_list"


def test_parallel_chunks_past_ten_branches(one: Callable[..., Compiled]) -> None:
    kids = "".join(f"      - id: k{i}\n        type: io.kestra.plugin.core.log.Log\n        message: x\n"
                   for i in range(12))
    c = one("  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n" + kids)
    assert len(c.step("p_parallel1")["parallel"]["branches"]) == 10
    assert len(c.step("p_parallel2")["parallel"]["branches"]) == 2


NESTED = """
  - id: p1
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: p2
        type: io.kestra.plugin.core.flow.Parallel
        tasks:
          - id: p3
            type: io.kestra.plugin.core.flow.Parallel
            tasks:
              - id: l3
                type: io.kestra.plugin.core.log.Log
                message: x
"""


def test_parallel_nesting_limit(compile_text: Callable[[str], CompileResult]) -> None:
    result = compile_text(HEAD + "tasks:" + NESTED)
    assert [d.message for d in result.diagnostics] == [
        "parallel nesting deeper than 2 levels (a Cloud Workflows limit)"]
    assert (result.diagnostics[0].line, result.diagnostics[0].col) == (10, 13)


def test_sequential_and_subflow(compile_text: Callable[..., CompileResult], tmp_path: Path) -> None:
    compile_text("id: child\nnamespace: tests\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n"
                 "    message: x\n", "child.yaml")
    parent = compile_text(HEAD + "tasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Sequential\n"
                          "    tasks:\n      - id: call\n        type: io.kestra.plugin.core.flow.Subflow\n"
                          "        namespace: tests\n        flowId: child\n        wait: false\n")
    assert [d.format().split(": ", 1)[1] for d in parent.diagnostics] == [
        "warning: Subflow target 'tests.child' is not among the compiled flows: deploy it too"]
    c = Compiled(compile_paths([tmp_path]))
    create = c.step("call_create")
    assert create["call"].endswith("workflows.executions.create")
    assert "tests-child" in create["args"]["parent"]
    assert c.result.manifest["flows"]["tests-t"]["subflows"] == ["tests-child"]


def test_labels_task(one: Callable[..., Compiled]) -> None:
    c = one("  - id: lb\n    type: io.kestra.plugin.core.execution.Labels\n    labels:\n      team: data\n")
    assert c.step("lb_labels") == {"assign": [{"labels.team": "data"}]}


def test_kv_tasks_and_kv_function(one: Callable[..., Compiled]) -> None:
    c = one("  - id: set\n    type: io.kestra.plugin.core.kv.Set\n    key: K\n    value: 1\n"
            "  - id: use\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ kv('OTHER') }}\"\n")
    call = c.step("set_call")
    assert call["args"]["url"] == '${sys.get_env("KESTRA_GCP_FN_KV")}'
    assert call["args"]["body"]["task"] == {"id": "set", "type": "io.kestra.plugin.core.kv.Set", "key": "K",
                                            "value": 1, "namespace": "tests"}
    assert c.step("use_kv")["args"]["body"]["task"]["keys"] == [
        {"namespace": "tests", "key": "OTHER", "errorOnMissing": False}]
    manifest = c.result.manifest["flows"]["tests-t"]["kv"]
    assert manifest == {"read": [{"namespace": "tests", "key": "OTHER"}],
                        "write": [{"namespace": "tests", "key": "K"}]}


def test_purge_download_request(one: Callable[..., Compiled]) -> None:
    c = one("  - id: d\n    type: io.kestra.plugin.core.http.Download\n    uri: https://x/y\n    timeout: PT5M\n"
            "  - id: r\n    type: io.kestra.plugin.core.http.Request\n    uri: https://x/api\n    method: POST\n"
            "    body: '{\"a\": 1}'\n"
            "  - id: p\n    type: io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles\n")
    dl = c.step("d_call")
    assert dl["call"] == "http.post" and dl["args"]["auth"] == {"type": "OIDC"} and dl["args"]["timeout"] == 300
    assert c.step("r_request")["call"] == "http.request"
    assert c.step("p_call")["args"]["url"] == '${sys.get_env("KESTRA_GCP_FN_PURGE")}'


def test_shell_wget_idiom(one: Callable[..., Compiled]) -> None:
    c = one("  - id: ex\n    type: io.kestra.plugin.scripts.shell.Commands\n    outputFiles: ['*.csv']\n"
            "    commands:\n      - wget -qO- https://h/{{ inputs.f }}.gz | gunzip > {{ inputs.f }}\n",
            "inputs:\n  - id: f\n    type: STRING\n    defaults: a.csv\n")
    task = c.step("ex_call")["args"]["body"]["task"]
    assert task["type"] == "io.kestra.plugin.core.http.Download" and task["gunzip"] is True
    assert c.step("ex_file")["assign"][1] == {"outputs.ex.outputFiles[ex_name]": "${ex_response.body.outputs.uri}"}


def test_jdbc_and_duckdb(one: Callable[..., Compiled]) -> None:
    c = one("  - id: q\n    type: io.kestra.plugin.jdbc.postgresql.CopyIn\n    url: jdbc:postgresql://db:5433/x\n"
            "    from: gs://b/o.csv\n    table: t\n    format: CSV\n"
            "  - id: dq\n    type: io.kestra.plugin.jdbc.duckdb.Query\n"
            "    sql: SELECT * FROM '{{ workingDir }}/a.csv'\n")
    assert c.step("q_call")["args"]["body"]["task"]["from"] == "gs://b/o.csv"
    assert c.step("dq_call")["args"]["body"]["task"]["sql"] == "SELECT * FROM '{{workingDir}}/a.csv'"
    assert c.result.manifest["flows"]["tests-t"]["postgres"][0]["key"] == "db:5433"


def test_duckdb_output_files_are_left_for_the_function(one: Callable[..., Compiled]) -> None:
    c = one("  - id: dq\n    type: io.kestra.plugin.jdbc.duckdb.Query\n    outputFiles: [out, 'a b.csv']\n"
            "    sql: COPY t TO '{{ outputFiles.out }}'; COPY t TO '{{ outputFiles['a b.csv'] }}'\n")
    assert c.step("dq_call")["args"]["body"]["task"]["sql"] == (
        "COPY t TO '{{outputFiles.out}}'; COPY t TO '{{outputFiles['a b.csv']}}'")


def test_output_files_outside_duckdb_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text("id: t\nnamespace: tests\ntasks:\n  - id: l\n"
                                     "    type: io.kestra.plugin.core.log.Log\n    message: '{{ outputFiles.out }}'\n")
    result = compile_paths([tmp_path / "f.yaml"])
    assert not result.ok
    assert [d.format() for d in result.diagnostics if d.severity.value == "error"] == [
        f"{tmp_path / 'f.yaml'}:6:18: error: 'outputFiles' is only available in DuckDB tasks "
        "({{ outputFiles.NAME }} or {{ outputFiles['NAME'] }})"]


def test_gcp_tasks_drop_service_account(one: Callable[..., Compiled]) -> None:
    c = one("  - id: up\n    type: io.kestra.plugin.gcp.gcs.Upload\n    from: gs://a/b\n    to: gs://c/d\n"
            "  - id: bq\n    type: io.kestra.plugin.gcp.bigquery.Query\n    sql: SELECT 1\n"
            "  - id: mk\n    type: io.kestra.plugin.gcp.gcs.CreateBucket\n    name: my-bucket\n    location: EU\n",
            "pluginDefaults:\n  - type: io.kestra.plugin.gcp\n    values:\n"
            "      serviceAccount: \"{{ secret('SA') }}\"\n      projectId: p1\n")
    up = c.step("up_call")["args"]["body"]["task"]
    assert "serviceAccount" not in up and up["projectId"] == "p1" and up["from"] == "gs://a/b"
    assert c.step("bq_call")["args"]["url"] == '${sys.get_env("KESTRA_GCP_FN_BIGQUERY")}'
    assert c.result.manifest["flows"]["tests-t"]["buckets"] == [{"name": "my-bucket", "location": "EU",
                                                                 "constant": True}]
    assert "SA" not in c.text


def test_secret_is_a_marker(one: Callable[..., Compiled]) -> None:
    c = one("  - id: q\n    type: io.kestra.plugin.jdbc.postgresql.Query\n    url: jdbc:postgresql://db/x\n"
            "    password: \"{{ secret('PG_PASSWORD') }}\"\n    sql: SELECT 1\n")
    assert c.step("q_call")["args"]["body"]["task"]["password"] == "{{secret:PG_PASSWORD}}"
    assert c.result.manifest["flows"]["tests-t"]["secrets"] == ["PG_PASSWORD"]


@pytest.mark.parametrize("retry, expected", [
    ("type: constant\n      interval: PT10S\n      maxAttempts: 3",
     {"max_retries": 2, "backoff": {"initial_delay": 10, "max_delay": 10, "multiplier": 1}}),
    ("type: exponential\n      interval: PT1S\n      maxInterval: PT1M\n      maxAttempts: 5",
     {"max_retries": 4, "backoff": {"initial_delay": 1, "max_delay": 60, "multiplier": 2}}),
    ("type: random\n      minInterval: PT2S\n      maxInterval: PT4S\n      maxAttempts: 2",
     {"max_retries": 1, "backoff": {"initial_delay": 3, "max_delay": 3, "multiplier": 1}}),
])
def test_retry_policies(one: Callable[..., Compiled], retry: str, expected: dict[str, Any]) -> None:
    c = one(f"  - id: d\n    type: io.kestra.plugin.core.http.Download\n    uri: https://x\n"
            f"    retry:\n      {retry}\n")
    assert c.step("d_try")["retry"] == {"predicate": "${kestra_transient}", **expected}


def test_flow_retry_applies_to_tasks(one: Callable[..., Compiled]) -> None:
    c = one("  - id: d\n    type: io.kestra.plugin.core.http.Download\n    uri: https://x\n",
            "retry:\n  type: constant\n  interval: PT1S\n  maxAttempts: 2\n")
    assert c.step("d_try")["retry"]["max_retries"] == 1


def test_schedule_trigger(compile_text: Callable[[str], CompileResult]) -> None:
    result = compile_text(HEAD + "tasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: x\n"
                          "triggers:\n  - id: nightly\n    type: io.kestra.plugin.core.trigger.Schedule\n"
                          "    cron: \"0 0 0 * * *\"\n    withSeconds: true\n    timezone: Europe/Paris\n")
    assert result.schedules[0]["cron"] == "0 0 * * *" and result.schedules[0]["timeZone"] == "Europe/Paris"
    assert result.manifest["flows"]["tests-t"]["triggers"]["schedules"] == ["tests-t-nightly"]


def test_webhook_trigger(compile_text: Callable[[str], CompileResult]) -> None:
    result = compile_text(HEAD + "tasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: x\n"
                          "triggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: abc\n")
    assert result.manifest["flows"]["tests-t"]["triggers"]["webhooks"] == [{"id": "hook", "key": "abc"}]


def test_plugin_defaults_prefix_and_forced(one: Callable[..., Compiled]) -> None:
    c = one("  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: mine\n"
            "  - id: b\n    type: io.kestra.plugin.core.log.Log\n    message: other\n    level: DEBUG\n",
            "pluginDefaults:\n  - type: io.kestra.plugin.core.log\n    values:\n      level: ERROR\n"
            "  - type: io.kestra.plugin.core.log.Log\n    forced: true\n    values:\n      message: forced\n")
    assert c.step("a_log")["args"] == {"text": "forced", "severity": "ERROR"}
    assert c.step("b_log")["args"] == {"text": "forced", "severity": "DEBUG"}


def test_disabled_task_is_removed(one: Callable[..., Compiled]) -> None:
    c = one("  - id: off\n    type: io.kestra.plugin.core.log.Log\n    message: x\n    disabled: true\n"
            "  - id: on\n    type: io.kestra.plugin.core.log.Log\n    message: y\n")
    assert "off" not in c.steps and "on_log" in c.steps


def test_webhook_secret_key_is_a_marker(compile_text: Callable[[str], CompileResult]) -> None:
    result = compile_text(HEAD + "tasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: x\n"
                          "triggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n"
                          "    key: \"{{ secret('HOOK_KEY') }}\"\n")
    entry = result.manifest["flows"]["tests-t"]
    assert entry["triggers"]["webhooks"] == [{"id": "hook", "key": "{{secret:HOOK_KEY}}"}]
    assert entry["secrets"] == ["HOOK_KEY"]


@pytest.mark.parametrize("ktype, props, function", [
    ("io.kestra.plugin.core.kv.Get", "key: K", "KV"),
    ("io.kestra.plugin.core.kv.Delete", "key: K", "KV"),
    ("io.kestra.plugin.jdbc.postgresql.Query", "url: jdbc:postgresql://h/db\n    sql: SELECT 1", "POSTGRES"),
    ("io.kestra.plugin.jdbc.postgresql.Queries", "url: jdbc:postgresql://h/db\n    sql: SELECT 1; SELECT 2",
     "POSTGRES"),
    ("io.kestra.plugin.jdbc.postgresql.CopyOut", "url: jdbc:postgresql://h/db\n    table: t", "POSTGRES"),
    ("io.kestra.plugin.jdbc.duckdb.Queries", "sql: SELECT 1", "DUCKDB"),
    ("io.kestra.plugin.gcp.gcs.Download", "from: gs://b/o", "GCS"),
    ("io.kestra.plugin.gcp.gcs.Copy", "from: gs://b/o\n    to: gs://c/o", "GCS"),
    ("io.kestra.plugin.gcp.gcs.Delete", "uri: gs://b/o", "GCS"),
    ("io.kestra.plugin.gcp.gcs.List", "from: gs://b/", "GCS"),
    ("io.kestra.plugin.gcp.bigquery.Load", "from: gs://b/o.csv\n    destinationTable: p.d.t", "BIGQUERY"),
    ("io.kestra.plugin.gcp.bigquery.LoadFromGcs", "from: [\"gs://b/o.csv\"]\n    destinationTable: p.d.t", "BIGQUERY"),
    ("io.kestra.plugin.gcp.bigquery.CreateDataset", "name: ds\n    ifExists: SKIP", "BIGQUERY"),
])
def test_data_tasks_call_their_function(one: Callable[..., Compiled], ktype: str, props: str, function: str) -> None:
    c = one(f"  - id: t1\n    type: {ktype}\n    {props}\n")
    call = c.step("t1_call")
    assert call["call"] == "http.post" and call["args"]["auth"] == {"type": "OIDC"}
    assert call["args"]["url"] == f'${{sys.get_env("KESTRA_GCP_FN_{function}")}}'
    assert call["args"]["body"]["task"]["type"] == ktype
    assert c.step("t1_outputs") == {"assign": [{"outputs.t1": "${t1_response.body.outputs}"}]}


def test_each_sequential_and_each_parallel(one: Callable[..., Compiled]) -> None:
    c = one("  - id: es\n    type: io.kestra.plugin.core.flow.EachSequential\n    value: '[1, 2]'\n    tasks:\n"
            "      - id: a\n        type: io.kestra.plugin.core.log.Log\n        message: x\n"
            "  - id: ep\n    type: io.kestra.plugin.core.flow.EachParallel\n    value: [1, 2]\n    concurrent: 2\n"
            "    tasks:\n      - id: b\n        type: io.kestra.plugin.core.log.Log\n        message: y\n")
    assert "for" in c.step("es_loop") and c.step("es_values")["call"] == "kestra_list"
    assert c.step("ep_loop")["parallel"]["concurrency_limit"] == 2


def test_subflow_wait_uses_the_run_connector(compile_text: Callable[..., CompileResult], tmp_path: Path) -> None:
    compile_text("id: child\nnamespace: tests\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n"
                 "    message: x\n", "child.yaml")
    compile_text(HEAD + "tasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n"
                 "    namespace: tests\n    flowId: child\n    inputs:\n      a: 1\n    transmitFailed: false\n")
    c = Compiled(compile_paths([tmp_path]))
    guard = c.step("call_guard")
    run = guard["try"]["steps"][0]["call_run"]
    assert run["call"] == "googleapis.workflowexecutions.v1.projects.locations.workflows.executions.run"
    assert run["args"]["workflow_id"] == "tests-child" and run["args"]["argument"]["inputs"] == {"a": 1}
    assert "except" in guard
