"""Pebble parser: tokens -> AST, with Kestra 1.3 operator precedence.

Precedences (higher binds tighter): `not` 5 (unary: `not a and b` is `not (a and b)`, as in Pebble),
`or` 10, `and` 15, `is`/`is not`/`contains` 20, comparisons and `equals` 30, `+ -` 40, `* / %` 60,
`|` 100, `~` 110, `..`/`??`/`???`/`isIn`/`notIn` 120, unary `-`/`+` 500; ternary `?:` outermost.
"""

from __future__ import annotations

from compiler.pebble import ast
from compiler.pebble.errors import PebbleError
from compiler.pebble.lexer import Token, tokenize

BINARY: dict[str, int] = {
    "or": 10, "and": 15, "is": 20, "contains": 20,
    "==": 30, "!=": 30, "<": 30, ">": 30, "<=": 30, ">=": 30, "equals": 30,
    "+": 40, "-": 40, "*": 60, "/": 60, "%": 60,
    "|": 100, "~": 110, "..": 120, "??": 120, "???": 120, "isIn": 120, "notIn": 120,
}
UNARY: dict[str, int] = {"not": 5, "-": 500, "+": 500}
_WORD_OPS = {"or", "and", "is", "contains", "equals", "isIn", "notIn", "not"}
_CONSTANTS: dict[str, object] = {"true": True, "false": False, "null": None, "none": None,
                                 "TRUE": True, "FALSE": False, "NULL": None, "NONE": None}
SUPPORTED_TAGS = ("if", "for", "set")


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.toks = tokenize(src)
        self.i = 0

    # -------------------------------------------------------------- token helpers
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def advance(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def at_op(self, *ops: str) -> bool:
        t = self.tok
        return t.kind == "op" and t.value in ops

    def at_name(self, *names: str) -> bool:
        t = self.tok
        return t.kind == "name" and t.value in names

    def expect_op(self, op: str) -> Token:
        if not self.at_op(op):
            raise PebbleError(f"expected '{op}' but found {self.describe(self.tok)}", self.tok.pos)
        return self.advance()

    def expect_name(self, what: str) -> Token:
        if self.tok.kind != "name":
            raise PebbleError(f"expected {what} but found {self.describe(self.tok)}", self.tok.pos)
        return self.advance()

    @staticmethod
    def describe(t: Token) -> str:
        if t.kind == "eof":
            return "end of template"
        if t.kind in ("print_close", "tag_close"):
            return f"'{t.value}'"
        return f"'{t.value}'"

    # -------------------------------------------------------------- template level
    def parse_template(self) -> tuple[ast.Stmt, ...]:
        body, end = self.parse_body(())
        if end is not None:
            raise PebbleError(f"unexpected '{{% {end.value} %}}' without a matching opening tag", end.pos)
        return body

    def parse_body(self, stop: tuple[str, ...]) -> tuple[tuple[ast.Stmt, ...], Token | None]:
        """Statements until EOF or a tag whose name is in `stop` (returned, positioned after its name)."""
        out: list[ast.Stmt] = []
        while True:
            t = self.tok
            if t.kind == "eof":
                return tuple(out), None
            if t.kind == "text":
                self.advance()
                out.append(ast.Text(t.pos, t.value))
            elif t.kind == "print_open":
                self.advance()
                if self.tok.kind == "print_close":
                    raise PebbleError("empty expression '{{ }}'", t.pos)
                expr = self.parse_expression()
                self.expect_close("print_close", "}}")
                out.append(ast.Print(t.pos, expr))
            elif t.kind == "tag_open":
                self.advance()
                name = self.expect_name("a tag name")
                if name.value in stop:
                    return tuple(out), name
                out.append(self.parse_tag(t, name))
            else:  # pragma: no cover - the lexer never yields other kinds here
                raise PebbleError(f"unexpected {self.describe(t)}", t.pos)

    def parse_else(self, end: Token, tag: str, end_tag: str, pos: int) -> tuple[ast.Stmt, ...]:
        """The `{% else %}` body up to `{% <end_tag> %}` when the body before stopped at `end` = else; else none."""
        if end.value != "else":
            return ()
        self.expect_close("tag_close", "%}")
        body, closer = self.parse_body((end_tag,))
        if closer is None:
            raise PebbleError(f"'{{% {tag} %}}' is not closed by '{{% {end_tag} %}}'", pos)
        return body

    def expect_close(self, kind: str, text: str) -> None:
        if self.tok.kind != kind:
            raise PebbleError(f"expected '{text}' but found {self.describe(self.tok)}", self.tok.pos)
        self.advance()

    def parse_tag(self, open_tok: Token, name: Token) -> ast.Stmt:
        if name.value == "if":
            branches: list[tuple[ast.Expr, tuple[ast.Stmt, ...]]] = []
            cond = self.parse_expression()
            while True:
                self.expect_close("tag_close", "%}")
                body, end = self.parse_body(("elseif", "else", "endif"))
                branches.append((cond, body))
                if end is None:
                    raise PebbleError("'{% if %}' is not closed by '{% endif %}'", open_tok.pos)
                if end.value == "elseif":
                    cond = self.parse_expression()
                    continue
                orelse = self.parse_else(end, "if", "endif", open_tok.pos)
                self.expect_close("tag_close", "%}")
                return ast.If(open_tok.pos, tuple(branches), orelse)
        if name.value == "for":
            var = self.expect_name("a loop variable").value
            key_var = None
            if self.at_op(","):
                self.advance()
                key_var, var = var, self.expect_name("a loop variable").value
            if not self.at_name("in"):
                raise PebbleError(f"expected 'in' but found {self.describe(self.tok)}", self.tok.pos)
            self.advance()
            iterable = self.parse_expression()
            self.expect_close("tag_close", "%}")
            body, end = self.parse_body(("else", "endfor"))
            if end is None:
                raise PebbleError("'{% for %}' is not closed by '{% endfor %}'", open_tok.pos)
            orelse = self.parse_else(end, "for", "endfor", open_tok.pos)
            self.expect_close("tag_close", "%}")
            return ast.For(open_tok.pos, var, iterable, body, orelse, key_var)
        if name.value == "set":
            var = self.expect_name("a variable name").value
            self.expect_op("=")
            value = self.parse_expression()
            self.expect_close("tag_close", "%}")
            return ast.Set(open_tok.pos, var, value)
        if name.value in ("endif", "endfor", "else", "elseif"):
            raise PebbleError(f"unexpected '{{% {name.value} %}}' without a matching opening tag", name.pos)
        raise PebbleError(
            f"tag '{name.value}' is not supported (supported: {', '.join(SUPPORTED_TAGS)})", name.pos
        )

    # -------------------------------------------------------------- expressions
    def parse_expression(self, min_prec: int = 0) -> ast.Expr:
        t = self.tok
        op = t.value if (t.kind == "op" or t.kind == "name") and t.value in UNARY else None
        if op is not None and (t.kind == "op" or op == "not"):
            self.advance()
            operand = self.parse_expression(UNARY[op])
            left: ast.Expr = ast.Unary(t.pos, op, operand)
        else:
            left = self.parse_postfix(self.parse_primary())
        while True:
            t = self.tok
            if t.kind not in ("op", "name") or t.value not in BINARY:
                break
            if t.kind == "name" and t.value not in _WORD_OPS:
                break
            prec = BINARY[t.value]
            if prec < min_prec:
                break
            self.advance()
            if t.value == "is":
                negated = False
                if self.at_name("not"):
                    self.advance()
                    negated = True
                name = self.expect_name("a test name after 'is'")
                args = self.parse_args() if self.at_op("(") else ()
                left = ast.Test(left.pos, left, name.value, negated, args, name.pos)
            elif t.value == "|":
                name = self.expect_name("a filter name after '|'")
                args = self.parse_args() if self.at_op("(") else ()
                left = ast.Filter(left.pos, left, name.value, args, name.pos)
            else:
                right = self.parse_expression(prec + 1)
                opname = "==" if t.value == "equals" else t.value
                left = ast.Binary(left.pos, opname, left, right)
        if min_prec == 0 and self.at_op("?"):
            self.advance()
            then = self.parse_expression()
            self.expect_op(":")
            other = self.parse_expression()
            left = ast.Ternary(left.pos, left, then, other)
        return left

    def parse_primary(self) -> ast.Expr:
        t = self.tok
        if t.kind == "number":
            self.advance()
            return ast.Literal(t.pos, t.parsed)
        if t.kind == "string":
            self.advance()
            return ast.Literal(t.pos, t.parsed)
        if t.kind == "name":
            self.advance()
            if t.value in _CONSTANTS:
                return ast.Literal(t.pos, _CONSTANTS[t.value])
            if self.at_op("("):
                return ast.Call(t.pos, t.value, self.parse_args())
            return ast.Name(t.pos, t.value)
        if self.at_op("("):
            self.advance()
            inner = self.parse_expression()
            self.expect_op(")")
            return inner
        if self.at_op("["):
            self.advance()
            items: list[ast.Expr] = []
            while not self.at_op("]"):
                items.append(self.parse_expression())
                if not self.at_op(","):
                    break
                self.advance()
            self.expect_op("]")
            return ast.ListLit(t.pos, tuple(items))
        if self.at_op("{"):
            self.advance()
            pairs: list[tuple[ast.Expr, ast.Expr]] = []
            while not self.at_op("}"):
                key = self.parse_expression()
                self.expect_op(":")
                pairs.append((key, self.parse_expression()))
                if not self.at_op(","):
                    break
                self.advance()
            self.expect_op("}")
            return ast.MapLit(t.pos, tuple(pairs))
        raise PebbleError(f"expected an expression but found {self.describe(t)}", t.pos)

    def parse_postfix(self, node: ast.Expr) -> ast.Expr:
        while True:
            if self.at_op("."):
                self.advance()
                t = self.tok
                if t.kind not in ("name", "number"):
                    raise PebbleError(f"expected an attribute name after '.' but found {self.describe(t)}", t.pos)
                self.advance()
                if t.kind == "name" and self.at_op("("):
                    node = ast.MethodCall(node.pos, node, t.value, self.parse_args())
                else:
                    node = ast.GetAttr(node.pos, node, t.value)
            elif self.at_op("["):
                self.advance()
                index = self.parse_expression()
                self.expect_op("]")
                node = ast.GetItem(node.pos, node, index)
            else:
                return node

    def parse_args(self) -> tuple[ast.Arg, ...]:
        self.expect_op("(")
        args: list[ast.Arg] = []
        while not self.at_op(")"):
            t = self.tok
            nxt = self.toks[self.i + 1]
            if t.kind == "name" and nxt.kind == "op" and nxt.value == "=":
                self.advance()
                self.advance()
                args.append(ast.Arg(t.pos, t.value, self.parse_expression()))
            else:
                if args and args[-1].name is not None:
                    raise PebbleError("positional argument after a named argument", t.pos)
                args.append(ast.Arg(t.pos, None, self.parse_expression()))
            if not self.at_op(","):
                break
            self.advance()
        self.expect_op(")")
        return tuple(args)


def parse(src: str) -> tuple[ast.Stmt, ...]:
    """Parse template text into its statements. Raises PebbleError (with a text offset) on syntax errors."""
    return _Parser(src).parse_template()
