"""Deterministic YAML text for a compiled workflow, with a header comment naming its source flow."""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML


def _yaml() -> YAML:
    try:
        y = YAML(typ="safe", pure=False)
    except Exception:  # pragma: no cover - without ruamel.yaml.clib
        y = YAML(typ="safe", pure=True)
    y.default_flow_style = False
    y.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    y.width = 4096
    y.allow_unicode = True
    return y


_DUMPER = _yaml()


def to_yaml(document: Any, header: str) -> str:
    buf = io.StringIO()
    _DUMPER.dump(document, buf)
    lines = "".join(f"# {line}\n" for line in header.splitlines())
    return lines + buf.getvalue()
