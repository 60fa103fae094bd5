"""YAML loading with source positions.

A flow file is composed into nodes by ruamel.yaml (its C parser when available, which keeps validation of
thousands of flows fast) and turned into plain Python values plus a `SourceMap` that remembers where every
key and value came from, addressed by its path (`("tasks", 0, "uri")`). Later stages report problems by path,
so they never need YAML nodes. Duplicate keys are reported here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import BaseResolver

try:
    from ruamel.yaml.cyaml import CParser
except ImportError:  # pragma: no cover
    CParser = object

from compiler.diagnostics import Diagnostic

Path = tuple[str | int, ...]

class _StyleOnlyResolver(BaseResolver):
    """Skips implicit tag resolution: `_scalar` types plain scalars itself (YAML 1.2 core schema)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode:
            return self.DEFAULT_SCALAR_TAG
        return self.DEFAULT_SEQUENCE_TAG if kind is SequenceNode else self.DEFAULT_MAPPING_TAG


try:  # the C parser (ruamel.yaml.clib); the pure-Python one is ~8x slower

    class _CComposer(CParser, _StyleOnlyResolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _StyleOnlyResolver.__init__(self, loadumper=self)

    def _compose(text: str) -> Any:
        return _CComposer(text).get_single_node()

    _compose("a: 1")
except Exception:  # pragma: no cover - only without ruamel.yaml.clib
    _PURE = YAML(typ="safe", pure=True)

    def _compose(text: str) -> Any:
        return _PURE.compose(text)


@dataclass(frozen=True, slots=True)
class Pos:
    """A 1-based position in a file, and the YAML style of the scalar there ('|', '>', '"', "'" or '')."""

    line: int
    col: int
    style: str = ""


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a loaded document is in its file."""

    path: str
    values: dict[Path, Pos] = field(default_factory=dict)
    keys: dict[Path, Pos] = field(default_factory=dict)
    _subtrees: dict[tuple[int, Path], list[tuple[Path, Pos]]] = field(default_factory=dict, repr=False)

    def value(self, path: Path) -> Pos:
        """Position of the value at `path`, or of its nearest ancestor that has one."""
        p = path
        while True:
            pos = self.values.get(p)
            if pos is not None:
                return pos
            if not p:
                return Pos(1, 1)
            p = p[:-1]

    def key(self, path: Path) -> Pos:
        """Position of the mapping key that ends `path` (falls back to the value's position)."""
        return self.keys.get(path) or self.value(path)

    def diag(self, path: Path, message: str, *, at_key: bool = False) -> Diagnostic:
        pos = self.key(path) if at_key else self.value(path)
        return Diagnostic(self.path, pos.line, pos.col, message)

    def copy_subtree(self, src: Path, dst: Path) -> None:
        """Make positions under `dst` point at those under `src` (used when pluginDefaults fill a value)."""
        n = len(src)
        for table in (self.values, self.keys):
            cache = self._subtrees.get((id(table), src))
            if cache is None:
                cache = [(p, pos) for p, pos in table.items() if p[:n] == src]
                self._subtrees[(id(table), src)] = cache
            for p, pos in cache:
                table.setdefault(dst + p[n:], pos)

    def move_subtree(self, src: Path, dst: Path) -> None:
        """Re-address positions under `src` to `dst` (used when a list is re-indexed)."""
        n = len(src)
        for table in (self.values, self.keys):
            for p in [p for p in table if p[:n] == src]:
                table[dst + p[n:]] = table.pop(p)


@dataclass
class Loaded:
    """A loaded YAML document: its data (None when unreadable), positions, and problems found."""

    data: Any
    source: SourceMap
    diagnostics: list[Diagnostic]


_BOOL = {"true": True, "false": False, "True": True, "False": False, "TRUE": True, "FALSE": False}
_NULL = {"", "~", "null", "Null", "NULL"}
_INT = re.compile(r"^[-+]?[0-9]+$|^0o[0-7]+$|^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$")


def _scalar(node: ScalarNode) -> Any:
    """A scalar's value: quoted and block scalars are text; plain ones follow the YAML 1.2 core schema."""
    text: str = node.value
    if node.style:
        return text
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    first = text[0]
    if first.isdigit() or first in "+-.":
        if _INT.match(text):
            return int(text, 0) if text[:2] in ("0o", "0x") else int(text)
        if _FLOAT.match(text):
            low = text.lower()
            if low.endswith("inf"):
                return float("-inf") if low.startswith("-") else float("inf")
            return float("nan") if low.endswith("nan") else float(text)
    return text  # timestamps and the like stay text, as Kestra's Jackson reads them


class _Builder:
    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.diagnostics: list[Diagnostic] = []

    def build(self, node: Node, path: Path) -> Any:
        mark = node.start_mark
        style = getattr(node, "style", None) or ""
        self.source.values[path] = Pos(mark.line + 1, mark.column + 1, style if isinstance(style, str) else "")
        if isinstance(node, ScalarNode):
            return _scalar(node)
        if isinstance(node, SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            out: dict[Any, Any] = {}
            for knode, vnode in node.value:
                key = _scalar(knode) if isinstance(knode, ScalarNode) else str(knode.value)
                if isinstance(key, bool | float) or key is None:
                    key = knode.value
                kpos = Pos(knode.start_mark.line + 1, knode.start_mark.column + 1)
                if key in out:
                    first = self.source.keys.get((*path, key))
                    where = f" (first defined at line {first.line})" if first else ""
                    self.diagnostics.append(
                        Diagnostic(self.source.path, kpos.line, kpos.col, f"duplicate key '{key}'{where}")
                    )
                    continue
                self.source.keys[(*path, key)] = kpos
                out[key] = self.build(vnode, (*path, key))
            return out
        return None


def load_yaml(text: str, path: str) -> Loaded:
    """Parse one YAML document; syntax errors and duplicate keys become diagnostics."""
    source = SourceMap(path)
    try:
        node = _compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        return Loaded(None, source, [Diagnostic(path, line, col, f"YAML syntax error: {problem}")])
    except YAMLError as exc:
        return Loaded(None, source, [Diagnostic(path, 1, 1, f"YAML syntax error: {exc}")])
    if node is None:
        return Loaded(None, source, [Diagnostic(path, 1, 1, "empty file: a flow needs id, namespace and tasks")])
    builder = _Builder(source)
    data = builder.build(node, ())
    return Loaded(data, source, builder.diagnostics)
