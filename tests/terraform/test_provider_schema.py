"""Every argument and nested block of every google_* resource in terraform/ exists in the Google provider's
schema — the part of `terraform validate` that can run offline. The schema is read from the provider's
generated bindings (cdktn-provider-google in .venv-tools, parsed as source, never imported): one module per
resource type, one class per block whose __init__ parameters are the block's arguments."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.terraform.tfhelpers import REPO, TERRAFORM_DIR, Block, parse_dir

META_ARGUMENTS = {"for_each", "count", "depends_on", "lifecycle", "provider", "__comments__"}


def _bindings() -> Path | None:
    found = sorted((REPO / ".venv-tools" / "lib").glob("python3*/site-packages/cdktn_provider_google"))
    return found[0] if found else None


BINDINGS = _bindings()
pytestmark = pytest.mark.skipif(BINDINGS is None, reason="run scripts/setup.sh: .venv-tools with cdktn-provider-google")


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


@cache
def block_classes(module: str) -> dict[str, frozenset[str]]:
    """Class name -> its constructor's parameter names, for one resource module."""
    assert BINDINGS is not None
    tree = ast.parse((BINDINGS / module / "__init__.py").read_text(encoding="utf-8"))
    classes: dict[str, frozenset[str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                params = {a.arg for a in item.args.args + item.args.kwonlyargs}
                classes[node.name] = frozenset(params - {"self", "scope", "id_"})
    return classes


@cache
def resource_attributes(module: str) -> frozenset[str]:
    """The attributes a resource exports (the properties of its main class)."""
    assert BINDINGS is not None
    tree = ast.parse((BINDINGS / module / "__init__.py").read_text(encoding="utf-8"))
    main = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == camel(module))
    return frozenset(f.name for f in main.body if isinstance(f, ast.FunctionDef))


REFERENCE = re.compile(r"\b(google_[a-z0-9_]+)\.([a-z0-9_]+)(?:\[[^\]]*\])?\.([a-z_]+)")


def test_referenced_attributes_exist() -> None:
    problems = []
    for path in sorted(TERRAFORM_DIR.glob("*.tf")):
        for rtype, name, attr in REFERENCE.findall(path.read_text(encoding="utf-8")):
            module = rtype.removeprefix("google_")
            if (BINDINGS / module).is_dir() and attr not in resource_attributes(module):
                problems.append(f"{path.name}: {rtype}.{name}.{attr}")
    assert not problems, "\n".join(problems)


def unknown_arguments(module: str, cls: str, body: dict[str, Any], where: str) -> list[str]:
    classes = block_classes(module)
    if cls not in classes:
        return [f"{where}: no block class {cls}"]
    problems: list[str] = []
    for key, value in body.items():
        if key in META_ARGUMENTS:
            continue
        if key not in classes[cls]:
            problems.append(f"{where}: unknown argument '{key}'")
            continue
        nested = f"{cls.removesuffix('Config')}{camel(key)}"
        if nested not in classes:
            continue  # an attribute (possibly a map), not a block
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                problems += unknown_arguments(module, nested, item, f"{where}.{key}")
    return problems


def google_blocks() -> list[Block]:
    return [b for b in parse_dir() if b.kind == "resource" and b.type.startswith("google_")]


@pytest.mark.parametrize("block", google_blocks(), ids=lambda b: f"{b.type}.{b.name}")
def test_arguments_exist_in_provider_schema(block: Block) -> None:
    module = block.type.removeprefix("google_")
    assert BINDINGS is not None and (BINDINGS / module).is_dir(), f"{block.type}: no such resource type"
    where = f"{block.file}: {block.type}.{block.name}"
    problems = unknown_arguments(module, camel(module) + "Config", block.body, where)
    assert not problems, "\n".join(problems)


def test_a_wrong_argument_is_caught() -> None:
    body = {"template": [{"template": [{"containers": [{"imagez": "x"}], "volumes": [{"gcs": [{"buckett": "b"}]}]}]}]}
    problems = unknown_arguments("cloud_run_v2_job", "CloudRunV2JobConfig", body, "probe")
    assert problems == [
        "probe.template.template.containers: unknown argument 'imagez'",
        "probe.template.template.volumes.gcs: unknown argument 'buckett'",
    ]
