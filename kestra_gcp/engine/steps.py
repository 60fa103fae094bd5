"""The pre-compiled step tree and how each kind of step executes.

`Step.exec(scope)` returns a control signal: None (go on), a step name (jump), `END`, `BREAK`, `CONTINUE`,
or a `Ret` carrying a returned value. Errors are `WorkflowError`s."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kestra_gcp.engine.errors import WorkflowError, error, resource_limit, type_error, value_error
from kestra_gcp.engine.expr import Evaluator
from kestra_gcp.engine.runtime import MAX_MEMORY, BranchAborted, Cancelled, branch_state
from kestra_gcp.engine.scope import Scope
from kestra_gcp.engine.values import is_number, size_of, type_name


class _Signal:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


END = _Signal("end")
BREAK = _Signal("break")
CONTINUE = _Signal("continue")


class Ret:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


Aborted = BranchAborted


Signal = None | str | _Signal | Ret


class Step:
    name: str = ""
    where: str = ""
    next: Signal = None

    def exec(self, scope: Scope) -> Signal:
        raise NotImplementedError


@dataclass
class StepList:
    steps: list[Step]
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {s.name: i for i, s in enumerate(self.steps)}

    def run(self, scope: Scope) -> Signal:
        steps = self.steps
        n = len(steps)
        i = 0
        run = scope.run
        abort = scope.abort
        cancel = run.cancel_event
        events = run.on_event is not None
        while i < n:
            step = steps[i]
            run.steps += 1
            if run.steps > 100_000:
                run.count_step()
            if cancel.is_set():
                raise Cancelled()
            if abort is not None and abort.is_set():
                raise Aborted()
            try:
                if events:
                    run.step_event("step_start", step.name)
                    run.current_step = step.name
                    sig = step.exec(scope)
                    run.step_event("step_end", step.name)
                else:
                    sig = step.exec(scope)
            except WorkflowError as exc:
                if exc.step is None:
                    exc.step, exc.where = step.name, step.where
                raise
            if sig is None:
                i += 1
            elif type(sig) is str:
                j = self.index.get(sig)
                if j is None:
                    return sig
                i = j
            else:
                return sig
        return None


# ---------------------------------------------------------------- assignment

PathPart = tuple[bool, Evaluator]  # (is_index, key evaluator)


@dataclass
class Target:
    root: str
    path: list[PathPart]
    where: str


def _set_in(container: Any, parts: list[PathPart], i: int, value: Any, scope: Scope) -> tuple[Any, int]:
    """Copy-on-write update of container at parts[i:]; returns (new container, size delta)."""
    key_fn = parts[i][1]
    key = key_fn(scope)
    last = i == len(parts) - 1
    if type(container) is dict:
        if not isinstance(key, str):
            raise type_error(f"map key must be a string, got {type_name(key)}")
        new = dict(container)
        present = key in container
        old = container[key] if present else None
        if last:
            new[key] = value
            delta = size_of(value) - size_of(old) if present else size_of(value) + len(key) + 4
            return new, delta
        child, delta = _set_in(old if present else {}, parts, i + 1, value, scope)
        new[key] = child
        return new, delta
    if type(container) is list:
        if type(key) is not int:
            raise type_error(f"list index must be an integer, got {type_name(key)}")
        if key < 0 or key >= len(container):
            raise error("IndexError", f"list index out of range: {key} (length {len(container)})")
        new_list = list(container)
        if last:
            new_list[key] = value
            return new_list, size_of(value) - size_of(container[key])
        child, delta = _set_in(container[key], parts, i + 1, value, scope)
        new_list[key] = child
        return new_list, delta
    raise type_error(f"cannot assign into a {type_name(container)}")


class AssignStep(Step):
    def __init__(self, name: str, where: str, items: list[tuple[Target, Evaluator]], next_: Signal) -> None:
        self.name, self.where, self.items, self.next = name, where, items, next_

    def exec(self, scope: Scope) -> Signal:
        lock = scope.lock
        if lock is not None:
            with lock:
                for target, fn in self.items:
                    assign(scope, target, fn(scope))
        else:
            for target, fn in self.items:
                assign(scope, target, fn(scope))
        return self.next


def assign(scope: Scope, target: Target, value: Any) -> None:
    name = target.root
    owner = scope if name in scope.vars else scope.owner(name)
    run = scope.run
    if not target.path:
        new_size = size_of(value) if type(value) in (list, dict, str, bytes) else 8
        delta = new_size - owner.sizes.get(name, 0)
        owner.sizes[name] = new_size
        owner.vars[name] = value
    else:
        if name not in owner.vars:
            raise error("KeyError", f"variable not defined: {name}")
        new_root, delta = _set_in(owner.vars[name], target.path, 0, value, scope)
        owner.vars[name] = new_root
        owner.sizes[name] = owner.sizes.get(name, 0) + delta
    run.memory += delta
    if run.memory > MAX_MEMORY:
        raise resource_limit(f"variables exceed the {MAX_MEMORY // 1024} KB memory limit")


def release(scope: Scope) -> None:
    """Forget a scope's variables in the memory account (its lifetime ended)."""
    scope.run.memory -= sum(scope.sizes.values())


def set_var(scope: Scope, name: str, value: Any) -> None:
    assign(scope, Target(name, [], ""), value)


# ---------------------------------------------------------------- call, return, raise


class CallStep(Step):
    def __init__(
        self,
        name: str,
        where: str,
        target: Callable[[Scope, dict[str, Any]], Any],
        args: list[tuple[str, Evaluator]],
        result: str | None,
        next_: Signal,
    ) -> None:
        self.name, self.where, self.target, self.args, self.result, self.next = (
            name,
            where,
            target,
            args,
            result,
            next_,
        )

    def exec(self, scope: Scope) -> Signal:
        kwargs = {k: fn(scope) for k, fn in self.args}
        value = self.target(scope, kwargs)
        if self.result is not None:
            set_var(scope, self.result, value)
        return self.next


class ReturnStep(Step):
    def __init__(self, name: str, where: str, value: Evaluator, assigns: AssignStep | None = None) -> None:
        self.name, self.where, self.value, self.assigns = name, where, value, assigns

    def exec(self, scope: Scope) -> Signal:
        if self.assigns is not None:
            self.assigns.exec(scope)
        return Ret(self.value(scope))


class RaiseStep(Step):
    def __init__(self, name: str, where: str, value: Evaluator, assigns: AssignStep | None = None) -> None:
        self.name, self.where, self.value, self.assigns = name, where, value, assigns

    def exec(self, scope: Scope) -> Signal:
        if self.assigns is not None:
            self.assigns.exec(scope)
        raise WorkflowError(self.value(scope))


class NextStep(Step):
    """A step with only `next` (or an assign-less jump)."""

    def __init__(self, name: str, where: str, next_: Signal) -> None:
        self.name, self.where, self.next = name, where, next_

    def exec(self, scope: Scope) -> Signal:
        return self.next


def jump(target: str | None) -> Signal:
    if target is None:
        return None
    return {"end": END, "break": BREAK, "continue": CONTINUE}.get(target, target)


class StepsStep(Step):
    def __init__(self, name: str, where: str, body: StepList, next_: Signal) -> None:
        self.name, self.where, self.body, self.next = name, where, body, next_

    def exec(self, scope: Scope) -> Signal:
        sig = self.body.run(scope)
        return self.next if sig is None else sig


# ---------------------------------------------------------------- switch


@dataclass
class Case:
    condition: Evaluator
    assigns: AssignStep | None
    steps: StepList | None
    ret: Evaluator | None
    raise_: Evaluator | None
    next: Signal


class SwitchStep(Step):
    def __init__(self, name: str, where: str, cases: list[Case], next_: Signal, tail: Step | None) -> None:
        self.name, self.where, self.cases, self.next, self.tail = name, where, cases, next_, tail

    def exec(self, scope: Scope) -> Signal:
        for case in self.cases:
            c = case.condition(scope)
            if c is not True and c is not False:
                raise type_error(f"switch condition must be a boolean, got {type_name(c)}")
            if not c:
                continue
            if case.assigns is not None:
                case.assigns.exec(scope)
            if case.steps is not None:
                sig = case.steps.run(scope)
                if sig is not None:
                    return sig
            if case.ret is not None:
                return Ret(case.ret(scope))
            if case.raise_ is not None:
                raise WorkflowError(case.raise_(scope))
            if case.next is not None:
                return case.next
            return self._after(scope)
        return self._after(scope)

    def _after(self, scope: Scope) -> Signal:
        if self.tail is not None:
            sig = self.tail.exec(scope)
            if sig is not None:
                return sig
        return self.next


# ---------------------------------------------------------------- for


def _iterable(scope: Scope, source: Evaluator | None, rng: tuple[Evaluator, Evaluator] | None) -> list[Any]:
    if rng is not None:
        start, end = rng[0](scope), rng[1](scope)
        if not is_number(start) or not is_number(end):
            raise type_error("for range bounds must be numbers")
        if type(start) is int and type(end) is int:
            return list(range(start, end + 1))
        out: list[Any] = []
        x = float(start)
        while x <= end:
            out.append(x)
            x += 1.0
        return out
    assert source is not None
    items = source(scope)
    if isinstance(items, list):
        return items
    if isinstance(items, dict):
        return list(items)
    raise type_error(f"for: 'in' must be a list, got {type_name(items)}")


class ForStep(Step):
    def __init__(
        self,
        name: str,
        where: str,
        value: str,
        index: str | None,
        source: Evaluator | None,
        rng: tuple[Evaluator, Evaluator] | None,
        body: StepList,
        next_: Signal,
    ) -> None:
        self.name, self.where, self.value, self.index = name, where, value, index
        self.source, self.rng, self.body, self.next = source, rng, body, next_

    def exec(self, scope: Scope) -> Signal:
        items = _iterable(scope, self.source, self.rng)
        loop = Scope(scope.run, scope)
        value, index, body = self.value, self.index, self.body
        try:
            for i, item in enumerate(items):
                loop.vars[value] = item
                if index is not None:
                    loop.vars[index] = i
                sig = body.run(loop)
                if sig is None or sig is CONTINUE:
                    continue
                if sig is BREAK:
                    break
                return sig
        finally:
            release(loop)
        return self.next


# ---------------------------------------------------------------- parallel


@dataclass
class Branch:
    id: str
    body: StepList


_Job = tuple[str, Callable[[Scope], Signal], dict[str, Any]]


class ParallelStep(Step):
    def __init__(
        self,
        name: str,
        where: str,
        shared: list[str],
        limit: Evaluator | None,
        continue_all: bool,
        branches: list[Branch] | None,
        loop: ForStep | None,
        next_: Signal,
    ) -> None:
        self.name, self.where, self.shared, self.limit = name, where, frozenset(shared), limit
        self.continue_all, self.branches, self.loop, self.next = continue_all, branches, loop, next_

    def _concurrency(self, scope: Scope) -> int:
        """Branches run at once: `concurrency_limit` if given, at most 20 (the Workflows maximum)."""
        if self.limit is None:
            return 20
        n = self.limit(scope)
        if type(n) is not int or n < 1:
            raise value_error("concurrency_limit must be a positive integer")
        return min(n, 20)

    def _jobs(self, scope: Scope) -> list[_Job]:
        """(branch id, body, variables local to the branch): one per branch, or one per loop iteration."""
        if self.branches is not None:
            return [(b.id, b.body.run, {}) for b in self.branches]
        assert self.loop is not None
        loop = self.loop
        jobs: list[_Job] = []
        for i, item in enumerate(_iterable(scope, loop.source, loop.rng)):
            local = {loop.value: item}
            if loop.index is not None:
                local[loop.index] = i
            jobs.append((str(i), loop.body.run, local))
        return jobs

    def exec(self, scope: Scope) -> Signal:
        for v in self.shared:
            if not scope.has(v):
                raise error("KeyError", f"shared variable not defined before the parallel step: {v}")
        run = scope.run
        limit = self._concurrency(scope)
        lock = scope.lock or threading.RLock()
        abort = threading.Event()
        jobs = self._jobs(scope)

        def branch(job: _Job) -> Any:
            bid, body, local = job
            bscope = Scope(run, scope, barrier=True, shared=self.shared, lock=lock)
            bscope.abort = abort
            bscope.vars.update(local)
            outer_abort = getattr(branch_state, "abort", None)
            branch_state.abort = abort
            try:
                sig = body(bscope)
                if isinstance(sig, Ret):
                    raise error("TypeError", "return is not allowed inside a parallel branch")
                if isinstance(sig, str):
                    raise error("TypeError", f"next: {sig} jumps out of a parallel branch")
                return None
            except WorkflowError as exc:
                if not self.continue_all:
                    abort.set()
                return {"id": bid, "error": exc.value}
            except Aborted:
                return None
            finally:
                branch_state.abort = outer_abort
                release(bscope)

        errors: list[Any] = []
        if len(jobs) <= 1 or limit == 1:
            for job in jobs:
                if abort.is_set():
                    break
                err = branch(job)
                if err is not None:
                    errors.append(err)
        else:
            with ThreadPoolExecutor(max_workers=min(limit, len(jobs)), thread_name_prefix="wf-branch") as pool:
                for err in pool.map(branch, jobs):
                    if err is not None:
                        errors.append(err)
        run.check_cancelled()
        if errors:
            raise error(
                "UnhandledBranchError",
                "UnhandledBranchError: one or more branches or iterations encountered an unhandled runtime error",
                branches=[
                    {
                        "id": e["id"],
                        "error": {"payload": _payload(e["error"]), "context": f"branch {e['id']}"},
                    }
                    for e in errors
                ],
            )
        return self.next


def _payload(value: Any) -> Any:
    from kestra_gcp.engine.values import to_json

    try:
        return to_json(value)
    except WorkflowError:
        return str(value)


# ---------------------------------------------------------------- try / retry / except


@dataclass
class RetryPolicy:
    predicate: Callable[[Scope, Any], Any]
    max_retries: Evaluator
    initial_delay: Evaluator
    max_delay: Evaluator
    multiplier: Evaluator


class TryStep(Step):
    def __init__(
        self,
        name: str,
        where: str,
        body: Step,
        retry: RetryPolicy | None,
        except_as: str | None,
        except_steps: StepList | None,
        next_: Signal,
    ) -> None:
        self.name, self.where, self.body, self.retry = name, where, body, retry
        self.except_as, self.except_steps, self.next = except_as, except_steps, next_

    def exec(self, scope: Scope) -> Signal:
        attempt = 0
        delay: float | None = None
        while True:
            try:
                sig = self.body.exec(scope)
                return self.next if sig is None else sig
            except WorkflowError as exc:
                caught = exc
            retry = self.retry
            if retry is not None:
                max_retries = retry.max_retries(scope)
                if type(max_retries) is not int:
                    raise type_error("retry: max_retries must be an integer")
                if attempt < max_retries:
                    ok = retry.predicate(scope, caught.value)
                    if ok is not True and ok is not False:
                        raise type_error(f"retry predicate must return a boolean, got {type_name(ok)}")
                    if ok:
                        if delay is None:
                            delay = float(_number(retry.initial_delay(scope), "initial_delay"))
                        else:
                            delay = min(
                                delay * float(_number(retry.multiplier(scope), "multiplier")),
                                float(_number(retry.max_delay(scope), "max_delay")),
                            )
                        delay = min(delay, float(_number(retry.max_delay(scope), "max_delay")))
                        scope.run.sleep(delay)
                        attempt += 1
                        continue
            if self.except_steps is None:
                raise caught
            if self.except_as is not None:
                set_var(scope, self.except_as, caught.value)
            sig = self.except_steps.run(scope)
            return self.next if sig is None else sig


def _number(v: Any, what: str) -> int | float:
    if not is_number(v):
        raise type_error(f"retry: {what} must be a number, got {type_name(v)}")
    return v
