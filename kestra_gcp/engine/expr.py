"""Compile Workflows expressions (and values containing them) once into Python closures `f(scope) -> value`.

A string is an expression only when it is one whole `${...}`; any other string is a literal. Functions are
resolved at compile time against the standard library; other dotted names called in an expression are
subworkflows, resolved at run time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kestra_gcp.engine import ops
from kestra_gcp.engine.errors import DeployError, WorkflowError, error, type_error
from kestra_gcp.engine.parser_expr import Node, dotted_name, parse_expression, split_expression
from kestra_gcp.engine.scope import Scope

Evaluator = Callable[[Scope], Any]


def compile_node(node: Node, where: str, subworkflows: frozenset[str] | None = None) -> Evaluator:
    """Turn an AST node into a closure."""
    from kestra_gcp.engine.stdlib.retrylib import CONSTANTS

    kind = node[0]
    if kind == "lit":
        value = node[1]
        return lambda s: value
    if kind == "var":
        name = node[1]

        def var(s: Scope) -> Any:
            while s is not None:
                d = s.vars
                if name in d:
                    return d[name]
                s = s.parent  # type: ignore[assignment]
            raise error("KeyError", f"variable not defined: {name}")

        return var
    if kind == "attr":
        dotted = dotted_name(node)
        if dotted in CONSTANTS:  # e.g. retry.default_backoff
            constant = CONSTANTS[dotted]
            return lambda s: constant
        base = compile_node(node[1], where, subworkflows)
        field = node[2]
        get_field = ops.get_field

        def attr(s: Scope) -> Any:
            obj = base(s)
            if type(obj) is dict and field in obj:
                return obj[field]
            return get_field(obj, field)

        return attr
    if kind == "index":
        base = compile_node(node[1], where, subworkflows)
        idx = compile_node(node[2], where, subworkflows)
        get_index = ops.get_index

        def index(s: Scope) -> Any:
            obj = base(s)
            i = idx(s)
            if type(obj) is list and type(i) is int and 0 <= i < len(obj):
                return obj[i]
            return get_index(obj, i)

        return index
    if kind == "list":
        items = [compile_node(n, where, subworkflows) for n in node[1]]
        return lambda s: [f(s) for f in items]
    if kind == "map":
        return _map_of(
            [(compile_node(k, where, subworkflows), compile_node(v, where, subworkflows)) for k, v in node[1]]
        )
    if kind == "neg":
        operand = compile_node(node[1], where, subworkflows)
        return lambda s: ops.neg(operand(s))
    if kind == "not":
        operand = compile_node(node[1], where, subworkflows)
        return lambda s: not ops.boolean(operand(s), "not")
    if kind == "and":
        left = compile_node(node[1], where, subworkflows)
        right = compile_node(node[2], where, subworkflows)
        return lambda s: ops.boolean(left(s), "and") and ops.boolean(right(s), "and")
    if kind == "or":
        left = compile_node(node[1], where, subworkflows)
        right = compile_node(node[2], where, subworkflows)
        return lambda s: ops.boolean(left(s), "or") or ops.boolean(right(s), "or")
    if kind == "in":
        left = compile_node(node[1], where, subworkflows)
        right = compile_node(node[2], where, subworkflows)
        return lambda s: ops.contains(left(s), right(s))
    if kind == "bin":
        return _binary(node[1], compile_node(node[2], where, subworkflows), compile_node(node[3], where, subworkflows))
    if kind == "call":
        return _function_call(node, where, subworkflows)
    raise DeployError(f"{where}: unsupported expression node {kind}")


def _function_call(node: Node, where: str, subworkflows: frozenset[str] | None) -> Evaluator:
    """A call in an expression: a standard-library function, or a subworkflow (which wins on a name clash)."""
    from kestra_gcp.engine.stdlib import FUNCTIONS

    name = node[1]
    args = [compile_node(n, where, subworkflows) for n in node[2]]
    builtin = None if subworkflows is not None and name in subworkflows else FUNCTIONS.get(name)
    if builtin is not None:
        if builtin.blocking:
            raise DeployError(f"{where}: {name} is a blocking call and cannot be used in an expression")
        fn = builtin.fn
        if builtin.lazy:
            # default()/if(): arguments are evaluated on demand.
            return lambda s: fn(s, *args)
        if len(args) == 1:
            a0 = args[0]
            return lambda s: _call(name, fn, s, [a0(s)])
        return lambda s: _call(name, fn, s, [a(s) for a in args])
    if subworkflows is not None and name not in subworkflows:
        raise DeployError(f"{where}: unknown function {name!r}")

    def subworkflow(s: Scope) -> Any:
        return s.run.call_subworkflow(s, name, [a(s) for a in args], {})

    return subworkflow


def _call(name: str, fn: Callable[..., Any], s: Scope, args: list[Any]) -> Any:
    try:
        return fn(s.run, *args)
    except TypeError as exc:
        if isinstance(exc, WorkflowError):
            raise
        raise type_error(f"{name}: wrong arguments: {exc}") from None


def _binary(op: str, left: Evaluator, right: Evaluator) -> Evaluator:
    if op == "+":
        add = ops.add

        def plus(s: Scope) -> Any:
            a = left(s)
            b = right(s)
            if type(a) is int and type(b) is int:
                r = a + b
                if -(2**63) <= r < 2**63:
                    return r
            return add(a, b)

        return plus
    if op == "==":
        eq = ops.equal
        return lambda s: eq(left(s), right(s))
    if op == "<":
        lt = ops.lt

        def less(s: Scope) -> Any:
            a = left(s)
            b = right(s)
            if type(a) is int and type(b) is int:
                return a < b
            return lt(a, b)

        return less
    fn = ops.BINARY[op]
    return lambda s: fn(left(s), right(s))


def compile_text(text: str, where: str, subworkflows: frozenset[str] | None = None) -> Evaluator:
    """Compile the inside of `${...}`."""
    return compile_node(parse_expression(text, where), where, subworkflows)


def compile_value(value: Any, where: str, subworkflows: frozenset[str] | None = None) -> Evaluator:
    """Compile a YAML value in which any string that is a whole `${...}` is an expression."""
    if isinstance(value, str):
        inner = split_expression(value)
        if inner is not None:
            return compile_text(inner, where, subworkflows)
        return lambda s: value
    if isinstance(value, list):
        if not is_dynamic(value):
            const_list = value
            return lambda s: const_list
        items = [compile_value(v, where, subworkflows) for v in value]
        return lambda s: [f(s) for f in items]
    if isinstance(value, dict):
        if not is_dynamic(value):
            const_map = value
            return lambda s: const_map
        if not any(isinstance(k, str) and split_expression(k) is not None for k in value):
            fields = [(str(k), compile_value(v, where, subworkflows)) for k, v in value.items()]
            return lambda s: {k: f(s) for k, f in fields}
        # Dynamic keys: a key that is a whole ${...} is evaluated and must give a string.
        return _map_of(
            [
                (compile_value(str(k), where, subworkflows), compile_value(v, where, subworkflows))
                for k, v in value.items()
            ]
        )
    return lambda s: value


def _map_of(pairs: list[tuple[Evaluator, Evaluator]]) -> Evaluator:
    """An evaluator building a map from evaluated (key, value) pairs; every key must evaluate to a string."""

    def mapping(s: Scope) -> Any:
        out: dict[str, Any] = {}
        for kf, vf in pairs:
            k = kf(s)
            if not isinstance(k, str):
                raise type_error(f"map keys must be strings, got {ops.type_name(k)}")
            out[k] = vf(s)
        return out

    return mapping


def is_dynamic(value: Any) -> bool:
    """True when a value contains an expression anywhere (map keys included)."""
    if isinstance(value, str):
        return split_expression(value) is not None
    if isinstance(value, list):
        return any(is_dynamic(v) for v in value)
    if isinstance(value, dict):
        return any(is_dynamic(k) or is_dynamic(v) for k, v in value.items())
    return False
