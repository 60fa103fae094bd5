"""`compile --skip-unsupported`: flows whose only errors are unsupported task types are left out with a warning."""

from __future__ import annotations

from pathlib import Path

from compiler.api import compile_paths
from compiler.diagnostics import Severity

GOOD = "id: good\nnamespace: t\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
UNSUPPORTED = "id: rag\nnamespace: t\ntasks:\n  - id: ask\n    type: io.kestra.plugin.ai.rag.ChatCompletion\n"
BROKEN = UNSUPPORTED.replace("id: rag", "id: broken") + "  - id: ask\n    type: io.kestra.plugin.core.log.Log\n"


def write(tmp: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp / f"{name}.yaml").write_text(text)
    return tmp


def test_without_the_flag_an_unsupported_flow_fails_the_build(tmp_path: Path) -> None:
    result = compile_paths([write(tmp_path, good=GOOD, rag=UNSUPPORTED)])
    assert not result.ok
    assert [d.format() for d in result.diagnostics if d.is_error] == [
        f"{tmp_path}/rag.yaml:5:11: error: unsupported task type 'io.kestra.plugin.ai.rag.ChatCompletion' "
        "(no io.kestra.plugin.ai task is supported)"
    ]


def test_with_the_flag_it_is_skipped_with_a_warning(tmp_path: Path) -> None:
    result = compile_paths([write(tmp_path, good=GOOD, rag=UNSUPPORTED)], skip_unsupported=True)
    assert result.ok
    assert set(result.workflows) == {"t-good"}
    assert set(result.manifest["flows"]) == {"t-good"}
    (warning,) = result.diagnostics
    assert warning.severity is Severity.WARNING
    assert warning.message.startswith("flow skipped: unsupported task type 'io.kestra.plugin.ai.rag.ChatCompletion'")


def test_other_errors_still_fail_the_build(tmp_path: Path) -> None:
    result = compile_paths([write(tmp_path, good=GOOD, broken=BROKEN)], skip_unsupported=True)
    assert not result.ok
    assert any("duplicate" in d.message for d in result.diagnostics if d.is_error)
    assert any(d.message.startswith("unsupported task type") for d in result.diagnostics if d.is_error)
