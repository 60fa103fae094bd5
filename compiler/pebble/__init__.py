"""Pebble, the Kestra expression language, in the compiler: parse, check, and compile to Workflows expressions.

Typical use by the compiler, for every string property of a flow:

    origin = Origin(path, line, col, style, block_indent)  # where the YAML scalar starts
    tpl = parse_template(text, origin)        # raises TemplateError (with .diagnostic) on bad syntax
    diags = check(tpl, scope, collected)      # undefined names, unknown filters...; fills `collected`
    out = to_workflows(tpl, CodegenContext(scope))  # out.value: a literal or "${...}"; out.diagnostics

`compile_template(text, origin, ctx)` does the three at once and never raises; `compile_condition` does the
same for `runIf`/If conditions and returns a Workflows boolean judged with Kestra's truthiness.
With `CodegenContext(hoist=True, temp_prefix=...)`, long repeated sub-expressions (dates) go into
`out.prelude`, `(variable, "${...}")` pairs to assign before the value is used; `out.size` is the length of the
longest expression emitted. Parsing is cached by text; `has_template(text)` cheaply skips plain strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compiler.diagnostics import Diagnostic, Severity
from compiler.pebble import ast
from compiler.pebble.cache import parse_cached
from compiler.pebble.checker import Checker
from compiler.pebble.codegen import CodegenContext, Generator
from compiler.pebble.errors import PebbleError
from compiler.pebble.lexer import has_template
from compiler.pebble.positions import Origin, ScalarStyle
from compiler.pebble.scope import Collected, Scope

__all__ = [
    "CodegenContext",
    "Collected",
    "Compiled",
    "Origin",
    "ScalarStyle",
    "Scope",
    "Template",
    "TemplateError",
    "check",
    "compile_condition",
    "compile_template",
    "has_template",
    "parse_template",
    "to_workflows",
]

Template = ast.Template


class TemplateError(Exception):
    """A template that cannot be parsed; `diagnostic` is positioned in the YAML file."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.format())
        self.diagnostic = diagnostic


@dataclass
class Compiled:
    """The result of compiling one template.

    `value` is what goes into the Workflows YAML: the literal value (str, or the typed constant of a
    single `{{ }}` known at compile time) or a `"${...}"` string. `size` is the length of the longest
    expression (Workflows limits expression length; the compiler may hoist long ones into an assign).
    `type` is the static type of the value: "string", "int", "float", "bool", "null", "list", "map" or "any".
    `prelude` (only with `CodegenContext(hoist=True)`) lists `(variable, "${...}")` assignments that must run,
    in order, in an `assign` step before the value is used; names start with `CodegenContext.temp_prefix`,
    which the caller makes unique per step (a parallel branch cannot assign a parent's variable).
    """

    value: Any
    type: str = "string"
    size: int = 0
    diagnostics: list[Diagnostic] = field(default_factory=list)
    collected: Collected = field(default_factory=Collected)
    prelude: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def _diag(origin: Origin, text: str, message: str, pos: int, severity: Severity = Severity.ERROR) -> Diagnostic:
    line, col = origin.locate(text, pos)
    return Diagnostic(origin.path, line, col, message, severity)


def parse_template(text: str, origin: Origin | None = None) -> Template:
    """Parse `text` (a YAML scalar's value). Raises TemplateError with a file-positioned diagnostic."""
    origin = origin or Origin()
    try:
        body = parse_cached(text)
    except PebbleError as e:
        raise TemplateError(_diag(origin, text, f"bad expression: {e.message}", e.pos)) from None
    return Template(text, origin, body)


def check(template: Template, scope: Scope, collected: Collected | None = None) -> list[Diagnostic]:
    """Static checks of `template` in `scope` (errors, then warnings); KV keys and secret names found are added
    to `collected`."""
    checker = Checker(scope)
    checker.check_body(template.body)
    if collected is not None:
        collected.merge(checker.collected)
    errors = [_diag(template.origin, template.source, m, p) for m, p in checker.problems]
    return errors + [_diag(template.origin, template.source, m, p, Severity.WARNING) for m, p in checker.warnings]


def to_workflows(template: Template, ctx: CodegenContext) -> Compiled:
    """Compile `template` to a Workflows value. Constructs that cannot be compiled become diagnostics."""
    gen = Generator(ctx)
    try:
        value, vtype, size = gen.template(template.body)
    except PebbleError as e:
        return Compiled(template.source, "string", 0,
                        [_diag(template.origin, template.source, e.message, e.pos)], gen.collected)
    return Compiled(value, vtype, _widest(size, gen), [], gen.collected, list(gen.prelude))


def _widest(size: int, gen: Generator) -> int:
    """The longest expression of a compiled value: its own, or one of its prelude's (`${...}` not counted)."""
    return max([size, *(len(code) - 3 for _, code in gen.prelude)])


def _parse_and_check(
    text: str, origin: Origin, ctx: CodegenContext, vtype: str
) -> tuple[Template, list[Diagnostic], Collected] | Compiled:
    """The parsed template, its warnings and what it collected; or, when it has errors, the failed result."""
    try:
        tpl = parse_template(text, origin)
    except TemplateError as e:
        return Compiled(text, vtype, 0, [e.diagnostic])
    collected = Collected()
    diags = check(tpl, ctx.scope, collected)
    if any(d.is_error for d in diags):
        return Compiled(text, vtype, 0, diags, collected)
    return tpl, diags, collected


def compile_template(text: str, origin: Origin, ctx: CodegenContext) -> Compiled:
    """Parse, check and compile in one call; never raises (problems are in `.diagnostics`)."""
    if not has_template(text):
        return to_workflows(Template(text, origin, (ast.Text(0, text),) if text else ()), ctx)
    checked = _parse_and_check(text, origin, ctx, "string")
    if isinstance(checked, Compiled):
        return checked
    tpl, diags, collected = checked
    out = to_workflows(tpl, ctx)
    out.diagnostics[:0] = diags
    out.collected.merge(collected)
    return out


def compile_condition(value: Any, origin: Origin, ctx: CodegenContext) -> Compiled:
    """Compile a condition (`runIf`, If `condition`, Assert `conditions`) to a Workflows boolean: the value is
    rendered, then judged as Kestra does (`false`, `0`, `-0`, the empty string and null are false).
    A non-string YAML value (true/false/number) is judged at compile time. Never raises."""
    if not isinstance(value, str):
        return Compiled(value is not None and str(value).lower() not in ("false", "0", "-0", ""), "bool")
    checked = _parse_and_check(value, origin, ctx, "bool")
    if isinstance(checked, Compiled):
        return checked
    tpl, diags, collected = checked
    gen = Generator(ctx)
    try:
        cond, size = gen.condition(tpl.body)
    except PebbleError as e:
        return Compiled(value, "bool", 0, [_diag(origin, value, e.message, e.pos)], collected)
    gen.collected.merge(collected)
    return Compiled(cond, "bool", _widest(size, gen), diags, gen.collected, list(gen.prelude))
