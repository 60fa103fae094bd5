"""Pebble AST -> Workflows expression text, with static types.

Runtime names in compiled workflows are pinned: `inputs`, `outputs` (task id -> outputs map), `kv`
(KV values loaded for the run, keyed by key; `"namespace/key"` for another namespace), `trigger`,
`execution` (`id`, `startDate`), `labels`, `taskrun` (`value`, `iteration`). `flow.*` and `vars.*`
are resolved at compile time (`render()` expands recursively, as Kestra does).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from compiler.pebble import ast
from compiler.pebble.cache import parse_cached
from compiler.pebble.checker import arg_value, output_file_problem, path_of
from compiler.pebble.errors import PebbleError
from compiler.pebble.lexer import has_template
from compiler.pebble.registry import Signature
from compiler.pebble.scope import Collected, Scope
from compiler.pebble.wexpr import (
    ADD,
    AND,
    ATOM,
    CMP,
    MUL,
    NEG,
    NOT,
    OR,
    W,
    binop,
    call,
    const,
    index,
    join_strings,
    member,
)

INPUT_TYPES = {"INT": "int", "FLOAT": "float", "BOOLEAN": "bool", "ARRAY": "list", "MULTISELECT": "list",
               "JSON": "any", "YAML": "any"}
_MARKER_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # names the duckdb function reads in the dotted marker form
RUNTIME_ROOTS = ("inputs", "outputs", "trigger", "execution", "labels", "taskrun")


@dataclass(frozen=True)
class CodegenContext:
    """How to compile: the scope, the server's default time zone for dates, and whether long
    sub-expressions may be hoisted into temporary variables (returned in `Compiled.prelude`). When hoisting, a
    text concatenation longer than `max_expression` characters is also split into a chain of temporaries.
    Temporaries are numbered from 1 for every compiled value, so `temp_prefix` must be unique per value
    (e.g. `_<step>_<property>_`)."""

    scope: Scope = field(default_factory=Scope)
    time_zone: str = "UTC"
    hoist: bool = False
    temp_prefix: str = "_pb"
    max_expression: int = 400


class Generator:
    """Compiles statements and expressions; raises PebbleError at the first construct it cannot compile."""

    def __init__(self, ctx: CodegenContext) -> None:
        self.ctx = ctx
        self.scope = ctx.scope
        self.collected = Collected()
        self.locals: list[dict[str, W]] = [{}]
        self.prelude: list[tuple[str, str]] = []
        self._render_depth = 0
        self._lazy = 0  # > 0 while compiling a part that may not be evaluated (branches, ?? right side...)

    # ---------------------------------------------------------------- templates
    def template(self, body: tuple[ast.Stmt, ...]) -> tuple[Any, str, int]:
        """(value, type, longest expression size) for a whole template."""
        if len(body) == 1 and isinstance(body[0], ast.Print):
            w = self.expr(body[0].expr)
            if w.is_const:
                return _escape_const(w.const), w.type, 0
            return "${" + w.code + "}", w.type, len(w.code)
        w = self.concat(self.stmts(body))
        if w.is_const:
            return _escape_const(w.const), "string", 0
        if self.ctx.hoist and len(w.code) > self.ctx.max_expression:
            w = self.split(w)
        return "${" + w.code + "}", "string", len(w.code)

    def split(self, w: W) -> W:
        """Cut a long string concatenation into temporaries of at most `max_expression` characters each."""
        limit = max(self.ctx.max_expression - 16, 32)
        pieces: list[W] = []
        for p in w.parts or (w,):
            if p.is_const and isinstance(p.const, str) and len(p.code) > limit:
                text, size = p.const, limit // 2  # JSON escapes may double a character
                pieces.extend(const(text[i : i + size]) for i in range(0, len(text), size))
            else:
                pieces.append(p)
        acc: W | None = None
        chunk: list[W] = []
        for p in pieces:
            trial = join_strings(([acc] if acc else []) + [*chunk, p])
            if chunk and len(trial.code) > limit:
                acc = self.temp(join_strings(([acc] if acc else []) + chunk), force=True)
                chunk = [p]
            else:
                chunk.append(p)
        return join_strings(([acc] if acc else []) + chunk)

    def condition(self, body: tuple[ast.Stmt, ...]) -> tuple[Any, int]:
        """(true/false or "${...}", size): the template rendered, then judged as Kestra's TruthUtils does."""
        if len(body) == 1 and isinstance(body[0], ast.Print):
            w = self.truthy(self.expr(body[0].expr))
        else:
            w = self.truthy(self.concat(self.stmts(body)))
        if w.is_const:
            return bool(w.const), 0
        return "${" + w.code + "}", len(w.code)

    def stmts(self, body: tuple[ast.Stmt, ...]) -> list[W]:
        parts: list[W] = []
        for stmt in body:
            if isinstance(stmt, ast.Text):
                parts.append(const(stmt.text))
            elif isinstance(stmt, ast.Print):
                parts.append(self.expr(stmt.expr))
            elif isinstance(stmt, ast.Set):
                self.locals[-1][stmt.name] = self.expr(stmt.value)
            elif isinstance(stmt, ast.If):
                parts.append(self.if_stmt(stmt))
            elif isinstance(stmt, ast.For):
                parts.extend(self.unroll(stmt))
        return parts

    def unroll(self, stmt: ast.For) -> list[W]:
        """A `{% for %}` over a compile-time list or map is unrolled; a runtime one cannot be compiled."""
        it = self.expr(stmt.iterable)
        if not it.is_const or not isinstance(it.const, (list, dict)):
            raise PebbleError("'{% for %}' over a runtime value cannot be compiled to a Workflows expression; "
                              "use a ForEach task", stmt.pos)
        items = list(it.const.items()) if isinstance(it.const, dict) else list(enumerate(it.const))
        if not items:
            return self.stmts(stmt.orelse)
        parts: list[W] = []
        for i, (key, value) in enumerate(items):
            entry = value if stmt.key_var or isinstance(it.const, list) else {"key": key, "value": value}
            frame = {stmt.var: const(entry),
                     "loop": const({"index": i, "revindex": len(items) - i - 1, "first": i == 0,
                                    "last": i == len(items) - 1, "length": len(items)})}
            if stmt.key_var:
                frame[stmt.key_var] = const(key)
            self.locals.append(frame)
            try:
                parts.extend(self.stmts(stmt.body))
            finally:
                self.locals.pop()
        return parts

    @contextmanager
    def lazy(self) -> Iterator[None]:
        """Code compiled inside may not run (an if() branch, the right side of ??): nothing is hoisted out."""
        self._lazy += 1
        try:
            yield
        finally:
            self._lazy -= 1

    def if_stmt(self, stmt: ast.If) -> W:
        with self.lazy():
            result = self.concat(self.stmts(stmt.orelse))
        for cond, branch in reversed(stmt.branches):
            c = self.truthy(self.expr(cond))
            with self.lazy():
                then = self.concat(self.stmts(branch))
            if not c.is_const:
                result = call("if", c, then, result, type="string")
            elif c.const:
                result = then
        return result

    def concat(self, parts: list[W]) -> W:
        """Text concatenation as Kestra renders values into text."""
        folded: list[W] = []
        for p in parts:
            s = self.stringify(p)
            if folded and s.is_const and folded[-1].is_const:
                folded[-1] = const(folded[-1].const + s.const)
            else:
                folded.append(s)
        folded = [p for p in folded if not (p.is_const and p.const == "")] or [const("")]
        return join_strings(folded)

    def stringify(self, w: W) -> W:
        """A string-typed fragment with Kestra's text rendering of `w` (null -> "", maps/lists -> JSON)."""
        if w.is_const:
            return const(_render_const(w.const))
        if w.nullable:
            w = call("default", w, '""', type=w.type if w.type in ("string", "any") else "any")
        if w.type == "string":
            return w
        if w.type in ("list", "map"):
            return call("json.encode_to_string", w, type="string")
        if w.type == "null":
            return const("")
        return call("string", w, type="string")

    def truthy(self, w: W) -> W:
        """A boolean for a condition, as Kestra's TruthUtils ('false', '0', '-0', '' and null are false)."""
        if w.type == "bool":
            return w
        if w.is_const:
            return const(_render_const(w.const) not in ("false", "0", "-0", ""))
        s = self.stringify(w) if w.type != "any" else call("string", call("default", w, '""'), type="string")
        t = self.temp(s)
        code = " and ".join(f"{t.at(CMP)} != {lit}" for lit in ('"false"', '"0"', '"-0"', '""'))
        return W(code, "bool", AND)

    def temp(self, w: W, force: bool = False) -> W:
        """Hoist `w` into a temporary variable when allowed and worth it; else return it unchanged."""
        if not self.ctx.hoist or w.is_const or (not force and (self._lazy or (w.prec == ATOM and len(w.code) < 24))):
            return w
        for name, code in self.prelude:
            if code == "${" + w.code + "}":
                return W(name, w.type, ATOM)
        name = f"{self.ctx.temp_prefix}{len(self.prelude) + 1}"
        self.prelude.append((name, "${" + w.code + "}"))
        return W(name, w.type, ATOM)

    # ---------------------------------------------------------------- expressions
    def expr(self, e: ast.Expr) -> W:
        if isinstance(e, ast.Literal):
            return const(e.value)
        if isinstance(e, (ast.Name, ast.GetAttr, ast.GetItem)):
            return self.access(e)
        if isinstance(e, ast.ListLit):
            items = [self.expr(i) for i in e.items]
            if all(i.is_const for i in items):
                return const([i.const for i in items])
            return W("[" + ", ".join(i.code for i in items) + "]", "list", ATOM)
        if isinstance(e, ast.MapLit):
            pairs = [(self.expr(k), self.expr(v)) for k, v in e.pairs]
            if all(k.is_const and v.is_const for k, v in pairs):
                return const({str(k.const): v.const for k, v in pairs})
            if not all(k.is_const for k, _ in pairs):
                raise PebbleError("map literal keys must be constants", e.pos)
            return W("{" + ", ".join(f"{json.dumps(str(k.const))}: {v.code}" for k, v in pairs) + "}", "map")
        if isinstance(e, ast.Unary):
            return self.unary(e)
        if isinstance(e, ast.Binary):
            return self.binary(e)
        if isinstance(e, ast.Ternary):
            c = self.truthy(self.expr(e.cond))
            with self.lazy():
                a, b = self.expr(e.then), self.expr(e.other)
            if c.is_const:
                return a if c.const else b
            return call("if", c, a, b, type=a.type if a.type == b.type else "any")
        if isinstance(e, ast.Test):
            return self.test(e)
        if isinstance(e, ast.Filter):
            return self.filter(e)
        if isinstance(e, ast.Call):
            return self.function(e)
        if isinstance(e, ast.MethodCall):
            raise PebbleError(f"method call '.{e.name}()' cannot be compiled; use a filter", e.pos)
        raise PebbleError("unsupported expression", e.pos)  # pragma: no cover

    # ---------------------------------------------------------------- names and access
    def access(self, e: ast.Expr) -> W:
        p = path_of(e)
        if p is None:
            obj = e.obj if isinstance(e, (ast.GetAttr, ast.GetItem)) else e
            base = self.expr(obj)
            return self.apply_chain(base, [e.attr] if isinstance(e, ast.GetAttr) else [e.index])  # type: ignore
        root, chain = p
        for frame in reversed(self.locals):
            if root in frame:
                return self.apply_chain(frame[root], chain)
        s = self.scope
        first = chain[0] if chain and isinstance(chain[0], str) else None
        if root == "vars":
            if first is None or first not in s.variables:
                raise PebbleError(f"unknown variable 'vars.{first}'", e.pos)
            return self.apply_chain(const(_jsonable(s.variables[first])), chain[1:])
        if root == "flow":
            facts = {"id": s.flow_id, "namespace": s.namespace}
            if first in facts:
                return const(facts[first])
            raise PebbleError(f"'flow.{first}' cannot be compiled (supported: flow.id, flow.namespace)", e.pos)
        if root == "task":
            facts = {"id": s.task_id, "type": s.task_type}
            if facts.get(first or ""):
                return const(facts[first or ""])
            raise PebbleError(f"'task.{first}' cannot be compiled here (supported: task.id, task.type in a task)",
                              e.pos)
        if root == "workingDir":
            if not s.working_dir:
                raise PebbleError("'workingDir' is only available in DuckDB and script tasks", e.pos)
            return const("{{workingDir}}")
        if root == "outputFiles":
            problem = output_file_problem(chain, s.working_dir)
            if problem:
                raise PebbleError(problem, e.pos)
            name = str(chain[0])
            return const(f"{{{{outputFiles.{name}}}}}" if _MARKER_NAME.fullmatch(name)
                         else f"{{{{outputFiles['{name}']}}}}")
        if root == "execution" and first not in ("id", "startDate") and not (
                first == "state" and s.after_execution):
            raise PebbleError(f"'execution.{first}' cannot be compiled (supported: execution.id, "
                              "execution.startDate, and execution.state in afterExecution)", e.pos)
        if root == "taskrun" and first not in ("value", "iteration"):
            raise PebbleError(f"'taskrun.{first}' cannot be compiled (supported: taskrun.value, "
                              "taskrun.iteration)", e.pos)
        if root not in RUNTIME_ROOTS:
            raise PebbleError(f"'{root}' cannot be compiled to a Workflows expression", e.pos)
        w = self.apply_chain(W(s.taskrun_var if root == "taskrun" else root, "map"), chain)
        if root == "inputs" and len(chain) == 1 and first is not None:
            ktype = s.inputs.get(first, "STRING")
            return W(w.code, INPUT_TYPES.get(ktype, "string"), w.prec, nullable=first in s.nullable_inputs)
        if root == "execution" or (root == "trigger" and first in ("date", "next", "previous")):
            return W(w.code, "string", w.prec)
        if root == "taskrun" and first == "iteration":
            return W(w.code, "int", w.prec)
        return w

    def apply_chain(self, base: W, chain: list[str | ast.Expr]) -> W:
        w = base
        for key in chain:
            if w.is_const and isinstance(key, str) and isinstance(w.const, dict):
                w = const(_jsonable(w.const.get(key)))
                continue
            if isinstance(key, str):
                w = member(W(w.code, w.type, w.prec), key)
            else:
                k = self.expr(key)
                if w.is_const and k.is_const:
                    try:
                        w = const(w.const[k.const])
                        continue
                    except (KeyError, IndexError, TypeError):
                        raise PebbleError(f"no element {k.const!r}", key.pos) from None
                w = index(w, k)
        return w

    def safe_get(self, e: ast.Expr) -> W | None:
        """`map.get(root, [path...])`: null instead of an error when a key is missing (for ??, default,
        is defined). None when `e` is not a runtime access path with constant keys."""
        p = path_of(e)
        if p is None or any(not isinstance(k, str) for k in p[1]) or not p[1]:
            return None
        root, chain = p
        if root not in RUNTIME_ROOTS or any(root in f for f in self.locals):
            return None
        keys = [str(k) for k in chain]
        arg = json.dumps(keys[0]) if len(keys) == 1 else "[" + ", ".join(json.dumps(k) for k in keys) + "]"
        typed = self.access(e)
        return W(f"map.get({root}, {arg})", typed.type, ATOM)

    # ---------------------------------------------------------------- operators
    def unary(self, e: ast.Unary) -> W:
        w = self.expr(e.operand)
        if e.op == "not":
            b = self.truthy(w)
            if b.is_const:
                return const(not b.const)
            return W(f"not ({b.code})", "bool", NOT)
        if e.op == "-":
            if w.is_const and isinstance(w.const, (int, float)) and not isinstance(w.const, bool):
                return const(-w.const)
            return W(f"-{w.at(NEG)}", w.type, NEG)
        return w

    def binary(self, e: ast.Binary) -> W:
        op = e.op
        if op in ("??", "???"):
            return self.coalesce(e)
        left = self.expr(e.left)
        if op in ("and", "or"):
            with self.lazy():
                right = self.expr(e.right)
        else:
            right = self.expr(e.right)
        if op == "~":
            return self.concat([left, right])
        for side in (left, right):
            if side.is_const and isinstance(side.const, str) and "{{secret:" in side.const:
                raise PebbleError(f"operator '{op}' cannot be applied to a secret: secret() can only be "
                                  "inserted as text", e.pos)
        if op in ("and", "or"):
            lb, rb = self.truthy(left), self.truthy(right)
            prec = AND if op == "and" else OR
            if lb.is_const and rb.is_const:
                return const(lb.const and rb.const if op == "and" else lb.const or rb.const)
            return binop(lb, op, rb, prec, "bool")
        if op in ("==", "!=", "<", ">", "<=", ">="):
            if left.is_const and right.is_const and op in ("==", "!="):
                eq = left.const == right.const
                return const(eq if op == "==" else not eq)
            return W(f"{left.at(ADD)} {op} {right.at(ADD)}", "bool", CMP)
        if op == "+" and "string" in (left.type, right.type):
            return self.concat([left, right])  # Pebble: `+` with a string operand concatenates
        if op in ("+", "-", "*", "/", "%"):
            num = left.type in ("int", "float") and right.type in ("int", "float")
            if op == "/" and left.type == "int" and right.type == "int":
                op = "//"  # Pebble divides longs as longs
            t = ("int" if left.type == right.type == "int" and op != "/" else "float") if num else "any"
            prec = ADD if op in ("+", "-") else MUL
            return binop(left, op, right, prec, t)
        if op in ("isIn", "notIn"):
            w = self.membership(left, right, e)
            if op == "notIn":
                return W(f"not ({w.code})", "bool", NOT)
            return w
        if op == "contains":
            if left.type == "string":
                return W(f"len(text.find_all({left.code}, {self.stringify(right).code})) > 0", "bool", CMP)
            return W(f"{right.at(ADD)} in {left.at(ADD)}", "bool", CMP)
        raise PebbleError(f"operator '{op}' cannot be compiled to a Workflows expression", e.pos)

    def membership(self, left: W, right: W, e: ast.Binary) -> W:
        """`x isIn list`: equalities for a literal list (no list literal in the expression), else `in`."""
        if right.is_const and isinstance(right.const, list):
            items = [const(v) for v in right.const]
        elif isinstance(e.right, ast.ListLit):
            items = [self.expr(i) for i in e.right.items]
        else:
            return W(f"{left.at(ADD)} in {right.at(ADD)}", "bool", CMP)
        if not items:
            return const(False)
        s = self.temp(left)
        return W(" or ".join(f"{s.at(ADD)} == {i.at(ADD)}" for i in items), "bool", OR)

    def coalesce(self, e: ast.Binary) -> W:
        with self.lazy():
            return self._coalesce(e)

    def _coalesce(self, e: ast.Binary) -> W:
        right = self.expr(e.right)
        safe = self.safe_get(e.left)
        if e.op == "???" and safe is not None:
            p = path_of(e.left)
            assert p is not None
            root, chain = p
            keys = [str(k) for k in chain[:-1]]
            if not keys:
                parent = root
            elif len(keys) == 1:
                parent = f"map.get({root}, {json.dumps(keys[0])})"
            else:
                parent = f"map.get({root}, [{', '.join(json.dumps(k) for k in keys)}])"
            # `and` short-circuits: `in` only sees a map; a missing parent is undefined too.
            present = W(f"{parent} != null and {json.dumps(str(chain[-1]))} in {parent}", "bool", AND)
            return call("if", present, safe, right, type=safe.type if safe.type == right.type else "any")
        left = safe if safe is not None else self.expr(e.left)
        if left.is_const:
            return right if left.const is None else left
        return call("default", left, right, type=left.type if left.type == right.type else "any")

    def test(self, e: ast.Test) -> W:
        name = e.name
        if name == "defined":
            w = self.defined(e.operand)
        elif name == "null":
            safe = self.safe_get(e.operand)
            w = safe if safe is not None else self.expr(e.operand)
            w = const(w.const is None) if w.is_const else W(f"{w.at(ADD)} == null", "bool", CMP)
        elif name == "empty":
            safe = self.safe_get(e.operand)
            v = safe if safe is not None else self.expr(e.operand)
            if v.is_const:
                w = const(v.const in (None, "", [], {}))
            else:
                w = W(f"len(default({v.code}, \"\")) == 0", "bool", CMP)
        elif name in ("even", "odd"):
            v = self.expr(e.operand)
            w = W(f"{v.at(MUL)} % 2 {'==' if name == 'even' else '!='} 0", "bool", CMP)
        else:
            raise PebbleError(f"test '{name}' cannot be compiled to a Workflows expression", e.name_pos)
        if e.negated:
            return const(not w.const) if w.is_const else W(f"not ({w.code})", "bool", NOT)
        return w

    def defined(self, operand: ast.Expr) -> W:
        """`x is defined`: Pebble's test is `x != null`, an undefined name being null."""
        p = path_of(operand)
        if p is None:
            w = self.expr(operand)
            return const(w.const is not None) if w.is_const else W(f"{w.at(ADD)} != null", "bool", CMP)
        root, chain = p
        if any(root in f for f in self.locals) or root in ("vars", "flow", "task"):
            try:
                w = self.access(operand)
            except PebbleError:
                return const(False)
            return const(w.const is not None) if w.is_const else W(f"{w.at(ADD)} != null", "bool", CMP)
        if not chain:
            return W(f"{root} != null", "bool", CMP)
        safe = self.safe_get(operand)
        if safe is None:
            raise PebbleError("'is defined' on a computed key cannot be compiled", operand.pos)
        return W(f"{safe.code} != null", "bool", CMP)

    # ---------------------------------------------------------------- filters
    def filter(self, e: ast.Filter) -> W:
        from compiler.pebble.filters import compile_filter

        return compile_filter(self, e)

    def arg(self, args: tuple[ast.Arg, ...], i: int, sig: Signature) -> W | None:
        a = arg_value(args, i, sig)
        return None if a is None else self.expr(a)

    def const_arg(self, args: tuple[ast.Arg, ...], i: int, sig: Signature, what: str, pos: int) -> Any:
        a = arg_value(args, i, sig)
        if a is None:
            return None
        w = self.expr(a)
        if not w.is_const:
            raise PebbleError(f"{what} must be a constant", a.pos)
        return w.const

    # ---------------------------------------------------------------- functions
    def function(self, e: ast.Call) -> W:
        from compiler.pebble.functions import compile_function

        return compile_function(self, e)

    def render(self, e: ast.Call, sig: Signature) -> W:
        a = arg_value(e.args, 0, sig)
        assert a is not None
        recursive = e.name == "render" and self.const_arg(e.args, 1, sig, "render() recursive", e.pos) is not False
        w = self.expr(a)
        if not w.is_const:
            raise PebbleError("render() of a runtime value cannot be compiled; only constants and vars.*", e.pos)
        for _ in range(10 if recursive else 1):
            if w.is_const:
                if not _is_template(w.const):
                    return w
                w = self._render_text(w.const, e.pos)
            elif any(p.is_const and _is_template(p.const) for p in w.parts):
                # Kestra renders the result again: the constant pieces holding `{{ }}` are rendered
                # (runtime values are taken not to contain templates).
                w = self.concat([self._render_text(p.const, e.pos) if p.is_const and _is_template(p.const) else p
                                 for p in w.parts])
            else:
                return w
        return w

    def _render_text(self, text: str, pos: int) -> W:
        if self._render_depth > 20:
            raise PebbleError("render(): recursion too deep (a variable renders itself?)", pos)
        try:
            body = parse_cached(text)
        except PebbleError as err:
            raise PebbleError(f"in rendered text {text!r}: {err.message}", pos) from None
        self._render_depth += 1
        try:
            return self._render_body(body, pos)
        finally:
            self._render_depth -= 1

    def _render_body(self, body: tuple[ast.Stmt, ...], pos: int) -> W:
        self.locals.append({})
        try:
            if len(body) == 1 and isinstance(body[0], ast.Print):
                w = self.expr(body[0].expr)
                return w if not w.is_const or isinstance(w.const, str) else const(_render_const(w.const))
            return self.concat(self.stmts(body))
        except PebbleError as err:
            raise PebbleError(f"in rendered variable: {err.message}", pos) from None
        finally:
            self.locals.pop()


def _is_template(v: Any) -> bool:
    return isinstance(v, str) and has_template(v)


def _render_const(v: Any) -> str:
    """Kestra's text rendering of a constant."""
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (list, dict)):
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return str(v)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


def _escape_const(v: Any) -> Any:
    """A constant as a Workflows value: strings containing `${` (also inside lists and maps) become
    expressions so they stay literal."""
    if isinstance(v, str) and "${" in v:
        return "${" + json.dumps(v, ensure_ascii=False) + "}"
    if isinstance(v, list):
        return [_escape_const(x) for x in v]
    if isinstance(v, dict):
        return {k: _escape_const(x) for k, x in v.items()}
    return v
