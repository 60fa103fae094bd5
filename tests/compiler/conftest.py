"""Shared helpers for compiler tests: compile YAML text from a temp dir, the Workflows JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from compiler.api import CompileResult, compile_paths

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"
SCHEMA_PATH = Path("/work/shared/schemas/workflows.schema.json")
LOCAL_SCHEMA = Path(__file__).with_name("workflows.schema.json")


@pytest.fixture(scope="session")
def schema_validator() -> jsonschema.Draft7Validator:
    path = LOCAL_SCHEMA if LOCAL_SCHEMA.exists() else SCHEMA_PATH
    return jsonschema.Draft7Validator(json.loads(path.read_text()))


@pytest.fixture
def compile_text(tmp_path: Path) -> Callable[..., CompileResult]:
    def run(text: str, name: str = "flow.yaml") -> CompileResult:
        path = tmp_path / name
        path.write_text(text)
        return compile_paths([path])

    return run
