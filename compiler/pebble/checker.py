"""Static checks of a parsed template against a Scope: undefined names, unknown filters/functions, bad arguments.

Problems are returned as (message, offset) pairs; the public API maps offsets to file positions.
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.diagnostics import did_you_mean
from compiler.pebble import ast
from compiler.pebble.cache import parse_cached
from compiler.pebble.errors import PebbleError
from compiler.pebble.registry import FILTERS, FUNCTIONS, TESTS, Signature
from compiler.pebble.scope import ROOT_NAMES, Collected, Scope

Problem = tuple[str, int]

EXECUTION_FIELDS = ("id", "startDate", "state", "originalId")
FLOW_FIELDS = ("id", "namespace", "revision", "tenantId")
TASKRUN_FIELDS = ("value", "iteration", "id", "startDate", "attemptsCount", "parentId")


def path_of(expr: ast.Expr) -> tuple[str, list[str | ast.Expr]] | None:
    """`a.b['c'][x]` -> ("a", ["b", "c", <x>]): the root name and the access chain (constant keys as str)."""
    chain: list[str | ast.Expr] = []
    node = expr
    while True:
        if isinstance(node, ast.GetAttr):
            chain.append(node.attr)
            node = node.obj
        elif isinstance(node, ast.GetItem):
            idx = node.index
            chain.append(idx.value if isinstance(idx, ast.Literal) and isinstance(idx.value, str) else idx)
            node = node.obj
        elif isinstance(node, ast.Name):
            chain.reverse()
            return node.name, chain
        else:
            return None


def output_file_problem(chain: list[str | ast.Expr], working_dir: bool) -> str | None:
    """Why `outputFiles<chain>` cannot be passed to the DuckDB function as its marker, if it cannot."""
    if not working_dir:
        return "'outputFiles' is only available in DuckDB tasks ({{ outputFiles.NAME }} or {{ outputFiles['NAME'] }})"
    if len(chain) != 1 or not isinstance(chain[0], str):
        return "'outputFiles' needs one constant file name: {{ outputFiles.NAME }} or {{ outputFiles['NAME'] }}"
    if "'" in chain[0]:
        return f"output file name {chain[0]!r} cannot contain a quote"
    return None


class Checker:
    """Walks one template; `problems` and `collected` are filled as it goes."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self._render_args: set[int] = set()
        self.collected = Collected()
        self.locals: list[set[str]] = [set()]
        self._rendering: list[str] = []

    def error(self, message: str, pos: int) -> None:
        self.problems.append((message, pos))

    # ---------------------------------------------------------------- statements
    def check_body(self, body: tuple[ast.Stmt, ...]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.Print):
                self.check_expr(stmt.expr)
            elif isinstance(stmt, ast.If):
                for cond, branch in stmt.branches:
                    self.check_expr(cond)
                    self.check_body(branch)
                self.check_body(stmt.orelse)
            elif isinstance(stmt, ast.For):
                self.check_expr(stmt.iterable)
                self.locals.append({stmt.var, "loop"} | ({stmt.key_var} if stmt.key_var else set()))
                self.check_body(stmt.body)
                self.locals.pop()
                self.check_body(stmt.orelse)
            elif isinstance(stmt, ast.Set):
                self.check_expr(stmt.value)
                self.locals[-1].add(stmt.name)

    def is_local(self, name: str) -> bool:
        return any(name in frame for frame in self.locals)

    # ---------------------------------------------------------------- expressions
    def check_expr(self, expr: ast.Expr, guarded: bool = False) -> None:
        if isinstance(expr, ast.Literal):
            return
        if isinstance(expr, (ast.Name, ast.GetAttr, ast.GetItem)):
            self.check_access(expr, guarded)
            return
        if isinstance(expr, ast.ListLit):
            for item in expr.items:
                self.check_expr(item)
        elif isinstance(expr, ast.MapLit):
            for k, v in expr.pairs:
                self.check_expr(k)
                self.check_expr(v)
        elif isinstance(expr, ast.Unary):
            self.check_expr(expr.operand)
        elif isinstance(expr, ast.Binary):
            # `a ?? b` / `a ??? b`: a missing `a` is the point, but unknown roots are still typos.
            self.check_expr(expr.left, guarded=expr.op in ("??", "???"))
            self.check_expr(expr.right)
        elif isinstance(expr, ast.Test):
            self.check_expr(expr.operand, guarded=expr.name in ("defined", "null", "empty"))
            self.check_args("test", expr.name, TESTS, expr.args, expr.name_pos)
        elif isinstance(expr, ast.Filter):
            self.check_expr(expr.operand, guarded=expr.name == "default")
            self.check_args("filter", expr.name, FILTERS, expr.args, expr.name_pos)
        elif isinstance(expr, ast.Call):
            self.check_call(expr)
        elif isinstance(expr, ast.MethodCall):
            self.check_expr(expr.obj)
            for a in expr.args:
                self.check_expr(a.value)
        elif isinstance(expr, ast.Ternary):
            self.check_expr(expr.cond)
            self.check_expr(expr.then)
            self.check_expr(expr.other)

    def check_args(self, kind: str, name: str, table: dict[str, Signature], args: tuple[ast.Arg, ...],
                   pos: int) -> None:
        for a in args:
            self.check_expr(a.value)
        sig = table.get(name)
        if sig is None:
            self.error(f"unknown {kind} '{name}'{did_you_mean(name, set(table))}", pos)
            return
        if sig.variadic:
            return
        positional = [a for a in args if a.name is None]
        if len(positional) > len(sig.args):
            self.error(f"{kind} '{name}' takes at most {len(sig.args)} argument(s), got {len(args)}", pos)
            return
        given = set(sig.args[: len(positional)])
        for a in args:
            if a.name is None:
                continue
            if a.name not in sig.args:
                names = ", ".join(sig.args) or "none"
                self.error(f"{kind} '{name}' has no argument '{a.name}' (arguments: {names})", a.pos)
            elif a.name in given:
                self.error(f"{kind} '{name}': argument '{a.name}' given twice", a.pos)
            given.add(a.name)
        missing = [n for n in sig.args[: sig.required] if n not in given]
        if missing:
            self.error(f"{kind} '{name}' is missing argument '{missing[0]}'", pos)

    def check_call(self, call: ast.Call) -> None:
        first = _arg(call.args, 0, FUNCTIONS.get(call.name))
        if call.name in ("render", "renderOnce") and first is not None:
            self._render_args.add(id(first))
        self.check_args("function", call.name, FUNCTIONS, call.args, call.pos)
        if call.name in ("kv", "secret") and first is not None:
            if not (isinstance(first, ast.Literal) and isinstance(first.value, str)):
                self.error(f"{call.name}() needs a constant key (a quoted string)", first.pos)
                return
            key = first.value
            if call.name == "secret":
                self.collected.secrets.add(key)
            else:
                ns_arg = _arg(call.args, 1, FUNCTIONS["kv"])
                ns = self.scope.namespace
                if ns_arg is not None:
                    if isinstance(ns_arg, ast.Literal) and isinstance(ns_arg.value, str):
                        ns = ns_arg.value
                    else:
                        self.error("kv() needs a constant namespace (a quoted string)", ns_arg.pos)
                self.collected.kv.add((ns, key))
        elif call.name in ("render", "renderOnce") and first is not None:
            self.check_render(first)

    def check_render(self, arg: ast.Expr) -> None:
        p = path_of(arg)
        if p is not None and p[0] == "vars" and len(p[1]) == 1 and isinstance(p[1][0], str):
            self.check_variable(p[1][0], arg.pos)

    def check_variable(self, name: str, pos: int) -> None:
        """Check the template held by `vars.<name>` as render() would evaluate it (recursively)."""
        raw = self.scope.variables.get(name)
        if not isinstance(raw, str) or name in self._rendering:
            return
        try:
            body = parse_cached(raw)
        except PebbleError as e:
            self.error(f"in variable '{name}': {e.message}", pos)
            return
        self._rendering.append(name)
        before = len(self.problems)
        self.check_body(body)
        self.problems[before:] = [(f"in variable '{name}': {m}", pos) for m, _ in self.problems[before:]]
        self._rendering.pop()

    def check_access(self, expr: ast.Expr, guarded: bool) -> None:
        p = path_of(expr)
        if p is None:
            # e.g. (a | first).b : check the inner parts
            for child in _children(expr):
                self.check_expr(child)
            return
        root, chain = p
        for c in chain:
            if not isinstance(c, str):
                self.check_expr(c)
        if self.is_local(root):
            return
        s = self.scope
        first = chain[0] if chain and isinstance(chain[0], str) else None
        if root not in ROOT_NAMES:
            self.error(f"unknown variable '{root}'{did_you_mean(root, set(ROOT_NAMES))}", expr.pos)
            return
        if root == "inputs" and first is not None and first not in s.inputs:
            self.error(f"unknown input '{first}'{did_you_mean(first, set(s.inputs))}", expr.pos)
        elif root == "vars" and first is not None and first not in s.variables:
            self.error(f"unknown variable 'vars.{first}'{did_you_mean(first, set(s.variables))}", expr.pos)
        elif root == "vars" and first is not None and len(chain) == 1 and self._rendering:
            self.check_variable(first, expr.pos)  # inside render(), Kestra renders the result again
        elif root == "vars" and first is not None and len(chain) == 1 and id(expr) not in self._render_args:
            raw = s.variables[first]
            if isinstance(raw, str) and ("{{" in raw or "{%" in raw):
                self.warnings.append((f"'vars.{first}' holds an expression that Kestra does not evaluate here "
                                      f"(the text is used as is); use render(vars.{first})", expr.pos))
        elif root == "outputs" and first is not None:
            if first not in s.tasks:
                if first in s.all_tasks:
                    self.error(f"task '{first}' has not run yet at this point (outputs.{first})", expr.pos)
                else:
                    known = set(s.all_tasks) | set(s.tasks)
                    self.error(f"unknown task '{first}' in outputs.{first}{did_you_mean(first, known)}", expr.pos)
                return
            names = s.tasks[first]
            out = chain[1] if len(chain) > 1 and isinstance(chain[1], str) else None
            if first in s.keyed_tasks and names is not None and out not in names:
                # outputs.t[<iteration value>].x: the output name comes after the value
                out = chain[2] if len(chain) > 2 and isinstance(chain[2], str) else None
            if names is not None and out is not None and out not in names and not guarded:
                ttype = s.task_types.get(first)
                of = f" ({ttype})" if ttype else ""
                avail = ", ".join(sorted(names)) or "none"
                self.error(f"task '{first}'{of} has no output '{out}' (outputs: {avail})", expr.pos)
        elif root == "trigger" and not s.has_trigger and not guarded:
            self.error("'trigger' is used but the flow has no trigger (use '??' for manual runs)", expr.pos)
        elif root == "taskrun" and first in ("value", "iteration") and not s.in_loop:
            self.error(f"'taskrun.{first}' is only defined inside ForEach", expr.pos)
        elif root == "workingDir" and not s.working_dir:
            self.error("'workingDir' is only available in DuckDB and script tasks", expr.pos)
        elif root == "outputFiles":
            problem = output_file_problem(chain, s.working_dir)
            if problem:
                self.error(problem, expr.pos)
        elif root == "flow" and first is not None and first not in FLOW_FIELDS:
            self.error(f"unknown field 'flow.{first}'{did_you_mean(first, set(FLOW_FIELDS))}", expr.pos)
        elif root == "execution" and first is not None and first not in EXECUTION_FIELDS:
            self.error(f"unknown field 'execution.{first}'{did_you_mean(first, set(EXECUTION_FIELDS))}", expr.pos)


def _arg(args: tuple[ast.Arg, ...], index: int, sig: Signature | None) -> ast.Expr | None:
    """The argument at `index` (positional) or by its name from `sig`."""
    positional = [a for a in args if a.name is None]
    if index < len(positional):
        return positional[index].value
    if sig is not None and index < len(sig.args):
        for a in args:
            if a.name == sig.args[index]:
                return a.value
    return None


def arg_value(args: tuple[ast.Arg, ...], index: int, sig: Signature | None) -> ast.Expr | None:
    """Public alias of the argument lookup used by the code generator."""
    return _arg(args, index, sig)


def _children(expr: ast.Expr) -> Iterator[ast.Expr]:
    if isinstance(expr, ast.GetAttr):
        yield expr.obj
    elif isinstance(expr, ast.GetItem):
        yield expr.obj
        yield expr.index
