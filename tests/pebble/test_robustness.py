"""compile_template never raises: every truncation of every table template yields a value or diagnostics."""

from __future__ import annotations

from compiler.pebble import Origin, compile_condition, compile_template
from tests.pebble.context import CTX, CTX_HOIST
from tests.pebble.test_diagnostics import ERRORS
from tests.pebble.test_values import CASES


def test_truncated_templates_never_raise() -> None:
    templates = [t for t, _ in CASES] + [t for t, _, _ in ERRORS]
    seen = 0
    for t in templates:
        for cut in range(len(t) + 1):
            for text in (t[:cut], t[cut:]):
                out = compile_template(text, Origin("f.yaml", 1, 1), CTX_HOIST)
                assert out.ok or all(d.line >= 1 and d.col >= 1 and d.message for d in out.diagnostics)
                compile_condition(text, Origin("f.yaml", 1, 1), CTX)
                seen += 1
    assert seen > 5000


def test_diagnostics_are_one_line() -> None:
    for t, _, _ in ERRORS:
        for d in compile_template(t, Origin("f.yaml", 1, 1), CTX).diagnostics:
            assert "\n" not in d.format()
