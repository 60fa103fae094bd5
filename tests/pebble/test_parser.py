"""Parser: Kestra 1.3 precedence and associativity, tags, whitespace control, literals."""

from __future__ import annotations

import pytest

from compiler.pebble import ast
from compiler.pebble.parser import parse


def expr(src: str) -> ast.Expr:
    body = parse("{{ " + src + " }}")
    assert len(body) == 1 and isinstance(body[0], ast.Print)
    return body[0].expr


def show(e: ast.Expr) -> str:
    """A fully parenthesised rendering of an expression tree."""
    if isinstance(e, ast.Literal):
        return repr(e.value)
    if isinstance(e, ast.Name):
        return e.name
    if isinstance(e, ast.GetAttr):
        return f"{show(e.obj)}.{e.attr}"
    if isinstance(e, ast.GetItem):
        return f"{show(e.obj)}[{show(e.index)}]"
    if isinstance(e, ast.Unary):
        return f"({e.op} {show(e.operand)})"
    if isinstance(e, ast.Binary):
        return f"({show(e.left)} {e.op} {show(e.right)})"
    if isinstance(e, ast.Filter):
        args = ", ".join((f"{a.name}=" if a.name else "") + show(a.value) for a in e.args)
        return f"({show(e.operand)} | {e.name}({args}))"
    if isinstance(e, ast.Test):
        return f"({show(e.operand)} is {'not ' if e.negated else ''}{e.name})"
    if isinstance(e, ast.Call):
        return f"{e.name}({', '.join(show(a.value) for a in e.args)})"
    if isinstance(e, ast.Ternary):
        return f"({show(e.cond)} ? {show(e.then)} : {show(e.other)})"
    if isinstance(e, ast.ListLit):
        return "[" + ", ".join(show(i) for i in e.items) + "]"
    return type(e).__name__


@pytest.mark.parametrize(
    ("src", "tree"),
    [
        ("1 + 2 * 3", "(1 + (2 * 3))"),
        ("1 - 2 - 3", "((1 - 2) - 3)"),
        ("not a and b", "(not (a and b))"),  # Pebble's `not` has precedence 5
        ("a or b and c", "(a or (b and c))"),
        ("a ~ b | upper", "((a ~ b) | upper())"),  # `|` (100) binds looser than `~` (110)
        ("a | upper ~ b", "((a | upper()) ~ b)"),
        ("x ?? y | dateAdd(-1, 'DAYS')", "((x ?? y) | dateAdd((- 1), 'DAYS'))"),  # `??` is 120 in 1.3
        ("a ~ b ?? c", "(a ~ (b ?? c))"),
        ("a isIn b | length", "((a isIn b) | length())"),
        ("a == b and c != d", "((a == b) and (c != d))"),
        ("a + 1 > b * 2", "((a + 1) > (b * 2))"),
        ("a is not defined and b", "((a is not defined) and b)"),
        ("a contains 'x' or b", "((a contains 'x') or b)"),
        ("c ? a ~ 'x' : b", "(c ? (a ~ 'x') : b)"),
        ("-a.b[0] + 2", "((- a.b[0]) + 2)"),
        ("outputs.t.outputFiles[inputs.x ~ '.csv']", "outputs.t.outputFiles[(inputs.x ~ '.csv')]"),
        ("d | date(format='yyyy', timeZone='UTC')", "(d | date(format='yyyy', timeZone='UTC'))"),
        ("a equals b", "(a == b)"),
        ("[1, 'a', true, null]", "[1, 'a', True, None]"),
        ("1.5 + 2", "(1.5 + 2)"),
        ("kv('K') ?? 'd'", "(kv('K') ?? 'd')"),
    ],
)
def test_precedence(src: str, tree: str) -> None:
    assert show(expr(src)) == tree


def test_positions_are_offsets_of_each_node() -> None:
    e = expr("inputs.a ~ 'x' | upper")
    assert isinstance(e, ast.Filter)
    assert e.pos == 3 and e.name_pos == 20


def test_template_structure() -> None:
    body = parse("a {{ x }} {# c #}{% if y %}b{% elseif z %}c{% else %}d{% endif %}{% set v = 1 %}"
                 "{% for i in l %}{{ i }}{% endfor %}")
    kinds = [type(n).__name__ for n in body]
    assert kinds == ["Text", "Print", "Text", "If", "Set", "For"]
    cond = body[3]
    assert isinstance(cond, ast.If) and len(cond.branches) == 2 and cond.orelse


def test_whitespace_control_trims_text() -> None:
    body = parse("a \n {{- x -}} \n b")
    assert [n.text for n in body if isinstance(n, ast.Text)] == ["a", "b"]


def test_string_escapes() -> None:
    assert show(expr("'it\\'s'")) == repr("it's")
    assert show(expr('"say \\"hi\\""')) == repr('say "hi"')


def test_map_literal_inside_print_is_not_a_closer() -> None:
    body = parse("{{ {'a': {'b': 1}} }}")
    assert isinstance(body[0], ast.Print) and isinstance(body[0].expr, ast.MapLit)
