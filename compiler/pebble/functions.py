"""Pebble functions compiled to Workflows expressions: secret() markers, kv() lookups, fromJson, now()..."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from compiler.pebble import ast, dates
from compiler.pebble.errors import PebbleError
from compiler.pebble.registry import FUNCTIONS
from compiler.pebble.wexpr import ATOM, W, call, const, member

if TYPE_CHECKING:
    from compiler.pebble.codegen import Generator


def compile_function(g: Generator, e: ast.Call) -> W:
    sig = FUNCTIONS.get(e.name)
    if sig is None:
        raise PebbleError(f"unknown function '{e.name}'", e.pos)
    if e.name == "secret":
        # Never resolved in a workflow: the function that uses the value replaces the marker.
        key = g.const_arg(e.args, 0, sig, "secret() key", e.pos)
        if not isinstance(key, str):
            raise PebbleError("secret() needs a constant key (a quoted string)", e.pos)
        g.collected.secrets.add(key)
        return const("{{secret:" + key + "}}")
    if e.name == "kv":
        return _kv(g, e)
    if e.name in ("render", "renderOnce"):
        return g.render(e, sig)
    if e.name in ("fromJson", "json"):
        a = g.arg(e.args, 0, sig)
        assert a is not None
        if a.is_const and isinstance(a.const, str):
            try:
                return const(json.loads(a.const))
            except ValueError:
                raise PebbleError("fromJson: the constant is not valid JSON", e.pos) from None
        return call("json.decode", a)
    if e.name == "now":
        fmt = g.const_arg(e.args, 0, sig, "now() format", e.pos)
        zone = g.const_arg(e.args, 1, sig, "now() timeZone", e.pos)
        zone = dates.check_zone(zone, e.pos) if zone is not None else g.ctx.time_zone
        s = dates.canonical(W("sys.now()", "float"), zone)
        return dates.format_pattern(g.temp(s), fmt or "iso", e.pos)
    if e.name == "uuid":
        return call("uuid.generate", type="string")
    if e.name in ("max", "min") and len(e.args) == 2:
        a, b = (g.expr(x.value) for x in e.args)
        return call(f"math.{e.name}", a, b, type=a.type if a.type == b.type else "float")
    raise PebbleError(f"function '{e.name}()' cannot be compiled to a Workflows expression", e.pos)


def kv_name(namespace: str, key: str, flow_namespace: str) -> str:
    """The name of a KV entry in the run's `kv` map: `K` in the flow's namespace, `ns/K` in another one.
    (The loader, helper `kestra_kv_merge` in compiler/backend/runtime.py, names entries by the same rule.)"""
    return key if namespace == flow_namespace else f"{namespace}/{key}"


def _kv(g: Generator, e: ast.Call) -> W:
    """`kv('K')` -> the value loaded for this run: `kv.K`, or `kv["ns/K"]` for another namespace (see kv_name).

    Keys missing from the store are absent from `kv`: reading one fails where it is used (as Kestra fails the
    rendering), unless errorOnMissing is false (null)."""
    sig = FUNCTIONS["kv"]
    key = g.const_arg(e.args, 0, sig, "kv() key", e.pos)
    ns = g.const_arg(e.args, 1, sig, "kv() namespace", e.pos) or g.scope.namespace
    must = g.const_arg(e.args, 2, sig, "kv() errorOnMissing", e.pos)
    if not isinstance(key, str) or not isinstance(ns, str):
        raise PebbleError("kv() needs a constant key (a quoted string)", e.pos)
    g.collected.kv.add((ns, key))
    name = kv_name(ns, key, g.scope.namespace)
    if must is False:
        return W(f"map.get(kv, {json.dumps(name)})", "any", ATOM, nullable=True)
    return member(W("kv", "map"), name)
