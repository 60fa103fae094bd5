"""Parse a Workflows source (YAML or JSON) with positions and build the step tree, making the checks GCP
makes at deploy time: unknown or conflicting step fields, undefined `next` targets, duplicate step names,
`main` with more than one parameter, calls to undefined subworkflows or functions, per-step limits."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.error import MarkedYAMLError, YAMLError

from kestra_gcp.engine import connectors, yamlpos
from kestra_gcp.engine.errors import DeployError, error
from kestra_gcp.engine.expr import Evaluator, compile_node, compile_value
from kestra_gcp.engine.parser_expr import dotted_name, parse_expression, split_expression
from kestra_gcp.engine.scope import Scope
from kestra_gcp.engine.stdlib import FUNCTIONS
from kestra_gcp.engine.stdlib.retrylib import DEFAULT_BACKOFF, POLICIES
from kestra_gcp.engine.steps import (
    AssignStep,
    Branch,
    CallStep,
    Case,
    ForStep,
    NextStep,
    ParallelStep,
    RaiseStep,
    RetryPolicy,
    ReturnStep,
    Signal,
    Step,
    StepList,
    StepsStep,
    SwitchStep,
    Target,
    TryStep,
    jump,
)

STEP_FIELDS = {
    "assign",
    "call",
    "args",
    "result",
    "switch",
    "next",
    "steps",
    "for",
    "parallel",
    "try",
    "retry",
    "except",
    "raise",
    "return",
}
_KINDS = ("assign", "call", "switch", "steps", "for", "parallel", "try", "raise", "return")
MAX_ASSIGN = 50
MAX_CONDITIONS = 50
MAX_BRANCHES = 10
MAX_PARALLEL_DEPTH = 2
MAX_SOURCE = 128 * 1024


@dataclass
class Param:
    name: str
    has_default: bool
    default: Any


@dataclass
class Subworkflow:
    name: str
    params: list[Param]
    body: StepList
    where: str


@dataclass
class Program:
    filename: str
    workflows: dict[str, Subworkflow]


def plain(v: Any) -> Any:
    """ruamel round-trip types -> plain Python values."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if v is None or type(v) is bool:
        return v
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, bytes):
        return bytes(v)
    return str(v)


@dataclass
class _Ctx:
    filename: str
    subworkflows: frozenset[str]
    names: list[set[str]] = field(default_factory=list)
    loops: int = 0
    parallel: int = 0
    pending: list[tuple[str, str, int]] = field(default_factory=list)


def _where(ctx: _Ctx, node: Any, key: Any = None, index: int | None = None) -> str:
    line = col = None
    lc = getattr(node, "lc", None)
    try:
        if lc is not None and key is not None:
            line, col = lc.key(key)
        elif lc is not None and index is not None:
            line, col = lc.item(index)
        elif lc is not None:
            line, col = lc.line, lc.col
    except (KeyError, IndexError, TypeError, AttributeError):
        pass
    if line is None:
        return f"{ctx.filename}:1:1"
    return f"{ctx.filename}:{line + 1}:{(col or 0) + 1}"


def load_program(text: str, filename: str = "<workflow>") -> Program:
    """Parse and check a workflow source; raises DeployError."""
    if len(text.encode("utf-8")) > MAX_SOURCE:
        raise DeployError(f"{filename}:1:1: source exceeds the 128 KB limit")
    try:
        doc = yamlpos.load(text)
    except yamlpos.DuplicateKey as exc:
        raise DeployError(f"{filename}:{exc.line + 1}:{exc.col + 1}: invalid YAML: {exc}") from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else "1:1"
        raise DeployError(f"{filename}:{pos}: invalid YAML: {exc.problem or exc}") from None
    except YAMLError as exc:
        raise DeployError(f"{filename}:1:1: invalid YAML: {exc}") from None
    ctx = _Ctx(filename, frozenset())
    if isinstance(doc, list):
        defs: dict[str, Any] = {"main": {"steps": doc}}
        positions: Any = doc
    elif isinstance(doc, dict):
        defs = dict(doc)
        positions = doc
        if "main" not in defs:
            raise DeployError(f"{filename}:1:1: the workflow has no 'main' (a list of steps or a main workflow)")
    else:
        raise DeployError(f"{filename}:1:1: a workflow is a list of steps or a map of subworkflows")
    ctx.subworkflows = frozenset(str(k) for k in defs)
    workflows: dict[str, Subworkflow] = {}
    for name, body in defs.items():
        where = _where(ctx, positions, key=name) if isinstance(doc, dict) else f"{filename}:1:1"
        workflows[str(name)] = _subworkflow(ctx, str(name), body, where)
    main = workflows["main"]
    if len(main.params) > 1:
        raise DeployError(f"{main.where}: main takes at most one parameter (the execution argument)")
    return Program(filename, workflows)


def _subworkflow(ctx: _Ctx, name: str, body: Any, where: str) -> Subworkflow:
    if not isinstance(body, dict):
        raise DeployError(f"{where}: subworkflow '{name}' must be a map with 'steps'")
    unknown = set(body) - {"params", "steps"}
    if unknown:
        raise DeployError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))} in subworkflow '{name}'")
    params: list[Param] = []
    for i, p in enumerate(body.get("params") or []):
        if isinstance(p, str):
            params.append(Param(p, False, None))
        elif isinstance(p, dict) and len(p) == 1:
            ((pname, default),) = p.items()
            params.append(Param(str(pname), True, plain(default)))
        else:
            raise DeployError(f"{_where(ctx, body['params'], index=i)}: a parameter is a name or {{name: default}}")
    if len({p.name for p in params}) != len(params):
        raise DeployError(f"{where}: duplicate parameter names in subworkflow '{name}'")
    steps = body.get("steps")
    if not isinstance(steps, list) or not steps:
        raise DeployError(f"{where}: subworkflow '{name}' needs a non-empty list of steps")
    ctx.names = []
    ctx.pending = []
    step_list = _step_list(ctx, steps, where)
    return Subworkflow(name, params, step_list, where)


def _step_list(ctx: _Ctx, steps: Any, where: str) -> StepList:
    if not isinstance(steps, list) or not steps:
        raise DeployError(f"{where}: 'steps' must be a non-empty list")
    names: set[str] = set()
    entries: list[tuple[str, Any, str]] = []
    for i, item in enumerate(steps):
        iw = _where(ctx, steps, index=i)
        if not isinstance(item, dict) or len(item) != 1:
            raise DeployError(f"{iw}: each step is a map with exactly one key, the step name")
        ((name, body),) = item.items()
        name = str(name)
        sw = _where(ctx, item, key=name)
        if name in names:
            raise DeployError(f"{sw}: duplicate step name '{name}'")
        if name in ("end", "break", "continue"):
            raise DeployError(f"{sw}: '{name}' is reserved and cannot name a step")
        names.add(name)
        entries.append((name, body, sw))
    ctx.names.append(names)
    try:
        compiled = [_step(ctx, name, body, sw) for name, body, sw in entries]
    finally:
        ctx.names.pop()
    return StepList(compiled)


def _check_next(ctx: _Ctx, target: Any, where: str) -> Signal:
    if target is None:
        return None
    if not isinstance(target, str):
        raise DeployError(f"{where}: next must be a step name")
    if target in ("break", "continue"):
        if ctx.loops == 0:
            raise DeployError(f"{where}: next: {target} is only allowed inside a for loop")
    elif target != "end" and not any(target in names for names in ctx.names):
        raise DeployError(f"{where}: next: step '{target}' is not defined in this scope")
    return jump(target)


def _value(ctx: _Ctx, v: Any, where: str) -> Evaluator:
    return compile_value(plain(v), where, ctx.subworkflows)


def _step(ctx: _Ctx, name: str, body: Any, where: str) -> Step:
    if not isinstance(body, dict):
        raise DeployError(f"{where}: step '{name}' must be a map of step fields")
    for key in body:
        if key not in STEP_FIELDS:
            raise DeployError(f"{_where(ctx, body, key=key)}: unknown field '{key}' in step '{name}'")
    kinds = [k for k in _KINDS if k in body]
    if "try" in body:
        kinds = ["try"]
    if len(kinds) > 1 and not (set(kinds) <= {"assign", "return"} or set(kinds) <= {"assign", "raise"}):
        raise DeployError(f"{where}: step '{name}' mixes {' and '.join(kinds)}")
    for extra, needs in (("args", "call"), ("result", "call"), ("retry", "try"), ("except", "try")):
        if extra in body and needs not in body:
            raise DeployError(f"{_where(ctx, body, key=extra)}: '{extra}' needs '{needs}' in step '{name}'")
    nxt = _check_next(ctx, body.get("next"), _where(ctx, body, key="next") if "next" in body else where)
    if "next" in body and ("return" in body or "raise" in body):
        raise DeployError(f"{where}: step '{name}' cannot have next with return or raise")
    kind = kinds[0] if kinds else None
    if kind is None:
        if "next" not in body:
            raise DeployError(f"{where}: step '{name}' does nothing")
        return NextStep(name, where, nxt)
    if "return" in body or "raise" in body:
        assigns = (
            _assign(ctx, name, body["assign"], _where(ctx, body, key="assign"), None) if "assign" in body else None
        )
        if "return" in body:
            return ReturnStep(name, where, _value(ctx, body["return"], _where(ctx, body, key="return")), assigns)
        return RaiseStep(name, where, _value(ctx, body["raise"], _where(ctx, body, key="raise")), assigns)
    if kind == "assign":
        return _assign(ctx, name, body["assign"], _where(ctx, body, key="assign"), nxt)
    if kind == "call":
        return _call(ctx, name, body, where, nxt)
    if kind == "steps":
        return StepsStep(name, where, _step_list(ctx, body["steps"], _where(ctx, body, key="steps")), nxt)
    if kind == "switch":
        return _switch(ctx, name, body, where, nxt)
    if kind == "for":
        return _for(ctx, name, body["for"], _where(ctx, body, key="for"), nxt)
    if kind == "parallel":
        return _parallel(ctx, name, body["parallel"], _where(ctx, body, key="parallel"), nxt)
    return _try(ctx, name, body, where, nxt)


def _target(ctx: _Ctx, text: str, where: str) -> Target:
    node = parse_expression(text, where)
    path: list[tuple[bool, Evaluator]] = []
    while node[0] in ("attr", "index"):
        if node[0] == "attr":
            key = node[2]
            path.append((False, _const(key)))
        else:
            path.append((True, compile_node(node[2], where, ctx.subworkflows)))
        node = node[1]
    if node[0] != "var":
        raise DeployError(f"{where}: cannot assign to {text!r}")
    path.reverse()
    return Target(str(node[1]), path, where)


def _const(value: Any) -> Evaluator:
    return lambda s: value


def _assign(ctx: _Ctx, name: str, items: Any, where: str, nxt: Signal) -> AssignStep:
    if not isinstance(items, list) or not items:
        raise DeployError(f"{where}: assign must be a non-empty list of single-key maps")
    if len(items) > MAX_ASSIGN:
        raise DeployError(f"{where}: an assign step has at most {MAX_ASSIGN} assignments, got {len(items)}")
    out: list[tuple[Target, Evaluator]] = []
    for i, item in enumerate(items):
        iw = _where(ctx, items, index=i)
        if not isinstance(item, dict) or len(item) != 1:
            raise DeployError(f"{iw}: each assignment is a map with exactly one key")
        ((key, value),) = item.items()
        out.append((_target(ctx, str(key), iw), _value(ctx, value, iw)))
    return AssignStep(name, where, out, nxt)


def _call(ctx: _Ctx, name: str, body: Any, where: str, nxt: Signal) -> Step:
    fname = body["call"]
    cw = _where(ctx, body, key="call")
    if not isinstance(fname, str):
        raise DeployError(f"{cw}: call needs a function or subworkflow name")
    args = body.get("args") or {}
    aw = _where(ctx, body, key="args") if "args" in body else cw
    if not isinstance(args, dict):
        raise DeployError(f"{aw}: args must be a map")
    compiled = [(str(k), _value(ctx, v, _where(ctx, args, key=k))) for k, v in args.items()]
    result = body.get("result")
    if result is not None and (not isinstance(result, str) or not result.isidentifier()):
        raise DeployError(f"{_where(ctx, body, key='result')}: result must be a variable name")
    target = _call_target(ctx, fname, {k for k, _ in compiled}, cw)
    return CallStep(name, where, target, compiled, result, nxt)


def _call_target(ctx: _Ctx, fname: str, arg_names: set[str], where: str) -> Any:
    if fname in ctx.subworkflows:

        def call_sub(scope: Scope, kwargs: dict[str, Any]) -> Any:
            return scope.run.call_subworkflow(scope, fname, [], kwargs)

        return call_sub
    builtin = FUNCTIONS.get(fname)
    if builtin is not None:
        if builtin.lazy:
            raise DeployError(f"{where}: {fname} can only be used in an expression")
        sig = inspect.signature(builtin.fn)
        params = list(sig.parameters.values())[1:]
        known = {p.name for p in params}
        unknown = arg_names - known
        if unknown:
            raise DeployError(f"{where}: {fname}: unknown argument(s) {', '.join(sorted(unknown))}")
        missing = [p.name for p in params if p.default is inspect.Parameter.empty and p.name not in arg_names]
        if missing:
            raise DeployError(f"{where}: {fname}: missing argument(s) {', '.join(missing)}")
        fn = builtin.fn

        def call_builtin(scope: Scope, kwargs: dict[str, Any]) -> Any:
            return fn(scope.run, **kwargs)

        return call_builtin
    connector = connectors.CONNECTORS.get(fname)
    if connector is not None:

        def call_connector(scope: Scope, kwargs: dict[str, Any]) -> Any:
            return connector(scope.run, kwargs)

        return call_connector
    if fname.startswith("googleapis."):
        raise DeployError(f"{where}: connector {fname} is not available in the local engine")
    raise DeployError(f"{where}: call to undefined subworkflow or function '{fname}'")


def _switch(ctx: _Ctx, name: str, body: Any, where: str, nxt: Signal) -> Step:
    conds = body["switch"]
    sw = _where(ctx, body, key="switch")
    if not isinstance(conds, list) or not conds:
        raise DeployError(f"{sw}: switch must be a non-empty list of conditions")
    if len(conds) > MAX_CONDITIONS:
        raise DeployError(f"{sw}: a switch has at most {MAX_CONDITIONS} conditions")
    cases: list[Case] = []
    for i, c in enumerate(conds):
        cw = _where(ctx, conds, index=i)
        if not isinstance(c, dict) or "condition" not in c:
            raise DeployError(f"{cw}: each switch entry needs a condition")
        unknown = set(c) - {"condition", "next", "steps", "assign", "return", "raise"}
        if unknown:
            raise DeployError(f"{cw}: unknown field(s) {', '.join(sorted(map(str, unknown)))} in a switch condition")
        if "return" in c and "raise" in c:
            raise DeployError(f"{cw}: a switch condition cannot both return and raise")
        cases.append(
            Case(
                condition=_value(ctx, c["condition"], cw),
                assigns=_assign(ctx, name, c["assign"], cw, None) if "assign" in c else None,
                steps=_step_list(ctx, c["steps"], cw) if "steps" in c else None,
                ret=_value(ctx, c["return"], cw) if "return" in c else None,
                raise_=_value(ctx, c["raise"], cw) if "raise" in c else None,
                next=_check_next(ctx, c.get("next"), cw),
            )
        )
    return SwitchStep(name, where, cases, nxt, None)


def _loop_parts(ctx: _Ctx, spec: Any, where: str) -> tuple[str, str | None, Evaluator | None, Any]:
    if not isinstance(spec, dict):
        raise DeployError(f"{where}: for must be a map with value, in|range and steps")
    unknown = set(spec) - {"value", "index", "in", "range", "steps"}
    if unknown:
        raise DeployError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))} in for")
    value = spec.get("value")
    if not isinstance(value, str) or not value.isidentifier():
        raise DeployError(f"{where}: for needs 'value', a variable name")
    index = spec.get("index")
    if index is not None and (not isinstance(index, str) or not index.isidentifier()):
        raise DeployError(f"{where}: for 'index' must be a variable name")
    if ("in" in spec) == ("range" in spec):
        raise DeployError(f"{where}: for needs exactly one of 'in' and 'range'")
    source = None
    rng = None
    if "in" in spec:
        source = _value(ctx, spec["in"], _where(ctx, spec, key="in"))
    else:
        r = spec["range"]
        rw = _where(ctx, spec, key="range")
        if isinstance(r, str) and split_expression(r) is not None:
            whole = _value(ctx, r, rw)
            rng = (
                lambda s: _range_item(whole(s), 0),
                lambda s: _range_item(whole(s), 1),
            )
        elif isinstance(r, list) and len(r) == 2:
            rng = (_value(ctx, r[0], rw), _value(ctx, r[1], rw))
        else:
            raise DeployError(f"{rw}: range must be a list [start, end]")
    return value, index, source, rng


def _range_item(v: Any, i: int) -> Any:
    if not isinstance(v, list) or len(v) != 2:
        raise error("TypeError", "for range must be a list of two numbers")
    return v[i]


def _for(ctx: _Ctx, name: str, spec: Any, where: str, nxt: Signal) -> ForStep:
    value, index, source, rng = _loop_parts(ctx, spec, where)
    ctx.loops += 1
    try:
        body = _step_list(ctx, spec.get("steps"), where)
    finally:
        ctx.loops -= 1
    return ForStep(name, where, value, index, source, rng, body, nxt)


def _parallel(ctx: _Ctx, name: str, spec: Any, where: str, nxt: Signal) -> ParallelStep:
    if not isinstance(spec, dict):
        raise DeployError(f"{where}: parallel must be a map")
    unknown = set(spec) - {"shared", "concurrency_limit", "exception_policy", "branches", "for"}
    if unknown:
        raise DeployError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))} in parallel")
    if ("branches" in spec) == ("for" in spec):
        raise DeployError(f"{where}: parallel needs exactly one of 'branches' and 'for'")
    shared = spec.get("shared") or []
    if not isinstance(shared, list) or not all(isinstance(s, str) for s in shared):
        raise DeployError(f"{where}: shared must be a list of variable names")
    policy = spec.get("exception_policy")
    if policy not in (None, "continueAll"):
        raise DeployError(f"{where}: exception_policy must be continueAll")
    limit = _value(ctx, spec["concurrency_limit"], where) if "concurrency_limit" in spec else None
    if ctx.parallel >= MAX_PARALLEL_DEPTH:
        raise DeployError(f"{where}: parallel steps nest at most {MAX_PARALLEL_DEPTH} deep")
    ctx.parallel += 1
    saved_loops = ctx.loops
    saved_names = ctx.names
    ctx.names = []  # next cannot leave a branch
    try:
        if "branches" in spec:
            branches_spec = spec["branches"]
            if not isinstance(branches_spec, list) or not branches_spec:
                raise DeployError(f"{where}: branches must be a non-empty list")
            if len(branches_spec) > MAX_BRANCHES:
                raise DeployError(f"{where}: a parallel step has at most {MAX_BRANCHES} branches")
            branches: list[Branch] = []
            seen: set[str] = set()
            for i, b in enumerate(branches_spec):
                bw = _where(ctx, branches_spec, index=i)
                if not isinstance(b, dict) or len(b) != 1:
                    raise DeployError(f"{bw}: each branch is a map with exactly one key, the branch name")
                ((bname, bbody),) = b.items()
                if str(bname) in seen:
                    raise DeployError(f"{bw}: duplicate branch name '{bname}'")
                seen.add(str(bname))
                if not isinstance(bbody, dict) or set(bbody) != {"steps"}:
                    raise DeployError(f"{bw}: branch '{bname}' must have exactly 'steps'")
                ctx.loops = 0
                branches.append(Branch(str(bname), _step_list(ctx, bbody["steps"], bw)))
            return ParallelStep(name, where, shared, limit, policy == "continueAll", branches, None, nxt)
        ctx.loops = 1
        loop = _for(ctx, name, spec["for"], _where(ctx, spec, key="for"), None)
        return ParallelStep(name, where, shared, limit, policy == "continueAll", None, loop, nxt)
    finally:
        ctx.parallel -= 1
        ctx.loops = saved_loops
        ctx.names = saved_names


def _try(ctx: _Ctx, name: str, body: Any, where: str, nxt: Signal) -> TryStep:
    tw = _where(ctx, body, key="try")
    inner = body["try"]
    if not isinstance(inner, dict):
        raise DeployError(f"{tw}: try must be a step body (e.g. call/args/result or steps)")
    if "next" in inner:
        raise DeployError(f"{tw}: next is not allowed inside try; put it on the step")
    body_step = _step(ctx, name, inner, tw)
    retry = _retry(ctx, body["retry"], _where(ctx, body, key="retry")) if "retry" in body else None
    except_as = None
    except_steps = None
    if "except" in body:
        ew = _where(ctx, body, key="except")
        exc = body["except"]
        if not isinstance(exc, dict) or "steps" not in exc or set(exc) - {"as", "steps"}:
            raise DeployError(f"{ew}: except must be a map with 'steps' and optionally 'as'")
        except_as = exc.get("as")
        if except_as is not None and (not isinstance(except_as, str) or not except_as.isidentifier()):
            raise DeployError(f"{ew}: except 'as' must be a variable name")
        except_steps = _step_list(ctx, exc["steps"], ew)
    if retry is None and except_steps is None:
        raise DeployError(f"{tw}: try needs retry or except")
    return TryStep(name, where, body_step, retry, except_as, except_steps, nxt)


def _predicate(ctx: _Ctx, spec: Any, where: str) -> Any:
    inner = split_expression(spec) if isinstance(spec, str) else None
    pname = dotted_name(parse_expression(inner, where)) if inner is not None else None
    if pname is None:
        raise DeployError(f"{where}: retry predicate must be ${{name}} of a predicate function or subworkflow")
    if pname in ctx.subworkflows:

        def sub_predicate(scope: Scope, e: Any) -> Any:
            return scope.run.call_subworkflow(scope, pname, [e], {})

        return sub_predicate
    builtin = FUNCTIONS.get(pname)
    if builtin is None or builtin.blocking or builtin.lazy:
        raise DeployError(f"{where}: unknown retry predicate {pname!r}")
    fn = builtin.fn
    return lambda scope, e: fn(scope.run, e)


def _retry(ctx: _Ctx, spec: Any, where: str) -> RetryPolicy:
    if isinstance(spec, str):
        inner = split_expression(spec)
        pname = dotted_name(parse_expression(inner, where)) if inner is not None else None
        if pname not in POLICIES:
            raise DeployError(
                f"{where}: retry must be a policy map or one of {', '.join('${' + p + '}' for p in POLICIES)}"
            )
        spec = POLICIES[pname]
    if not isinstance(spec, dict):
        raise DeployError(f"{where}: retry must be a map")
    unknown = set(spec) - {"predicate", "max_retries", "backoff"}
    if unknown:
        raise DeployError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))} in retry")
    if "predicate" not in spec or "max_retries" not in spec:
        raise DeployError(f"{where}: retry needs predicate and max_retries")
    pred_spec = spec["predicate"]
    if isinstance(pred_spec, str) and split_expression(pred_spec) is None:
        pred_spec = "${" + str(pred_spec) + "}"
    backoff = spec.get("backoff") or DEFAULT_BACKOFF
    if not isinstance(backoff, dict) or set(backoff) - {"initial_delay", "max_delay", "multiplier"}:
        raise DeployError(f"{where}: backoff has initial_delay, max_delay, multiplier")
    return RetryPolicy(
        predicate=_predicate(ctx, pred_spec, where),
        max_retries=_value(ctx, spec["max_retries"], where),
        initial_delay=_value(ctx, backoff.get("initial_delay", 1), where),
        max_delay=_value(ctx, backoff.get("max_delay", 60), where),
        multiplier=_value(ctx, backoff.get("multiplier", 1.25), where),
    )
