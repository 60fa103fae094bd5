"""Public API of the compiler: `validate_paths` and `compile_paths` over files and directories of flows."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler import crossflow
from compiler.backend.builder import FlowLinks
from compiler.backend.emit import to_yaml
from compiler.backend.manifest import manifest_entry
from compiler.backend.schedules import schedules as schedule_entries
from compiler.backend.workflow import generate
from compiler.diagnostics import Diagnostic, Diagnostics, Severity
from compiler.frontend import parse_flow
from compiler.ir import FlowIR

SOURCE_LIMIT = 128 * 1024


@dataclass
class CompileResult:
    """Everything one compilation produced: artifacts of every flow that compiled cleanly, and all
    diagnostics. `write` refuses to write a partial build (`ok` False)."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    workflows: dict[str, str] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=lambda: {"version": 1, "flows": {}})
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    def write(self, out_dir: Path) -> None:
        """Write `workflows/*.yaml`, `schedules.json`, `manifest.json` atomically (each file via a temp)."""
        if not self.ok:
            raise ValueError("refusing to write a build with errors")
        out_dir = Path(out_dir)
        wf_dir = out_dir / "workflows"
        wf_dir.mkdir(parents=True, exist_ok=True)
        for name in sorted(self.workflows):
            _atomic_write(wf_dir / f"{name}.yaml", self.workflows[name])
        for stale in wf_dir.glob("*.yaml"):
            if stale.stem not in self.workflows:
                stale.unlink()
        _atomic_write(out_dir / "schedules.json", json.dumps(self.schedules, indent=2, sort_keys=True) + "\n")
        _atomic_write(out_dir / "manifest.json", json.dumps(self.manifest, indent=2, sort_keys=True) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def flow_files(paths: list[Path]) -> tuple[list[Path], list[Diagnostic]]:
    """Every `.yaml`/`.yml` file under the given files or directories, sorted; missing paths are errors."""
    out: list[Path] = []
    diags: list[Diagnostic] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml") and q.is_file()))
        elif p.is_file():
            out.append(p)
        else:
            diags.append(Diagnostic(str(p), 0, 0, "no such file or directory"))
    return sorted(set(out)), diags


@dataclass
class _Parsed:
    flows: list[FlowIR]
    lines: dict[str, list[str]]
    diags: Diagnostics


def _parse(paths: list[Path]) -> _Parsed:
    files, missing = flow_files(paths)
    diags = Diagnostics()
    diags.extend(missing)
    flows: list[FlowIR] = []
    lines: dict[str, list[str]] = {}
    for file in files:
        name = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            diags.error(name, 0, 0, f"cannot read file: {exc}")
            continue
        flow, fdiags = parse_flow(text, name)
        diags.extend(fdiags)
        if flow is not None:
            flows.append(flow)
            lines[name] = text.splitlines()
    diags.extend(crossflow.check([f for f in flows if f.id and f.namespace]))
    return _Parsed(flows, lines, diags)


def validate_paths(paths: list[Path]) -> list[Diagnostic]:
    """Check every flow under `paths` (structure, types, expressions, cross-flow) without writing anything."""
    return compile_paths(paths, emit=False).diagnostics


UNSUPPORTED = "unsupported task type"


def _skip_unsupported(parsed: _Parsed) -> None:
    """Leave out the flows whose only errors are unsupported task types; their errors become warnings."""
    by_file: dict[str, list[Diagnostic]] = {}
    for d in parsed.diags.items:
        if d.is_error:
            by_file.setdefault(d.path, []).append(d)
    skipped = {path for path, errors in by_file.items() if all(e.message.startswith(UNSUPPORTED) for e in errors)}
    if not skipped:
        return
    parsed.flows = [f for f in parsed.flows if f.file not in skipped]
    kept = Diagnostics()
    for d in parsed.diags.items:
        if d.path in skipped and d.is_error:
            d = Diagnostic(d.path, d.line, d.col, f"flow skipped: {d.message}", Severity.WARNING)
        kept.add(d)
    parsed.diags = kept


def compile_paths(paths: list[Path], flow_filter: str | None = None, *, emit: bool = True,
                  skip_unsupported: bool = False) -> CompileResult:
    """Compile every flow under `paths` (or only `flow_filter`: a flow id, `namespace.id`, or workflow id).

    With `skip_unsupported`, flows whose only problems are unsupported task types are left out with a warning
    instead of failing the whole build.
    """
    parsed = _parse(paths)
    if skip_unsupported:
        _skip_unsupported(parsed)
    diags = parsed.diags
    result = CompileResult()
    flows = [f for f in parsed.flows if f.id and f.namespace]
    link_map = crossflow.links(flows)
    known = {f.workflow_id for f in flows}
    selected = [f for f in flows if flow_filter is None or flow_filter in (f.id, f"{f.namespace}.{f.id}",
                                                                           f.workflow_id)]
    if flow_filter is not None and not selected:
        diags.error(flow_filter, 0, 0, f"no flow '{flow_filter}' among the given paths")
    error_files = {d.path for d in diags.items if d.is_error}
    for flow in selected:
        if flow.file in error_files:
            continue  # its front-end problems are reported; generating would only add noise
        gen = generate(flow, parsed.lines[flow.file], FlowLinks(known, link_map.get(flow.workflow_id, [])),
                       check_only=not emit)
        diags.extend(gen.diagnostics)
        if any(d.is_error for d in gen.diagnostics) or not emit:
            continue
        header = (f"Compiled by kestra-gcp from {flow.file} (flow {flow.namespace}.{flow.id}). Do not edit.\n"
                  f"{flow.description.strip().splitlines()[0] if flow.description else ''}").rstrip()
        text = to_yaml(gen.document, header)
        if len(text.encode()) > SOURCE_LIMIT:
            diags.add(flow.source.diag(("tasks",), f"compiled workflow is {len(text.encode())} bytes, over the "
                                                   f"{SOURCE_LIMIT} bytes Cloud Workflows accepts"))
            continue
        result.workflows[flow.workflow_id] = text
        entries = schedule_entries(flow)
        result.schedules.extend(entries)
        downstream = [d["workflow"] for d in link_map.get(flow.workflow_id, [])]
        result.manifest["flows"][flow.workflow_id] = manifest_entry(flow, gen, [e["name"] for e in entries],
                                                                    downstream)
        result.notes.extend(f"{flow.file}: {n}" for n in gen.notes)
    result.schedules.sort(key=lambda e: e["name"])
    result.diagnostics = diags.sorted()
    if flow_filter is not None and selected:
        # other files were read only to resolve subflows and flow triggers: their problems are not this flow's
        keep = {f.file for f in selected}
        result.diagnostics = [d for d in result.diagnostics if d.path in keep or d.path == flow_filter]
    return result
