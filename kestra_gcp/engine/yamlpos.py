"""Fast YAML loading with positions: ruamel.yaml's C composer builds the node tree, and this module turns it
into dicts/lists that remember where each key and item is (`.lc.key(k)`, `.lc.item(i)`, like ruamel's
round-trip types), so deploy-time errors can say file:line:col."""

from __future__ import annotations

from typing import Any

from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:
    from ruamel.yaml.cyaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - pure-Python fallback when the C extension is missing
    from ruamel.yaml.loader import SafeLoader as _Loader  # type: ignore[assignment]


class _Positions:
    __slots__ = ("col", "items", "keys", "line")

    def __init__(self, line: int, col: int) -> None:
        self.line = line
        self.col = col
        self.keys: dict[Any, tuple[int, int]] = {}
        self.items: list[tuple[int, int]] = []

    def key(self, k: Any) -> tuple[int, int]:
        return self.keys[k]

    def item(self, i: int) -> tuple[int, int]:
        return self.items[i]


class PosDict(dict[Any, Any]):
    lc: _Positions


class PosList(list[Any]):
    lc: _Positions


class DuplicateKey(Exception):
    def __init__(self, key: Any, line: int, col: int) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.line, self.col = line, col


def load(text: str) -> Any:
    """Parse one YAML document; raises ruamel's MarkedYAMLError or DuplicateKey."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _build(loader, node)
    finally:
        dispose = getattr(loader, "dispose", None)
        if dispose is not None:
            dispose()


def _build(loader: Any, node: Node) -> Any:
    if isinstance(node, MappingNode):
        out = PosDict()
        out.lc = _Positions(node.start_mark.line, node.start_mark.column)
        for key_node, value_node in node.value:
            key = _build(loader, key_node)
            if isinstance(key, (dict, list)):
                raise MarkedYAMLError(problem="a mapping key must be a scalar", problem_mark=key_node.start_mark)
            if key in out:
                raise DuplicateKey(key, key_node.start_mark.line, key_node.start_mark.column)
            out[key] = _build(loader, value_node)
            out.lc.keys[key] = (key_node.start_mark.line, key_node.start_mark.column)
        return out
    if isinstance(node, SequenceNode):
        seq = PosList()
        seq.lc = _Positions(node.start_mark.line, node.start_mark.column)
        for item in node.value:
            seq.append(_build(loader, item))
            seq.lc.items.append((item.start_mark.line, item.start_mark.column))
        return seq
    if isinstance(node, ScalarNode):
        return loader.construct_object(node, deep=True)
    raise MarkedYAMLError(problem="unsupported YAML node", problem_mark=node.start_mark)
