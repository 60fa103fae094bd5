"""The corpus of broken flows: each must produce its expected `path:line:col: error: message` diagnostic.

tests/corpus/EXPECTED lists one diagnostic per broken flow (paths relative to tests/corpus); files under
tests/corpus/dirs/<case>/ are validated together as a directory (duplicate flows, trigger/subflow cycles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.api import validate_paths

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
CASES = [line for line in (CORPUS / "EXPECTED").read_text().splitlines() if line.strip()]


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40
    listed = {line.split(":", 1)[0] for line in CASES}
    on_disk = {p.name for p in CORPUS.glob("*.yaml")}
    assert on_disk <= listed, on_disk - listed


@pytest.mark.parametrize("expected", CASES, ids=[c.split(":", 1)[0] for c in CASES])
def test_broken_flow_diagnostic(expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
    rel = Path(expected.split(":", 1)[0])
    target = rel.parent if rel.parts[0] == "dirs" else rel
    got = [d.format() for d in validate_paths([target])]
    assert expected in got, got
