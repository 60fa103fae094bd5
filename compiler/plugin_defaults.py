"""pluginDefaults as Kestra applies them: raw type-prefix match, deep merge filling unset keys, `forced` wins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compiler.yamlsource import Path, SourceMap


@dataclass(frozen=True)
class PluginDefault:
    type: str
    values: dict[str, Any]
    forced: bool
    path: Path  # of the entry's `values`


def _merge(target: dict[str, Any], values: dict[str, Any], forced: bool, source: SourceMap,
           src: Path, dst: Path) -> None:
    for key, value in values.items():
        if key in ("id", "type"):
            continue
        here = target.get(key)
        if isinstance(here, dict) and isinstance(value, dict):
            _merge(here, value, forced, source, (*src, key), (*dst, key))
        elif isinstance(here, list) and isinstance(value, list) and not forced:
            target[key] = here + [v for v in value if v not in here]
        elif key not in target or forced:
            if key in target:  # forced over a value of the task: forget where the old one was
                for table in (source.values, source.keys):
                    for p in [p for p in table if p[: len(dst) + 1] == (*dst, key)]:
                        del table[p]
            target[key] = _copy(value)
            source.copy_subtree((*src, key), (*dst, key))
            if (*src, key) in source.keys:
                source.keys[(*dst, key)] = source.keys[(*src, key)]


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def apply_defaults(node: Any, path: Path, defaults: list[PluginDefault], source: SourceMap,
                   filled: dict[Path, set[str]] | None = None) -> None:
    """Apply every matching default to each map with a `type` key under `node` (tasks, triggers, ...).

    `filled` records, per map path, the top-level keys a non-forced default added (Kestra ignores such
    keys when the plugin has no such property, e.g. `bucket` from an `io.kestra.plugin.gcp` default)."""
    if isinstance(node, dict):
        t = node.get("type")
        if isinstance(t, str):
            before = set(node)
            # Kestra merges non-forced defaults so that the first declared wins, then forced ones override.
            for d in defaults:
                if not d.forced and t.startswith(d.type):
                    _merge(node, d.values, False, source, d.path, path)
            for d in defaults:
                if d.forced and t.startswith(d.type):
                    _merge(node, d.values, True, source, d.path, path)
            if filled is not None and set(node) - before:
                filled[path] = set(node) - before
        for key, value in node.items():
            apply_defaults(value, (*path, key), defaults, source, filled)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            apply_defaults(value, (*path, i), defaults, source, filled)
