"""What the compiler knows at the point where a template is used: the scope for checks and code generation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Names Kestra puts at the root of the rendering context.
ROOT_NAMES = ("inputs", "vars", "outputs", "flow", "execution", "trigger", "labels", "taskrun", "parent",
              "parents", "task", "workingDir", "outputFiles", "envs", "globals")


@dataclass(frozen=True)
class Scope:
    """The names a template may use where it appears.

    - `inputs`: input id -> Kestra input type (`STRING`, `INT`, `SELECT`...).
    - `nullable_inputs`: optional inputs without defaults (null when not given).
    - `variables`: flow `variables` name -> raw value (a template string or any YAML value).
    - `tasks`: task ids that have run before this point -> their output names, or None for "any output".
    - `all_tasks`: every task id of the flow (to say "has not run yet" rather than "unknown").
    - `task_types`: task id -> Kestra type, for messages.
    - `has_trigger`: the flow has a trigger, so `trigger.*` may be used.
    - `in_loop`: inside ForEach/EachSequential/EachParallel (`taskrun.value`, `taskrun.iteration`).
    - `taskrun_var`: the Workflows variable holding the innermost loop's `taskrun` (nested loops each have one).
    - `keyed_tasks`: tasks run inside ForEach, whose outputs are also keyed by the iteration value
      (`outputs.t[value].x` besides `outputs.t.x`).
    - `after_execution`: in `afterExecution`, where `execution.state` is the final state.
    - `working_dir`: `{{ workingDir }}` and `{{ outputFiles.NAME }}` are allowed (DuckDB task properties).
    - `flow_id`, `namespace`, `labels`, `task_id`/`task_type` (the task being compiled): compile-time facts.
    """

    inputs: Mapping[str, str] = field(default_factory=dict)
    nullable_inputs: frozenset[str] = frozenset()
    variables: Mapping[str, Any] = field(default_factory=dict)
    tasks: Mapping[str, frozenset[str] | None] = field(default_factory=dict)
    all_tasks: frozenset[str] = frozenset()
    task_types: Mapping[str, str] = field(default_factory=dict)
    has_trigger: bool = False
    in_loop: bool = False
    taskrun_var: str = "taskrun"
    keyed_tasks: frozenset[str] = frozenset()
    after_execution: bool = False
    working_dir: bool = False
    flow_id: str = ""
    namespace: str = ""
    task_id: str = ""
    task_type: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Collected:
    """Side facts found while checking or compiling, for the manifest."""

    kv: set[tuple[str, str]] = field(default_factory=set)  # (namespace, key)
    secrets: set[str] = field(default_factory=set)

    def merge(self, other: Collected) -> None:
        self.kv |= other.kv
        self.secrets |= other.secrets
