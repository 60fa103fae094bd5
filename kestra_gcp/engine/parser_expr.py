"""Parser for Workflows expressions: tokens -> a small tuple AST.

Precedence (most binding first), from the expressions reference page: `()`, `.`, `[]`, `not`, unary `-`,
`* / // %`, `+ -`, `< <= >= > == != in`, `and`, `or`."""

from __future__ import annotations

from typing import Any

from kestra_gcp.engine.errors import DeployError
from kestra_gcp.engine.lexer import Token, tokenize

Node = tuple[Any, ...]

_CONSTANTS: dict[str, Any] = {
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
    "null": None,
}
_AND = {"and", "AND"}
_OR = {"or", "OR"}
_NOT = {"not", "NOT"}
_IN = {"in", "IN"}
_COMPARE = {"==", "!=", "<", "<=", ">", ">="}
_KEYWORDS = _AND | _OR | _NOT | _IN


class _Parser:
    def __init__(self, text: str, where: str) -> None:
        self.where = where
        self.text = text
        self.tokens = tokenize(text, where)
        self.i = 0

    def fail(self, message: str, tok: Token | None = None) -> DeployError:
        tok = tok or self.tokens[self.i]
        return DeployError(f"{self.where}: {message} at offset {tok.pos} in expression {self.text!r}")

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_op(self, value: str) -> bool:
        tok = self.tokens[self.i]
        return tok.kind == "op" and tok.value == value

    def expect(self, value: str) -> None:
        if not self.is_op(value):
            raise self.fail(f"expected {value!r}")
        self.i += 1

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek().kind != "end":
            raise self.fail("unexpected token")
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.peek().kind == "name" and self.peek().value in _OR:
            self.take()
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.compare()
        while self.peek().kind == "name" and self.peek().value in _AND:
            self.take()
            node = ("and", node, self.compare())
        return node

    def compare(self) -> Node:
        node = self.additive()
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.value in _COMPARE:
                self.take()
                node = ("bin", tok.value, node, self.additive())
            elif tok.kind == "name" and tok.value in _IN:
                self.take()
                node = ("in", node, self.additive())
            else:
                return node

    def additive(self) -> Node:
        node = self.term()
        while self.peek().kind == "op" and self.peek().value in ("+", "-"):
            op = self.take().value
            node = ("bin", op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek().kind == "op" and self.peek().value in ("*", "/", "//", "%"):
            op = self.take().value
            node = ("bin", op, node, self.unary())
        return node

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.value == "-":
            self.take()
            operand = self.unary()
            if operand[0] == "lit" and isinstance(operand[1], (int, float)) and not isinstance(operand[1], bool):
                return ("lit", -operand[1])
            return ("neg", operand)
        return self.not_expr()

    def not_expr(self) -> Node:
        tok = self.peek()
        if tok.kind == "name" and tok.value in _NOT:
            self.take()
            return ("not", self.not_expr())
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.is_op("."):
                self.take()
                tok = self.take()
                if tok.kind != "name":
                    raise self.fail("expected a field name after '.'", tok)
                node = ("attr", node, tok.value)
            elif self.is_op("["):
                self.take()
                idx = self.or_expr()
                self.expect("]")
                node = ("index", node, idx)
            elif self.is_op("("):
                name = dotted_name(node)
                if name is None:
                    raise self.fail("only named functions can be called")
                self.take()
                args: list[Node] = []
                if not self.is_op(")"):
                    args.append(self.or_expr())
                    while self.is_op(","):
                        self.take()
                        args.append(self.or_expr())
                self.expect(")")
                node = ("call", name, args)
            else:
                return node

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "num" or tok.kind == "str":
            return ("lit", tok.value)
        if tok.kind == "name":
            name = str(tok.value)
            if name in _CONSTANTS:
                return ("lit", _CONSTANTS[name])
            if name in _KEYWORDS:
                raise self.fail(f"unexpected keyword {name!r}", tok)
            return ("var", name)
        if tok.kind == "op":
            if tok.value == "(":
                node = self.or_expr()
                self.expect(")")
                return node
            if tok.value == "[":
                items: list[Node] = []
                if not self.is_op("]"):
                    items.append(self.or_expr())
                    while self.is_op(","):
                        self.take()
                        if self.is_op("]"):
                            break
                        items.append(self.or_expr())
                self.expect("]")
                return ("list", items)
            if tok.value == "{":
                pairs: list[tuple[Node, Node]] = []
                if not self.is_op("}"):
                    while True:
                        key = self.or_expr()
                        self.expect(":")
                        pairs.append((key, self.or_expr()))
                        if not self.is_op(","):
                            break
                        self.take()
                        if self.is_op("}"):
                            break
                self.expect("}")
                return ("map", pairs)
        if tok.kind == "end":
            raise self.fail("unexpected end of expression", tok)
        raise self.fail(f"unexpected {tok.value!r}", tok)


def dotted_name(node: Node) -> str | None:
    """`a.b.c` as a string when the node is a plain dotted name, else None."""
    if node[0] == "var":
        return str(node[1])
    if node[0] == "attr":
        base = dotted_name(node[1])
        return None if base is None else f"{base}.{node[2]}"
    return None


def parse_expression(text: str, where: str = "<expression>") -> Node:
    """Parse the inside of `${...}` into an AST."""
    return _Parser(text, where).parse()


def split_expression(value: str) -> str | None:
    """The inside of a string that is one whole `${...}` expression, else None (a literal string)."""
    if not (value.startswith("${") and value.endswith("}")):
        return None
    # The closing brace must close the opening one: track braces outside string literals.
    depth = 0
    quote = ""
    i = 1
    n = len(value)
    while i < n:
        c = value[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return value[2:-1] if i == n - 1 else None
        i += 1
    return None
