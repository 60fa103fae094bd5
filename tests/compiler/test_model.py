"""Unit tests of the front end's pieces: YAML positions, durations, cron, inputs, retry, pluginDefaults."""

from __future__ import annotations

from typing import Any

import pytest

from compiler.durations import parse_duration
from compiler.frontend import parse_flow
from compiler.model.inputs import Input, check_value
from compiler.model.retry import Retry
from compiler.model.triggers import normalise_cron
from compiler.plugin_defaults import PluginDefault, apply_defaults
from compiler.yamlsource import Pos, load_yaml


def test_positions_and_styles() -> None:
    loaded = load_yaml("a: 1\nb:\n  - x\n  - 'y'\nc: |\n  text\n", "f.yaml")
    assert loaded.data == {"a": 1, "b": ["x", "y"], "c": "text\n"}
    src = loaded.source
    assert src.value(("a",)) == Pos(1, 4) and src.key(("b",)) == Pos(2, 1)
    assert src.value(("b", 1)) == Pos(4, 5, "'") and src.value(("c",)).style == "|"
    assert src.value(("b", 7, "missing")) == src.value(("b",))  # falls back to the nearest ancestor


@pytest.mark.parametrize("text, value", [
    ("a: 0x1F", 31), ("a: 1.5e2", 150.0), ("a: ~", None), ("a: TRUE", True), ("a: yes", "yes"),
    ("a: '1'", "1"), ("a: 2024-01-01", "2024-01-01"), ("a: -7", -7), ("a: 0o17", 15), ("a:", None),
])
def test_yaml_12_scalars(text: str, value: Any) -> None:
    assert load_yaml(text, "f").data["a"] == value


@pytest.mark.parametrize("text, seconds", [
    ("PT10M", 600), ("PT0.5S", 0.5), ("P1D", 86400), ("P1DT1H1M1S", 90061), ("-PT1S", -1), ("pt1h", 3600),
    ("10m", None), ("PT", None), ("P1W", None), ("P", None), ("PT1H1D", None),
])
def test_durations(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("cron, seconds, expected", [
    ("@monthly", False, ("0 0 1 * *", None)),
    ("@HOURLY", False, ("0 * * * *", None)),
    ("0  9 1 * *", False, ("0 9 1 * *", None)),
    ("0 0 9 * * ?", True, ("0 9 * * *", None)),
    ("0 9 * *", False, (None, "invalid cron '0 9 * *': expected 5 fields, got 4")),
    ("0 0 9 * * *", False, (None, "invalid cron '0 0 9 * * *': expected 5 fields, got 6 "
                                  "(set withSeconds: true for 6 fields)")),
    ("0 60 * * *", False, (None, "invalid cron '0 60 * * *'")),
])
def test_cron(cron: str, seconds: bool, expected: tuple[str | None, str | None]) -> None:
    assert normalise_cron(cron, seconds) == expected


@pytest.mark.parametrize("spec, value, problem", [
    ({"type": "INT"}, 3, None), ({"type": "INT"}, "12", None), ({"type": "INT"}, 1.5, "default 1.5 is not an integer"),
    ({"type": "INT", "max": 10}, 11, "default 11 is above max 10"),
    ({"type": "FLOAT"}, "x", "default 'x' is not a number"),
    ({"type": "SELECT", "values": ["a", "b"]}, "c", "default 'c' is not one of a, b"),
    ({"type": "SELECT", "values": ["a"], "allowCustomValue": True}, "c", None),
    ({"type": "MULTISELECT", "values": ["a", "b"]}, ["a", "z"], "default 'z' is not one of a, b"),
    ({"type": "ARRAY", "itemType": "INT"}, [1, "x"], "default 'x' is not an integer"),
    ({"type": "EMAIL"}, "a@b.io", None), ({"type": "EMAIL"}, "nope", "default 'nope' is not an email address"),
    ({"type": "DURATION"}, "PT1M", None), ({"type": "DATETIME"}, "2024-01-01T00:00:00Z", None),
    ({"type": "STRING", "validator": "[a-z]+"}, "ABC", "default 'ABC' does not match validator '[a-z]+'"),
    ({"type": "STRING"}, "{{ now() }}", None),
])
def test_input_values(spec: dict[str, Any], value: Any, problem: str | None) -> None:
    assert check_value(Input.model_validate({"id": "x", **spec}), value) == problem


def test_retry_attempts_and_checks() -> None:
    assert Retry.model_validate({"type": "constant", "interval": "PT1S", "maxAttempts": 3}).attempts == 3
    assert Retry.model_validate({"type": "constant", "interval": "PT10S", "maxDuration": "PT1M"}).attempts == 7
    with pytest.raises(ValueError, match="random retry needs minInterval"):
        Retry.model_validate({"type": "random", "maxInterval": "PT1S", "maxAttempts": 2})


def test_plugin_defaults_merge() -> None:
    loaded = load_yaml(
        "tasks:\n  - id: a\n    type: io.kestra.plugin.gcpfoo.X\n    options: {a: 1}\n    tags: [x]\n"
        "defaults:\n  values: {options: {b: 2}, tags: [y, x], region: eu, name: d}\n", "f")
    task = loaded.data["tasks"][0]
    defaults = [PluginDefault("io.kestra.plugin.gcp", loaded.data["defaults"]["values"], False,
                              ("defaults", "values")),
                PluginDefault("io.kestra.plugin.gcpfoo.X", {"name": "forced"}, True, ("defaults", "values"))]
    filled: dict[Any, set[str]] = {}
    apply_defaults(loaded.data["tasks"], ("tasks",), defaults, loaded.source, filled)
    # raw prefix match, deep merge, lists concatenated without duplicates, forced wins
    assert task["options"] == {"a": 1, "b": 2} and task["tags"] == ["x", "y"]
    assert task["region"] == "eu" and task["name"] == "forced"
    assert loaded.source.value(("tasks", 0, "region")) == loaded.source.value(("defaults", "values", "region"))
    assert filled[("tasks", 0)] == {"region", "name"}


def test_plugin_default_keys_a_task_lacks_are_dropped() -> None:
    flow, diags = parse_flow(
        "id: f\nnamespace: n\ntasks:\n  - id: u\n    type: io.kestra.plugin.gcp.gcs.Upload\n    from: gs://a/b\n"
        "    to: gs://c/d\npluginDefaults:\n  - type: io.kestra.plugin.gcp\n    values:\n      bucket: b\n"
        "      projectId: p\n", "f.yaml")
    assert diags == [] and flow is not None
    assert flow.tasks[0].raw["projectId"] == "p" and "bucket" not in flow.tasks[0].raw
