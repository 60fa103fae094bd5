"""The compiler's bridge to `compiler.pebble`: compile every string of a property value in a task's scope."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from compiler import pebble as _pebble
from compiler.diagnostics import Diagnostic
from compiler.yamlsource import Path, SourceMap

EXPRESSION_LIMIT = 380  # Workflows limits the length of one expression (400 characters per the emulator docs)
_PIECES = re.compile(r"(\{\{.*?\}\})", re.DOTALL)

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
    hoist: list[dict[str, Any]] | None = None  # while a task is generated: steps that build long values
    hoist_prefix: str = ""  # the task's allocated name (variables of parallel branches must not collide)
    task_kv: set[tuple[str, str]] = field(default_factory=set)  # KV keys read by the task being generated

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
        if self.check_only and _pebble.has_template(text):
            self._check(text, path, scope)
            return ExprResult(text)
        out = _pebble.compile_template(text, self.origin(path), _pebble.CodegenContext(scope))
        self._absorb(out)
        value = out.value
        if (self.hoist is not None and out.ok and isinstance(value, str) and len(value) > EXPRESSION_LIMIT
                and "{%" not in text and "{#" not in text):
            value = self._hoist(text, path, scope, value)
        return ExprResult(value, out.type)

    def condition(self, value: Any, path: Path, scope: Any) -> Any:
        """A Workflows boolean (`True`/`False` or `"${...}"`) for a condition judged with Kestra's truthiness
        (`runIf`, If `condition`, Fail `condition`, Assert `conditions`)."""
        if self.check_only and isinstance(value, str) and _pebble.has_template(value):
            self._check(value, path, scope)
            return True
        out = _pebble.compile_condition(value, self.origin(path), _pebble.CodegenContext(scope))
        self._absorb(out)
        return out.value

    def _check(self, text: str, path: Path, scope: Any) -> None:
        """Validation only: parse and check `text`, keeping its diagnostics, KV keys and secret names."""
        try:
            tpl = _pebble.parse_template(text, self.origin(path))
        except _pebble.TemplateError as exc:
            self.diagnostics.append(exc.diagnostic)
            return
        collected = _pebble.Collected()
        self.diagnostics.extend(_pebble.check(tpl, scope, collected))
        self.kv |= collected.kv
        self.task_kv |= collected.kv
        self.secrets |= collected.secrets

    def _absorb(self, out: Any) -> None:
        self.diagnostics.extend(out.diagnostics)
        self.kv |= out.collected.kv
        self.task_kv |= out.collected.kv
        self.secrets |= out.collected.secrets

    def _hoist(self, text: str, path: Path, scope: Any, whole: str) -> str:
        """Build a long template piece by piece in assign steps (Workflows limits expression length).

        Literal text goes into variables as plain YAML strings; each `{{ }}` becomes a short expression
        appended to an accumulator. The steps are collected in `hoist` for the task being generated."""
        assert self.hoist is not None
        pieces = [p for p in _PIECES.split(text) if p]
        acc = f"{self.hoist_prefix}_long{len(self.hoist) + 1}"
        assigns: list[dict[str, Any]] = [{acc: ""}]
        for i, piece in enumerate(pieces):
            if piece.startswith("{{"):
                out = _pebble.compile_template(piece, self.origin(path), _pebble.CodegenContext(scope))
                part = out.value
                if not out.ok or (isinstance(part, str) and len(part) > EXPRESSION_LIMIT):
                    return whole  # one {{ }} too long on its own: nothing better to do
                if isinstance(part, str) and part.startswith("${") and part.endswith("}"):
                    assigns.append({acc: f"${{{acc} + string({part[2:-1]})}}"})
                else:
                    assigns.append({f"{acc}_{i}": part if isinstance(part, str) else str(part)})
                    assigns.append({acc: f"${{{acc} + {acc}_{i}}}"})
            else:
                assigns.append({f"{acc}_{i}": piece})
                assigns.append({acc: f"${{{acc} + {acc}_{i}}}"})
        chunks = range(0, len(assigns), 50)  # 50 assignments per assign step
        self.hoist.extend({f"{acc}_build{i + 1}": {"assign": assigns[start : start + 50]}}
                          for i, start in enumerate(chunks))
        return f"${{{acc}}}"

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
    return _pebble.Scope(**kwargs)
