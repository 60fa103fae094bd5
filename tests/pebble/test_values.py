"""Table-driven Pebble -> Workflows cases: each template is compiled, the generated Workflows value is run by the
project's Workflows interpreter against a run context, and the result must be what Kestra renders."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from compiler.pebble import CodegenContext, Origin, compile_template
from kestra_gcp.engine import evaluate_expression
from tests.pebble.context import CTX, CTX_HOIST, RUN, SCOPE

CASES: list[tuple[str, Any]] = [
    # inputs, text and typed values
    ("{{ inputs.taxi }}", "green"),
    ("{{inputs.taxi}}", "green"),
    ("{{ inputs.taxi ~ '_' ~ inputs.year }}", "green_2019"),
    ("{{ inputs.taxi }}_tripdata_{{ inputs.year }}-{{ inputs.month }}.csv", "green_tripdata_2019-02.csv"),
    ("{{ inputs.n }}", 3),
    ("n={{ inputs.n }}", "n=3"),
    ("{{ inputs.f }}", 2.5),
    ("f={{ inputs.f }}", "f=2.5"),
    ("{{ inputs.flag }}", True),
    ("flag={{ inputs.flag }}", "flag=true"),
    ("{{ inputs.tags }}", ["a", "b"]),
    ("{{ inputs.n ~ inputs.f }}", "32.5"),
    ("{{ inputs.nul }}", None),
    ("[{{ inputs.nul }}]", "[]"),
    ("plain text", "plain text"),
    ("", ""),
    # arithmetic (Pebble divides integers as integers)
    ("{{ inputs.n + 2 }}", 5),
    ("{{ inputs.n * inputs.f }}", 7.5),
    ("{{ inputs.n - 5 }}", -2),
    ("{{ inputs.n * 7 / 2 }}", 10),
    ("{{ inputs.f / 2 }}", 1.25),
    ("{{ inputs.n % 2 }}", 1),
    ("{{ inputs.taxi + '_' + inputs.n }}", "green_3"),
    ("{{ -inputs.n }}", -3),
    ("{{ 2 + inputs.n * 4 }}", 14),
    ("{{ (2 + inputs.n) * 4 }}", 20),
    ("{{ outputs.count.rowCount + 1 }}", 43),
    ("rows={{ outputs.count.rowCount }}", "rows=42"),
    # comparisons and boolean logic
    ("{{ inputs.n > 2 }}", True),
    ("{{ inputs.n == 3 }}", True),
    ("{{ inputs.taxi != 'yellow' }}", True),
    ("{{ inputs.n >= 4 }}", False),
    ("{{ inputs.n <= 3 }}", True),
    ("{{ inputs.taxi equals 'green' }}", True),
    ("{{ inputs.flag and inputs.n > 5 }}", False),
    ("{{ inputs.flag or false }}", True),
    ("{{ not inputs.flag }}", False),
    ("{{ not inputs.n > 5 }}", True),
    ("{{ not inputs.flag and false }}", True),  # Pebble: not (flag and false)
    ("{{ inputs.n > 1 and inputs.n < 5 or inputs.flag }}", True),
    ("{{ inputs.taxi == 'green' ? 'G' : 'Y' }}", "G"),
    ("{{ inputs.n > 5 ? 1 : 0 }}", 0),
    ("{{ inputs.taxi ? 'set' : 'unset' }}", "set"),
    ("{{ inputs.empty ? 'set' : 'unset' }}", "unset"),
    # null / undefined coalescing and default
    ("{{ inputs.nul ?? 'dflt' }}", "dflt"),
    ("{{ outputs.count.missing ?? 'none' }}", "none"),
    ("{{ labels.missing ?? 'x' }}", "x"),
    ("{{ inputs.taxi ?? 'x' }}", "green"),
    ("{{ trigger.date ?? execution.startDate }}", "2024-03-01T00:00:00+01:00"),
    ("{{ inputs.nul ??? 'd' }}", None),
    ("{{ labels.nope ??? 'd' }}", "d"),
    ("{{ inputs.nul | default('d') }}", "d"),
    ("{{ inputs.empty | default('d') }}", "d"),
    ("{{ inputs.taxi | default('d') }}", "green"),
    ("{{ labels.zz | default('none') }}", "none"),
    ("{{ outputs.count.rowCount | default(0) }}", 42),
    ("{{ outputs.count.nothing | default(0) }}", 0),
    # membership and tests
    ("{{ inputs.taxi isIn ['green', 'yellow'] }}", True),
    ("{{ inputs.taxi isIn ['fhv'] }}", False),
    ("{{ 'a' isIn inputs.tags }}", True),
    ("{{ inputs.taxi notIn ['fhv'] }}", True),
    ("{{ 'green' isIn [labels.team, inputs.taxi] }}", True),
    ("{{ inputs.path contains 'sub' }}", True),
    ("{{ inputs.tags contains 'b' }}", True),
    ("{{ inputs.tags contains 'z' }}", False),
    ("{{ inputs.nul is null }}", True),
    ("{{ inputs.taxi is not null }}", True),
    ("{{ labels.team is defined }}", True),
    ("{{ labels.zzz is defined }}", False),
    ("{{ labels.zzz is not defined }}", True),
    ("{{ inputs.empty is empty }}", True),
    ("{{ inputs.tags is empty }}", False),
    ("{{ inputs.n is odd }}", True),
    ("{{ inputs.n is even }}", False),
    # string filters
    ("{{ inputs.tags | length }}", 2),
    ("{{ inputs.taxi | length }}", 5),
    ("{{ inputs.taxi | upper }}", "GREEN"),
    ("{{ 'ABC' | lower }}", "abc"),
    ("{{ inputs.name | trim }}", "Hello World"),
    ("{{ inputs.name | trim | upper }}", "HELLO WORLD"),
    ("{{ inputs.taxi ~ '-' ~ inputs.year | upper }}", "GREEN-2019"),
    ("{{ inputs.path | replace({'.csv.gz': '.parquet'}) }}", "dir/sub/file.parquet"),
    ("{{ inputs.taxi | replace({'g': 'G', 'n': 'N'}) }}", "GreeN"),
    ("{{ inputs.path | replace({'[a-z]+/': ''}, regexp=true) }}", "file.csv.gz"),
    ("{{ inputs.csv | split(',') }}", ["a", "b", "c"]),
    ("{{ (inputs.csv | split(','))[1] }}", "b"),
    ("{{ inputs.csv | split(',') | length }}", 3),
    ("{{ inputs.csv | split(',') | join(' ') }}", "a b c"),
    ("{{ inputs.csv | split(',') | first }}", "a"),
    ("{{ inputs.csv | split(',') | last }}", "c"),
    ("{{ [1, 2, 3] | join('+') }}", "1+2+3"),
    ("{{ inputs.taxi | first }}", "g"),
    ("{{ inputs.taxi | last }}", "n"),
    ("{{ inputs.path | startsWith('dir/') }}", True),
    ("{{ inputs.path | endsWith('.gz') }}", True),
    ("{{ inputs.path | endsWith('.csv') }}", False),
    ("{{ inputs.path | startsWith(inputs.taxi) }}", False),
    ("{{ inputs.path | endsWith(inputs.csv | substringAfterLast(',') ~ 'z') }}", False),
    ("{{ inputs.path | substringBefore('/') }}", "dir"),
    ("{{ inputs.path | substringAfter('/') }}", "sub/file.csv.gz"),
    ("{{ inputs.path | substringBeforeLast('/') }}", "dir/sub"),
    ("{{ inputs.path | substringAfterLast('/') }}", "file.csv.gz"),
    ("{{ inputs.path | substringAfter('#') }}", ""),
    ("{{ inputs.path | substringBefore('#') }}", "dir/sub/file.csv.gz"),
    ("{{ inputs.path | substringBeforeLast('#') }}", "dir/sub/file.csv.gz"),
    ("{{ inputs.path | substringAfterLast('#') }}", ""),
    ("{{ inputs.path | substringAfterLast('.') }}", "gz"),
    ("{{ inputs.path | substringBeforeLast('.') }}", "dir/sub/file.csv"),
    ("{{ inputs.taxi | slice(1, 3) }}", "re"),
    ("{{ inputs.taxi | base64encode }}", "Z3JlZW4="),
    ("{{ 'Z3JlZW4=' | base64decode }}", "green"),
    ("{{ 'a b&c' | urlencode }}", "a+b%26c"),
    ("{{ inputs.n | string }}", "3"),
    ("{{ 'a\nb' ~ inputs.taxi | indent(2) }}", "a\n  bgreen"),
    ("{{ inputs.taxi ~ '\nx' | nindent(1, '>') }}", "\n>green\n>x"),
    ("{{ inputs.taxi | capitalize }}", "Green"),
    ("{{ inputs.path | abbreviate(10) }}", "dir/sub..."),
    ("{{ inputs.taxi | abbreviate(10) }}", "green"),
    ("{{ outputs.count.vars | merge({'b': 2}) }}", {"a": 1, "b": 2}),
    ("{{ inputs.tags | merge(['c']) }}", ["a", "b", "c"]),
    ("{{ (inputs.n - 10) | abs }}", 7),
    # JSON and numbers
    ("{{ inputs.tags | toJson }}", '["a","b"]'),
    ("{{ fromJson(inputs.json).k[1] }}", 2),
    ("{{ fromJson('{\"a\": 1}').a }}", 1),
    ("{{ '42' | number }}", 42),
    ("{{ inputs.year | number + 1 }}", 2020),
    ("{{ inputs.month | number('INT') }}", 2),
    ("{{ '2.5' | number('DOUBLE') }}", 2.5),
    ("{{ outputs.count.vars | keys }}", ["a"]),
    ("{{ {'a': 1, 'b': 2}['b'] }}", 2),
    ("{{ \"it's\" }}", "it's"),
    ("{{ 'say \"hi\"' }}", 'say "hi"'),
    # flow, execution, labels, taskrun, kv, secrets, workingDir
    ("{{ flow.id }}", "postgres_taxi"),
    ("{{ flow.namespace }}.{{ flow.id }}", "zoomcamp.postgres_taxi"),
    ("{{ execution.id }}", "exec123"),
    ("{{ task.id }}:{{ task.type }}", "extract_step:io.kestra.plugin.core.log.Log"),
    ("{{ labels.team }}", "data"),
    ("{{ taskrun.value }}", "item1"),
    ("{{ taskrun.iteration + 1 }}", 3),
    ("{{ kv('GCP_PROJECT_ID') }}", "proj"),
    ("{{ kv('K', 'other') }}", "x"),
    ("{{ kv('NOPE', errorOnMissing=false) ?? 'none' }}", "none"),
    ("{{ secret('GEMINI_API_KEY') }}", "{{secret:GEMINI_API_KEY}}"),
    ("Bearer {{ secret('T') }}", "Bearer {{secret:T}}"),
    ("{{ workingDir }}/data.csv", "{{workingDir}}/data.csv"),
    ("{{ outputFiles.out }}", "{{outputFiles.out}}"),
    ("{{ outputFiles['products.csv'] }}", "{{outputFiles.products.csv}}"),
    ("{{ outputFiles['a b.csv'] }}", "{{outputFiles['a b.csv']}}"),
    # variables and render()
    ("{{ vars.n }}", 5),
    ("{{ vars.table }}", "public.{{inputs.taxi}}_tripdata"),
    ("{{ render(vars.table) }}", "public.green_tripdata"),
    ("{{ render(vars.staging) }}", "public.green_tripdata_staging"),
    ("{{ render(vars.file) }}", "green_tripdata_2019-02.csv"),
    ("{{ render(vars.gcs) }}", "gs://bkt/green_tripdata_2019-02.csv"),
    ("{{ vars.list[1] }}", 2),
    ("{{ vars.obj.a }}", "x"),
    ("{{ vars.list }}", [1, 2, 3]),
    ("{{ vars.shell }}", {"cmd": "echo ${HOME}", "args": ["${1}"]}),
    # outputs
    ("{{ outputs.extract.uri }}", "gs://b/e/x.csv"),
    ("{{ outputs.extract.outputFiles[render(vars.file)] }}", "gs://b/out.csv"),
    ("{{ outputs.extract.outputFiles['green_tripdata_2019-02.csv'] }}", "gs://b/out.csv"),
    ("{{ outputs['my-task'].value }}", "v"),
    # literal text, comments, whitespace control, tags
    ("echo ${HOME} {{ inputs.taxi }}", "echo ${HOME} green"),
    ("cost: ${5}", "cost: ${5}"),
    ("a{# note #}b", "ab"),
    ("a  {{- inputs.taxi -}}  b", "agreenb"),
    ("{% if inputs.n > 2 %}big{% else %}small{% endif %}", "big"),
    ("{% if inputs.taxi == 'yellow' %}Y{% elseif inputs.taxi == 'green' %}G{% else %}?{% endif %}", "G"),
    ("{% if inputs.flag %}on{% endif %}", "on"),
    ("{% set x = inputs.taxi | upper %}{{ x }}-{{ x }}", "GREEN-GREEN"),
    # branches that do not run must not be evaluated (also when sub-expressions are hoisted)
    ("{% if labels.when is defined %}{{ labels.when | date('yyyy') }}{% else %}never{% endif %}", "never"),
    ("{{ labels.when is defined ? labels.when | date('yyyy') : 'never' }}", "never"),
    ("{{ labels.when is defined and labels.when | date('yyyy') == '2024' }}", False),
    ("{{ labels.when | date('yyyy') ?? 'none' }}", "none"),
    ("{% for c in vars.list %}{{ c }}{% if not loop.last %},{% endif %}{% endfor %}", "1,2,3"),
    ("{% for k, v in vars.obj %}{{ k }}={{ v }}{% endfor %}", "a=x"),
    ("{% for c in [] %}x{% else %}none{% endfor %}", "none"),
    ("{% for e in vars.obj %}{{ e.key }}:{{ e.value }}{% endfor %}", "a:x"),
    ("{{ outputs.count.vars | jq('.a') | first }}", 1),
    ("{{ inputs.json | jq('.k[1]') | first }}", 2),
    # dates (server zone UTC; trigger.date carries the schedule's offset)
    ("{{ trigger.date | date('yyyy-MM') }}", "2024-02"),
    ("{{ trigger.date | date('yyyy-MM', timeZone='Europe/Paris') }}", "2024-03"),
    ("{{ trigger.date | date('yyyy-MM-dd') }}", "2024-02-29"),
    ("{{ trigger.date | date(\"yyyy-MM-dd'T'HH:mm\") }}", "2024-02-29T23:00"),
    ("{{ trigger.date | date('dd/MM/yy HH:mm:ss') }}", "29/02/24 23:00:00"),
    ("{{ trigger.date | date('d M yyyy H') }}", "29 2 2024 23"),
    ("{{ trigger.date | date('hh:mm a') }}", "11:00 PM"),
    ("{{ trigger.date | date('h a', timeZone='Europe/Paris') }}", "12 AM"),
    ("{{ trigger.date | date('EEE EEEE') }}", "Thu Thursday"),
    ("{{ trigger.date | date('MMM MMMM') }}", "Feb February"),
    ("{{ trigger.date | date() }}", "2024-02-29T23:00:00.000000Z"),
    ("{{ trigger.date | date('iso_sec') }}", "2024-02-29T23:00:00Z"),
    ("{{ trigger.date | date('iso_milli') }}", "2024-02-29T23:00:00.000Z"),
    ("{{ trigger.date | date('sql') }}", "2024-02-29 23:00:00.000000"),
    ("{{ trigger.date | date('sql_sec') }}", "2024-02-29 23:00:00"),
    ("{{ trigger.date | date('XXX', timeZone='Europe/Paris') }}", "+01:00"),
    ("{{ trigger.date | date('yyyy-MM-dd HH:mmXXX', timeZone='Asia/Kolkata') }}", "2024-03-01 04:30+05:30"),
    ("{{ execution.startDate | date('HH:mm:ss.SSS') }}", "08:30:15.123"),
    ("{{ execution.startDate | date('yyyyMMdd') }}", "20240301"),
    ("{{ execution.startDate | date(\"'Q'yyyy\") }}", "Q2024"),
    ("{{ execution.startDate | date(\"yyyy 'o''clock'\") }}", "2024 o'clock"),
    ("{{ trigger.next | date('yyyy-MM') }}", "2024-03"),
    ("{{ trigger.previous | date('yyyy-MM-dd', timeZone='Europe/Paris') }}", "2024-02-01"),
    ("{{ trigger.date ?? execution.startDate | date('yyyy') }}", "2024"),
    ("{{ trigger.date | dateAdd(-1, 'MONTHS') | date('yyyy-MM') }}", "2024-01"),
    ("{{ trigger.date | dateAdd(-1, 'MONTHS', 'yyyy-MM', timeZone='Europe/Paris') }}", "2024-02"),
    ("{{ inputs.dt | dateAdd(1, 'MONTHS') }}", "2024-02-29T10:00:00.000000Z"),
    ("{{ inputs.dt | dateAdd(1, 'YEARS', 'yyyy-MM-dd') }}", "2025-01-31"),
    ("{{ '2023-01-31T10:00:00Z' | dateAdd(1, 'MONTHS', 'yyyy-MM-dd') }}", "2023-02-28"),
    ("{{ '2024-12-15T10:00:00Z' | dateAdd(1, 'MONTHS', 'yyyy-MM-dd') }}", "2025-01-15"),
    ("{{ '2024-01-15T10:00:00Z' | dateAdd(-13, 'MONTHS', 'yyyy-MM-dd') }}", "2022-12-15"),
    ("{{ '2024-03-31T10:00:00Z' | dateAdd(inputs.n - 2, 'MONTHS', 'yyyy-MM-dd') }}", "2024-04-30"),
    ("{{ trigger.date | dateAdd(-1, 'DAYS', 'yyyy-MM-dd') }}", "2024-02-28"),
    ("{{ inputs.dt | dateAdd(90, 'MINUTES', 'HH:mm') }}", "11:30"),
    ("{{ inputs.dt | dateAdd(2, 'WEEKS', 'yyyy-MM-dd') }}", "2024-02-14"),
    ("{{ inputs.dt | dateAdd(3, 'HALF_DAYS', 'yyyy-MM-dd HH') }}", "2024-02-01 22"),
    ("{{ inputs.dt | dateAdd(inputs.n, 'HOURS', 'HH') }}", "13"),
    ("{{ inputs.d | date('dd.MM.yyyy') }}", "15.03.2024"),
    ("{{ inputs.d | date('EEEE') }}", "Friday"),
    ("{{ inputs.d | dateAdd(1, 'DAYS', 'yyyy-MM-dd') }}", "2024-03-16"),
    ("{{ inputs.d | dateAdd(1, 'MONTHS', 'yyyy-MM-dd') }}", "2024-04-15"),
    ("{{ trigger.date | timestamp }}", 1709247600),
    ("{{ execution.startDate | timestampMilli }}", 1709281815123),
    ("{{ execution.startDate | timestampMicro }}", 1709281815123456),
    ("{{ execution.startDate | timestampNano }}", 1709281815123456000),
    ("{{ '2024-02-29' | date('EEE d MMM yyyy') }}", "Thu 29 Feb 2024"),
    ("{{ now() | date('yyyy') }}", "<this year>"),
    ("{{ now('yyyy') }}", "<this year>"),
    ("{{ now() | dateAdd(1, 'DAYS') | date('yyyy') }}", "<year tomorrow>"),
]


def _expected(value: Any) -> Any:
    now = dt.datetime.now(dt.UTC)
    if value == "<this year>":
        return str(now.year)
    if value == "<year tomorrow>":
        return str((now + dt.timedelta(days=1)).year)
    return value


def _run(template: str, ctx: CodegenContext, **overrides: Any) -> Any:
    """Compile `template`, then evaluate its prelude and value in the engine over RUN (with `overrides`)."""
    out = compile_template(template, Origin("flow.yaml", 1, 1), ctx)
    assert out.ok, [d.format() for d in out.diagnostics]
    variables = {**RUN, **overrides}
    for name, code in out.prelude:
        variables[name] = evaluate_expression(code, variables)
    return evaluate_expression(out.value, variables)


def test_table_has_at_least_100_cases() -> None:
    assert len(CASES) >= 100
    assert len({t for t, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("template", "expected"), CASES, ids=[t for t, _ in CASES])
def test_value(template: str, expected: Any) -> None:
    assert _run(template, CTX) == _expected(expected)


@pytest.mark.parametrize(("template", "expected"), CASES, ids=[t for t, _ in CASES])
def test_value_with_hoisting(template: str, expected: Any) -> None:
    assert _run(template, CTX_HOIST) == _expected(expected)


def test_long_concatenation_is_split_into_short_expressions() -> None:
    import dataclasses

    sql = ("MERGE INTO `{{ kv('GCP_PROJECT_ID') }}.{{ render(vars.table) }}` T USING `staging_{{ inputs.year }}` S "
           "ON T.id = S.id WHEN NOT MATCHED THEN INSERT ROW -- " + "x" * 300 + " {{ trigger.date | date('yyyy-MM') }}")
    expected = ("MERGE INTO `proj.public.green_tripdata` T USING `staging_2019` S ON T.id = S.id WHEN NOT MATCHED "
                "THEN INSERT ROW -- " + "x" * 300 + " 2024-02")
    ctx = dataclasses.replace(CTX_HOIST, max_expression=120)
    out = compile_template(sql, Origin(), ctx)
    assert out.ok and len(out.prelude) >= 3
    assert all(len(code) - 3 <= 120 for _, code in out.prelude) and len(out.value) - 3 <= 120
    assert out.size <= 120
    assert _run(sql, ctx) == expected
    assert _run(sql, CTX) == expected
    assert compile_template(sql, Origin(), CTX).size > 400


MANUAL_RUN_CASES: list[tuple[str, Any]] = [
    ("{{ trigger.date ?? execution.startDate | date('yyyy-MM-dd') }}", "2024-03-01"),
    ("{{ trigger.date is defined }}", False),
    ("{{ trigger is defined }}", False),
    ("{{ trigger.date ??? 'manual' }}", "manual"),
    ("{% if trigger.date is defined %}{{ trigger.date | date('yyyy') }}{% else %}manual{% endif %}", "manual"),
]


@pytest.mark.parametrize(("template", "expected"), MANUAL_RUN_CASES, ids=[t for t, _ in MANUAL_RUN_CASES])
@pytest.mark.parametrize("ctx", [CTX, CTX_HOIST], ids=["plain", "hoisted"])
def test_manual_run_without_trigger(template: str, expected: Any, ctx: CodegenContext) -> None:
    assert _run(template, ctx, trigger=None) == expected


def test_render_drops_pebble_comments() -> None:
    import dataclasses

    scope = dataclasses.replace(SCOPE, variables={**SCOPE.variables, "note": "a {# skipped #}b"})
    ctx = CodegenContext(scope)
    assert _run("{{ render(vars.note) }}", ctx) == "a b"
    assert _run("{{ vars.note }}", ctx) == "a {# skipped #}b"  # without render, the text is kept as is
