"""Shared helpers for compiler tests: compile YAML text from a temp dir, the Workflows JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from compiler.api import CompileResult, compile_paths

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"
SCHEMA_PATH = Path("/work/shared/schemas/workflows.schema.json")
LOCAL_SCHEMA = Path(__file__).with_name("workflows.schema.json")


def _validator() -> jsonschema.Draft7Validator:
    path = LOCAL_SCHEMA if LOCAL_SCHEMA.exists() else SCHEMA_PATH
    return jsonschema.Draft7Validator(json.loads(path.read_text()))


VALIDATOR = _validator()


def assert_schema_valid(workflows: dict[str, str]) -> None:
    """Every compiled workflow validates against the Cloud Workflows JSON Schema."""
    for wid, text in workflows.items():
        errors = [e.message[:200] for e in VALIDATOR.iter_errors(YAML(typ="safe").load(text))]
        assert errors == [], (wid, errors[:3])


@pytest.fixture(scope="session")
def schema_validator() -> jsonschema.Draft7Validator:
    return VALIDATOR


@pytest.fixture
def compile_text(tmp_path: Path) -> Callable[..., CompileResult]:
    def run(text: str, name: str = "flow.yaml") -> CompileResult:
        path = tmp_path / name
        path.write_text(text)
        result = compile_paths([path])
        assert_schema_valid(result.workflows)
        return result

    return run
