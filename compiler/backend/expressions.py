"""The compiler's bridge to `compiler.pebble`: compile every string of a property value in a task's scope."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.yamlsource import Path, SourceMap

try:
    from compiler import pebble as _pebble

    _AVAILABLE = hasattr(_pebble, "compile_template") and hasattr(_pebble, "CodegenContext")
except ImportError:  # pragma: no cover - while the Pebble package is being written
    _pebble = None  # type: ignore[assignment]
    _AVAILABLE = False

_STYLES = {"|": "literal", ">": "folded", '"': "double", "'": "single", "": "plain"}


@dataclass
class ExprResult:
    value: Any
    type: str = "any"


@dataclass
class Expressions:
    """Compiles values found at source paths; collects diagnostics, KV keys and secret names."""

    source: SourceMap
    lines: list[str]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    kv: set[tuple[str, str]] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)
    check_only: bool = False  # validation: parse and check templates, skip code generation

    def origin(self, path: Path) -> Any:
        pos = self.source.value(path)
        style = _STYLES.get(pos.style, "plain")
        indent = None
        if style in ("literal", "folded") and pos.line < len(self.lines):
            nxt = self.lines[pos.line]  # the first content line (0-based index = 1-based line)
            indent = len(nxt) - len(nxt.lstrip(" "))
        return _pebble.Origin(self.source.path, pos.line, pos.col, style, indent)  # type: ignore[arg-type]

    def string(self, text: str, path: Path, scope: Any) -> ExprResult:
        if "{{" not in text and "{%" not in text and "{#" not in text and "${" not in text:
            return ExprResult(text, "string")
        if not _AVAILABLE:
            if "{{" not in text and "{%" not in text and "{#" not in text:
                return ExprResult(text.replace("${", "${\"${\"}"), "string")
            self.diagnostics.append(self.source.diag(path, "expressions cannot be compiled yet"))
            return ExprResult(text)
        if self.check_only and ("{{" in text or "{%" in text or "{#" in text):
            try:
                tpl = _pebble.parse_template(text, self.origin(path))
            except _pebble.TemplateError as exc:
                self.diagnostics.append(exc.diagnostic)
                return ExprResult(text)
            collected = _pebble.Collected()
            self.diagnostics.extend(_pebble.check(tpl, scope, collected))
            self.kv |= collected.kv
            self.secrets |= collected.secrets
            return ExprResult(text)
        out = _pebble.compile_template(text, self.origin(path), _pebble.CodegenContext(scope))
        self.diagnostics.extend(out.diagnostics)
        self.kv |= out.collected.kv
        self.secrets |= out.collected.secrets
        return ExprResult(out.value, out.type)

    def value(self, value: Any, path: Path, scope: Any) -> Any:
        """The Workflows form of a property value (maps and lists compiled element by element)."""
        if isinstance(value, str):
            return self.string(value, path, scope).value
        if isinstance(value, dict):
            return {str(k): self.value(v, (*path, k), scope) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, (*path, i), scope) for i, v in enumerate(value)]
        return value


def make_scope(**kwargs: Any) -> Any:
    if _pebble is None:
        return None
    return _pebble.Scope(**kwargs)
