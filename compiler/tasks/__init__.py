"""The task registry: each plugin family module exports `SPECS: list[TaskSpec]`; drop a module in and list it.

Families are tried in `FAMILIES` order; a family may claim only some tasks of a type (the shell
`wget | gunzip` idiom is claimed before the generic script family, which is optional).
"""

from __future__ import annotations

import importlib
from typing import Any

from compiler.tasks.base import TaskSpec

FAMILIES = (
    "compiler.tasks.core",
    "compiler.tasks.flowable",
    "compiler.tasks.jdbc_postgres",
    "compiler.tasks.jdbc_duckdb",
    "compiler.tasks.gcp_gcs",
    "compiler.tasks.gcp_bigquery",
    "compiler.tasks.shell_download",
    "compiler.tasks.scripts",
)

_REGISTRY: dict[str, list[TaskSpec]] | None = None


def registry() -> dict[str, list[TaskSpec]]:
    """Type (and alias) -> candidate specs, loaded once from every available family module."""
    global _REGISTRY
    if _REGISTRY is None:
        reg: dict[str, list[TaskSpec]] = {}
        for name in FAMILIES:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name == name:
                    continue  # optional family not installed yet
                raise
            for spec in getattr(module, "SPECS", []):
                for t in (spec.type, *spec.aliases):
                    reg.setdefault(t, []).append(spec)
        _REGISTRY = reg
    return _REGISTRY


def resolve(task: dict[str, Any]) -> tuple[TaskSpec | None, str | None]:
    """The spec that compiles `task`, or (None, why not) — an unknown type or no family claiming it."""
    candidates = registry().get(str(task.get("type")), [])
    reason = None
    for spec in candidates:
        why = spec.claims(task) if spec.claims else None
        if why is None:
            return spec, None
        reason = reason or why
    return None, reason


def supported_types() -> list[str]:
    return sorted({s.type for specs in registry().values() for s in specs})
