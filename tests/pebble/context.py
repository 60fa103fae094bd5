"""A flow scope and a run context shared by the Pebble tests: what the compiler knows and what the run holds."""

from __future__ import annotations

from typing import Any

from compiler.pebble import CodegenContext, Scope

SCOPE = Scope(
    inputs={"taxi": "SELECT", "year": "SELECT", "month": "SELECT", "n": "INT", "f": "FLOAT", "flag": "BOOLEAN",
            "tags": "ARRAY", "d": "DATE", "dt": "DATETIME", "name": "STRING", "csv": "STRING", "path": "STRING",
            "json": "STRING", "empty": "STRING", "nul": "STRING"},
    nullable_inputs=frozenset({"nul"}),
    variables={
        "file": "{{inputs.taxi}}_tripdata_{{inputs.year}}-{{inputs.month}}.csv",
        "table": "public.{{inputs.taxi}}_tripdata",
        "staging": "{{ render(vars.table) }}_staging",
        "gcs": "gs://{{ kv('GCP_BUCKET_NAME') }}/{{ vars.file }}",
        "n": 5,
        "list": [1, 2, 3],
        "obj": {"a": "x"},
        "shell": {"cmd": "echo ${HOME}", "args": ["${1}"]},
    },
    tasks={"extract": frozenset({"uri", "outputFiles"}), "count": None, "my-task": None},
    all_tasks=frozenset({"extract", "count", "my-task", "load"}),
    task_types={"extract": "io.kestra.plugin.core.http.Download"},
    has_trigger=True,
    in_loop=True,
    working_dir=True,
    flow_id="postgres_taxi",
    namespace="zoomcamp",
    task_id="extract_step",
    task_type="io.kestra.plugin.core.log.Log",
)

CTX = CodegenContext(SCOPE)
CTX_HOIST = CodegenContext(SCOPE, hoist=True, temp_prefix="_t")

RUN: dict[str, Any] = {
    "inputs": {"taxi": "green", "year": "2019", "month": "02", "n": 3, "f": 2.5, "flag": True, "tags": ["a", "b"],
               "d": "2024-03-15", "dt": "2024-01-31T10:00:00Z", "name": "  Hello World  ", "csv": "a,b,c",
               "path": "dir/sub/file.csv.gz", "json": '{"k": [1, 2]}', "empty": "", "nul": None},
    "trigger": {"date": "2024-03-01T00:00:00+01:00", "next": "2024-04-01T00:00:00+02:00",
                "previous": "2024-02-01T00:00:00+01:00"},
    "execution": {"id": "exec123", "startDate": "2024-03-01T08:30:15.123456Z"},
    "outputs": {"extract": {"uri": "gs://b/e/x.csv", "outputFiles": {"green_tripdata_2019-02.csv": "gs://b/out.csv"}},
                "count": {"rowCount": 42, "vars": {"a": 1}}, "my-task": {"value": "v"}},
    "labels": {"team": "data"},
    "kv": {"GCP_PROJECT_ID": "proj", "GCP_BUCKET_NAME": "bkt", "other/K": "x"},
    "taskrun": {"value": "item1", "iteration": 2},
}
