"""The Pebble AST: expressions and template nodes, each carrying its offset in the template text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compiler.pebble.positions import Origin


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every node; `pos` is the offset of the node's first character in the template text."""

    pos: int


# ---------------------------------------------------------------- expressions
@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Any  # str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Name(Node):
    name: str


@dataclass(frozen=True, slots=True)
class GetAttr(Node):
    obj: Expr
    attr: str


@dataclass(frozen=True, slots=True)
class GetItem(Node):
    obj: Expr
    index: Expr


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class MapLit(Node):
    pairs: tuple[tuple[Expr, Expr], ...]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str  # "not" | "-" | "+"
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str  # or and == != < > <= >= + - * / % ~ .. ?? ??? isIn notIn contains equals
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Arg:
    """One call argument: positional when `name` is None."""

    pos: int
    name: str | None
    value: Expr


@dataclass(frozen=True, slots=True)
class Test(Node):
    """`operand is [not] name[(args)]`."""

    operand: Expr
    name: str
    negated: bool
    args: tuple[Arg, ...] = ()
    name_pos: int = 0


@dataclass(frozen=True, slots=True)
class Filter(Node):
    """`operand | name[(args)]`; `name_pos` is where the filter name starts."""

    operand: Expr
    name: str
    args: tuple[Arg, ...] = ()
    name_pos: int = 0


@dataclass(frozen=True, slots=True)
class Call(Node):
    """`name(args)`: a Pebble function call."""

    name: str
    args: tuple[Arg, ...] = ()


@dataclass(frozen=True, slots=True)
class MethodCall(Node):
    """`obj.name(args)`: a Java method call on a value (Pebble allows it; never compilable)."""

    obj: Expr
    name: str
    args: tuple[Arg, ...] = ()


@dataclass(frozen=True, slots=True)
class Ternary(Node):
    cond: Expr
    then: Expr
    other: Expr


Expr = (
    Literal | Name | GetAttr | GetItem | ListLit | MapLit | Unary | Binary | Test | Filter | Call | MethodCall
    | Ternary
)


# ---------------------------------------------------------------- template nodes
@dataclass(frozen=True, slots=True)
class Text(Node):
    text: str


@dataclass(frozen=True, slots=True)
class Print(Node):
    """`{{ expr }}`."""

    expr: Expr


@dataclass(frozen=True, slots=True)
class If(Node):
    """`{% if %}...{% elseif %}...{% else %}...{% endif %}`."""

    branches: tuple[tuple[Expr, tuple[Stmt, ...]], ...]
    orelse: tuple[Stmt, ...] = ()


@dataclass(frozen=True, slots=True)
class For(Node):
    """`{% for var in iterable %}...{% else %}...{% endfor %}` (`key, var` for maps)."""

    var: str
    iterable: Expr
    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] = ()
    key_var: str | None = None


@dataclass(frozen=True, slots=True)
class Set(Node):
    """`{% set name = expr %}`."""

    name: str
    value: Expr


Stmt = Text | Print | If | For | Set


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: its source text, where it came from, and its body."""

    source: str
    origin: Origin
    body: tuple[Stmt, ...] = field(default=())

    @property
    def is_literal(self) -> bool:
        """True when the template has no `{{ }}` nor `{% %}`: its value is its text."""
        return all(isinstance(n, Text) for n in self.body)
