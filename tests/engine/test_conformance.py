"""The conformance suite: every case in cases/*.yaml is a workflow (or an expression) with an argument and
the expected result, error tags, or deploy-time error; each cites the reference page it comes from.

Runs on the real interpreter with a virtual clock; HTTP cases talk to a real local server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from kestra_gcp.engine import DeployError, Engine, VirtualClock

CASES_DIR = Path(__file__).parent / "cases"


def _load_cases() -> list[Any]:
    yaml = YAML(typ="safe")
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.load(path.read_text()):
            params.append(pytest.param(case, id=f"{path.stem}:{case['name']}"))
    return params


def _workflow(case: dict[str, Any]) -> str:
    if "workflow" in case:
        return str(case["workflow"])
    steps: list[Any] = []
    if case.get("vars"):
        steps.append({"init": {"assign": [{k: v} for k, v in case["vars"].items()]}})
    steps.append({"done": {"return": case["expr"]}})
    return json.dumps({"main": {"steps": steps}})


@pytest.mark.parametrize("case", _load_cases())
def test_case(case: dict[str, Any], http_server: tuple[str, Any]) -> None:
    assert case.get("ref", "").startswith("https://"), "every case cites its reference page"
    url, _ = http_server
    source = _workflow(case).replace("@URL@", url).replace("@KEY@", uuid.uuid4().hex)
    extra = {k: v.replace("@URL@", url) for k, v in (case.get("workflows") or {}).items()}
    clock = VirtualClock()
    events: list[dict[str, Any]] = []
    if "deploy_error" in case:
        with pytest.raises(DeployError) as info:
            Engine({"w": source, **extra}, clock=clock)
        assert case["deploy_error"] in str(info.value)
        assert str(info.value).startswith("w.yaml:")
        return
    engine = Engine(
        {"w": source, **extra}, env={"TEST_URL": url, **(case.get("env") or {})}, clock=clock, on_event=events.append
    )
    ex = engine.run("w", case.get("argument"))
    if "error_tags" in case or "error" in case:
        assert ex.state == "FAILED", f"expected a failure, got {ex.state} with {ex.result!r}"
        if "error" in case:
            assert ex.error == case["error"]
        else:
            assert isinstance(ex.error, dict), ex.error
            for tag in case["error_tags"]:
                assert tag in ex.error["tags"], ex.error
            if "error_message" in case:
                assert case["error_message"] in ex.error["message"], ex.error
    else:
        assert ex.state == "SUCCEEDED", f"failed with {ex.error!r}"
        assert json.dumps(ex.result, sort_keys=True) == json.dumps(case["result"], sort_keys=True), ex.result
        # ints stay ints and doubles stay doubles
        assert _types(ex.result) == _types(case["result"])
    if "sleeps" in case:
        assert clock.sleeps == case["sleeps"]
    if "logs" in case:
        logs = [[e["severity"], e["payload"]] for e in events if e["type"] == "log"]
        assert logs == case["logs"]


def _types(v: Any) -> Any:
    if isinstance(v, list):
        return [_types(x) for x in v]
    if isinstance(v, dict):
        return {k: _types(x) for k, x in v.items()}
    return type(v).__name__
