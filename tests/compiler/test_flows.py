"""The course flows in flows/: supported ones validate and compile, schema-valid, deterministic, golden."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from compiler.api import compile_paths, validate_paths
from tests.compiler.conftest import FLOWS

GOLDEN = Path(__file__).with_name("golden")
UNSUPPORTED = {"chat_with_rag.yaml", "git_sync.yaml"}  # AI and git plugins: no mapping yet
SUPPORTED = sorted(p.name for p in FLOWS.glob("*.yaml") if p.name not in UNSUPPORTED)


def test_flows_directory_has_the_course_flows() -> None:
    names = {p.stem for p in FLOWS.glob("*.yaml")}
    assert {"hello_world", "postgres_taxi", "postgres_taxi_scheduled", "gcp_kv", "gcp_setup", "gcp_taxi",
            "gcp_taxi_scheduled", "chat_with_rag", "git_sync", "python_example", "getting_started_pipeline"} <= names


@pytest.mark.parametrize("name", SUPPORTED)
def test_supported_flow_validates(name: str) -> None:
    assert [d.format() for d in validate_paths([FLOWS / name])] == []


def test_unsupported_flows_fail_only_with_unsupported_task_type() -> None:
    diags = validate_paths([FLOWS / n for n in sorted(UNSUPPORTED)])
    assert {Path(d.path).name for d in diags} == UNSUPPORTED
    assert all("unsupported task type" in d.message for d in diags), [d.format() for d in diags]


@pytest.fixture(scope="module")
def compiled() -> dict[str, str]:
    cwd = os.getcwd()
    os.chdir(FLOWS.parent)  # relative paths: the header names `flows/<file>` wherever the checkout is
    try:
        result = compile_paths([Path("flows") / n for n in SUPPORTED])
    finally:
        os.chdir(cwd)
    assert result.ok, [d.format() for d in result.diagnostics]
    return result.workflows


def test_every_workflow_matches_the_schema(compiled: dict[str, str],
                                          schema_validator: jsonschema.Draft7Validator) -> None:
    for wid, text in compiled.items():
        doc = YAML(typ="safe").load(text)
        errors = [e.message for e in schema_validator.iter_errors(doc)]
        assert errors == [], (wid, errors[:3])
        assert len(text.encode()) < 128 * 1024
        assert text.startswith("# Compiled by kestra-gcp from ")


def test_compiling_twice_gives_identical_bytes(tmp_path: Path) -> None:
    paths = [FLOWS / n for n in SUPPORTED]
    compile_paths(paths).write(tmp_path / "a")
    compile_paths(paths).write(tmp_path / "b")
    for file in sorted((tmp_path / "a").rglob("*")):
        if file.is_file():
            assert file.read_bytes() == (tmp_path / "b" / file.relative_to(tmp_path / "a")).read_bytes()


# a golden file for every supported flow
@pytest.mark.parametrize("wid", ["zoomcamp-hello_world", "zoomcamp-postgres_taxi", "zoomcamp-gcp_taxi",
                                 "zoomcamp-postgres_taxi_scheduled", "zoomcamp-gcp_kv", "zoomcamp-gcp_setup",
                                 "zoomcamp-gcp_taxi_scheduled", "zoomcamp-getting_started_pipeline",
                                 "zoomcamp-python_example"])
def test_golden(wid: str, compiled: dict[str, str]) -> None:
    golden = GOLDEN / f"{wid}.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(compiled[wid])
    assert compiled[wid] == golden.read_text(), f"run UPDATE_GOLDEN=1 pytest {__file__} after checking the diff"


def test_schedules_and_manifest() -> None:
    result = compile_paths([FLOWS / n for n in SUPPORTED])
    names = [s["name"] for s in result.schedules]
    assert names == sorted(names)
    green = next(s for s in result.schedules if s["name"] == "zoomcamp-postgres_taxi_scheduled-green_schedule")
    assert green["cron"] == "0 9 1 * *" and green["timeZone"] == "UTC" and green["inputs"] == {"taxi": "green"}
    assert green["body"]["concurrency"] == {"limit": 1, "behavior": "QUEUE"} and green["paused"] is False
    hello = next(s for s in result.schedules if s["workflow"] == "zoomcamp-hello_world")
    assert hello["paused"] is True
    pg = result.manifest["flows"]["zoomcamp-postgres_taxi"]
    assert pg["functions"] == ["download", "postgres", "purge"]
    assert pg["postgres"] == [{"host": "pgdatabase", "port": 5432, "database": "ny_taxi", "key": "pgdatabase:5432"}]
    gcp = result.manifest["flows"]["zoomcamp-gcp_taxi"]
    assert {k["key"] for k in gcp["kv"]["read"]} == {"GCP_BUCKET_NAME", "GCP_DATASET", "GCP_PROJECT_ID",
                                                       "GCP_LOCATION"}
    assert gcp["secrets"] == []  # serviceAccount from pluginDefaults is dropped, never sent
    setup = result.manifest["flows"]["zoomcamp-gcp_setup"]
    assert setup["buckets"][0]["constant"] is False and setup["datasets"][0]["constant"] is False
    kv = result.manifest["flows"]["zoomcamp-gcp_kv"]["kv"]["write"]
    assert {k["key"] for k in kv} == {"GCP_PROJECT_ID", "GCP_LOCATION", "GCP_BUCKET_NAME", "GCP_DATASET"}
    json.dumps(result.manifest)


def test_no_secret_reference_leaks_as_value() -> None:
    result = compile_paths([FLOWS / "gcp_taxi.yaml"])
    text = result.workflows["zoomcamp-gcp_taxi"]
    assert "serviceAccount" not in text and "GCP_SERVICE_ACCOUNT" not in text


def _expressions(value: object) -> list[str]:
    if isinstance(value, dict):
        return [e for v in value.values() for e in _expressions(v)]
    if isinstance(value, list):
        return [e for v in value for e in _expressions(v)]
    return [value] if isinstance(value, str) and value.startswith("${") else []


def test_expressions_stay_short(compiled: dict[str, str]) -> None:
    """Long templates (the SQL of the taxi flows) are built in assign steps, one short expression each."""
    from compiler.backend.expressions import EXPRESSION_LIMIT

    for wid, text in compiled.items():
        longest = max(_expressions(YAML(typ="safe").load(text)), key=len)
        assert len(longest) <= EXPRESSION_LIMIT, (wid, longest[:120])
