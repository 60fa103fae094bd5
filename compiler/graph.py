"""A Mermaid flowchart of a compiled workflow's steps (nested steps become subgraphs)."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML

_HIDDEN = ("_begin", "_end", "_attempt", "_error", "_failed", "_first_failure", "_raise", "_outputs")


def _label(name: str, step: dict[str, Any]) -> str:
    for kind in ("call", "switch", "for", "parallel", "raise", "return", "assign", "try", "steps"):
        if kind in step:
            detail = step["call"] if kind == "call" else kind
            return f"{name}<br/>{detail}"
    return name


def mermaid(workflow_yaml: str) -> str:
    doc = YAML(typ="safe").load(workflow_yaml)
    lines = ["flowchart TD"]
    counter = [0]

    def node_id() -> str:
        counter[0] += 1
        return f"s{counter[0]}"

    def walk(steps: list[dict[str, Any]], indent: str) -> tuple[str | None, str | None]:
        first = prev = None
        for item in steps:
            (name, step), = item.items()
            if name.endswith(_HIDDEN):
                continue
            me = node_id()
            inner = step.get("steps") or (step.get("try") or {}).get("steps") if isinstance(step, dict) else None
            if isinstance(step, dict) and "try" in step and isinstance(step["try"], dict):
                inner = step["try"].get("steps")
            if inner:
                lines.append(f"{indent}subgraph {me}[{name}]")
                walk(inner, indent + "  ")
                lines.append(f"{indent}end")
            else:
                lines.append(f'{indent}{me}["{_label(name, step if isinstance(step, dict) else {})}"]')
            if prev:
                lines.append(f"{indent}{prev} --> {me}")
            first = first or me
            prev = me
        return first, prev

    walk(doc["main"]["steps"], "  ")
    return "\n".join(lines)
