"""Every bad template yields one positioned diagnostic: syntax errors, static check failures, and constructs that
cannot be compiled to Workflows. Positions are mapped back to the YAML file."""

from __future__ import annotations

import dataclasses

import pytest

from compiler.pebble import CodegenContext, Origin, compile_template
from tests.pebble.context import CTX, SCOPE

# (template, expected message fragment, column of the diagnostic when the scalar starts at column 1)
ERRORS: list[tuple[str, str, int]] = [
    # syntax
    ("{{ inputs.taxi ", "unclosed '{{'", 1),
    ("{{ 'abc }}", "unterminated string literal", 4),
    ("{% for x in inputs.tags %}x", "'{% for %}' is not closed", 1),
    ("{% if inputs.flag %}x", "'{% if %}' is not closed", 1),
    ("{% for x in inputs.tags %}x{% else %}y", "'{% for %}' is not closed by '{% endfor %}'", 1),
    ("{% if inputs.flag %}x{% else %}y", "'{% if %}' is not closed by '{% endif %}'", 1),
    ("{% endif %}", "without a matching opening tag", 4),
    ("{% macro m() %}{% endmacro %}", "tag 'macro' is not supported", 4),
    ("{{ inputs.flag ? 'a' }}", "expected ':'", 22),
    ("{{ }}", "empty expression", 1),
    ("{{ inputs. }}", "expected an attribute name", 12),
    ("{{ \"#{inputs.taxi}\" }}", "string interpolation", 4),
    ("{{ f(a=1, 2) }}", "positional argument after a named argument", 11),
    ("{# never closed", "unclosed comment", 1),
    # static checks
    ("{{ inputs.taxii }}", "unknown input 'taxii' (did you mean 'taxi'?)", 4),
    ("x {{ outputs.load.uri }}", "task 'load' has not run yet", 6),
    ("{{ outputs.nope.uri }}", "unknown task 'nope'", 4),
    ("{{ outputs.extract.rows }}", "task 'extract' (io.kestra.plugin.core.http.Download) has no output 'rows'", 4),
    ("{{ inputs.taxi | uper }}", "unknown filter 'uper' (did you mean 'upper'", 18),
    ("{{ nowz() }}", "unknown function 'nowz' (did you mean 'now'?)", 4),
    ("{{ trigger.date | dateAdd(1) }}", "filter 'dateAdd' is missing argument 'unit'", 19),
    ("{{ trigger.date | date(fmt='yyyy') }}", "filter 'date' has no argument 'fmt'", 24),
    ("{{ inputs.taxi | upper(1) }}", "filter 'upper' takes at most 0 argument(s)", 18),
    ("{{ vars.nope }}", "unknown variable 'vars.nope'", 4),
    ("{{ foo }}", "unknown variable 'foo'", 4),
    ("{{ inputs.n is evn }}", "unknown test 'evn' (did you mean 'even'?)", 16),
    ("{{ flow.idd }}", "unknown field 'flow.idd' (did you mean 'id'?)", 4),
    ("{{ kv(inputs.taxi) }}", "kv() needs a constant key", 7),
    ("{{ render(vars.bad) }}", "in variable 'bad': unknown input 'nope'", 11),
    ("{{ render(vars.outer) }}", "in variable 'outer': in variable 'bad': unknown input 'nope'", 11),
    # cannot be compiled to Workflows
    ("{% for t in inputs.tags %}{{ t }}{% endfor %}", "'{% for %}' over a runtime value cannot be compiled", 1),
    ("{{ inputs.tags | join(',') }}", "join of a runtime list cannot be compiled", 18),
    ("{{ trigger.date | dateAdd(1, 'DAY') }}", "unknown ChronoUnit 'DAY' (did you mean 'DAYS'?)", 19),
    ("{{ trigger.date | date('yyyy-ww') }}", "'ww' is not supported", 19),
    ("{{ trigger.date | date('yyyy', timeZone=inputs.taxi) }}", "must be a constant", 41),
    ("{{ inputs.taxi | jq('.a') }}", "jq returns a list", 18),
    ("{{ inputs.json | jq('.[] | .a') | first }}", "cannot be compiled (only paths", 18),
    ("{{ read('f.txt') }}", "function 'read()' cannot be compiled", 4),
    ("{{ inputs.csv | split('.') }}", "split: the delimiter must be a constant without regex characters", 17),
    ("{{ render(inputs.taxi) }}", "render() of a runtime value cannot be compiled", 4),
    ("{{ execution.state }}", "'execution.state' cannot be compiled", 4),
    ("{{ inputs.taxi.toUpperCase() }}", "method call '.toUpperCase()' cannot be compiled", 4),
    ("{{ secret('TOKEN') | upper }}", "cannot be applied to a secret", 22),
    ("{{ secret('TOKEN') == 'x' }}", "cannot be applied to a secret", 4),
    ("{{ '2024-02-30 10:00' | date('yyyy') }}", "is not a date", 4),
    ("{{ inputs.n | date('yyyy') }}", "date filters on epoch numbers cannot be compiled", 4),
]

SCOPE_WITH_BAD_VAR = dataclasses.replace(
    SCOPE, variables={**SCOPE.variables, "bad": "{{ inputs.nope }}", "outer": "x/{{ vars.bad }}"})
CTX_BAD_VAR = CodegenContext(SCOPE_WITH_BAD_VAR)


@pytest.mark.parametrize(("template", "message", "col"), ERRORS, ids=[t for t, _, _ in ERRORS])
def test_error(template: str, message: str, col: int) -> None:
    out = compile_template(template, Origin("flows/f.yaml", 7, 1), CTX_BAD_VAR)
    assert not out.ok
    d = out.diagnostics[0]
    assert message in d.message, d.format()
    assert (d.path, d.line, d.col) == ("flows/f.yaml", 7, col), d.format()
    assert out.value == template  # nothing half-compiled is returned


def test_trigger_without_trigger_is_an_error() -> None:
    ctx = CodegenContext(dataclasses.replace(SCOPE, has_trigger=False))
    out = compile_template("{{ trigger.date | date('yyyy') }}", Origin("f.yaml", 3, 10), ctx)
    assert [d.format() for d in out.diagnostics] == [
        "f.yaml:3:13: error: 'trigger' is used but the flow has no trigger (use '??' for manual runs)"
    ]
    guarded = compile_template("{{ trigger.date ?? execution.startDate }}", Origin("f.yaml", 3, 10), ctx)
    assert guarded.ok


def test_loop_and_working_dir_need_their_context() -> None:
    ctx = CodegenContext(dataclasses.replace(SCOPE, in_loop=False, working_dir=False))
    loop = compile_template("{{ taskrun.value }}", Origin(), ctx)
    assert "only defined inside ForEach" in loop.diagnostics[0].message
    assert "DuckDB" in compile_template("{{ workingDir }}/x", Origin(), ctx).diagnostics[0].message
    assert compile_template("{{ outputFiles.out }}", Origin(), ctx).diagnostics[0].message == (
        "'outputFiles' is only available in DuckDB tasks ({{ outputFiles.NAME }} or {{ outputFiles['NAME'] }})")


@pytest.mark.parametrize("template", ["{{ outputFiles }}", "{{ outputFiles.a.b }}", "{{ outputFiles[inputs.taxi] }}",
                                      "{{ outputFiles[\"it's\"] }}"])
def test_output_files_need_one_constant_name(template: str) -> None:
    ctx = CodegenContext(dataclasses.replace(SCOPE, working_dir=True))
    out = compile_template(template, Origin(), ctx)
    assert not out.ok
    message = out.diagnostics[0].message
    assert message.startswith("'outputFiles' needs one constant file name") or message.endswith(
        "cannot contain a quote")


def test_all_problems_of_a_template_are_reported() -> None:
    out = compile_template("{{ inputs.a }} and {{ inputs.b | nope }}", Origin("f.yaml", 2, 5), CTX)
    assert [(d.col, d.message.split(" (")[0]) for d in out.diagnostics] == [
        (8, "unknown input 'a'"), (27, "unknown input 'b'"), (38, "unknown filter 'nope'")]


@pytest.mark.parametrize(
    ("origin", "text", "expected"),
    [
        (Origin("f.yaml", 10, 14), "{{ inputs.taxii }}", (10, 17)),  # plain scalar
        (Origin("f.yaml", 10, 14, "double"), "{{ inputs.taxii }}", (10, 18)),  # after the opening quote
        (Origin("f.yaml", 10, 14, "single"), "ab {{ inputs.taxii }}", (10, 21)),
        (Origin("f.yaml", 4, 14, "literal", 6), "SELECT 1;\nx {{ inputs.taxii }}\n", (6, 12)),  # block scalar
        (Origin("f.yaml", 4, 14, "folded", 4), "one\ntwo {{ inputs.taxii }}", (6, 12)),
    ],
)
def test_positions_map_to_the_yaml_file(origin: Origin, text: str, expected: tuple[int, int]) -> None:
    d = compile_template(text, origin, CTX).diagnostics[0]
    assert (d.line, d.col) == expected


def test_collects_kv_and_secrets_for_the_manifest() -> None:
    out = compile_template("{{ kv('A') }} {{ kv('B', 'other.ns') }} {{ secret('S') }} {{ render(vars.gcs) }}",
                           Origin(), CTX)
    assert out.ok
    assert out.collected.kv == {("zoomcamp", "A"), ("other.ns", "B"), ("zoomcamp", "GCP_BUCKET_NAME")}
    assert out.collected.secrets == {"S"}
    assert "secret" not in str(out.value).replace("{{secret:S}}", "")


def test_vars_holding_an_expression_without_render_is_a_warning() -> None:
    out = compile_template("{{ vars.table }}", Origin("f.yaml", 4, 10), CTX)
    assert out.ok and out.value == "public.{{inputs.taxi}}_tripdata"
    assert [(d.severity.value, d.col) for d in out.diagnostics] == [("warning", 13)]
    assert "use render(vars.table)" in out.diagnostics[0].message
    assert compile_template("{{ render(vars.table) }}", Origin(), CTX).diagnostics == []
    assert compile_template("{{ render(vars.gcs) }}", Origin(), CTX).diagnostics == []  # recursive render
