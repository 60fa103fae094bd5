"""Limits checked outside a workflow's steps: the 32 KB execution argument, and the 128 KB source."""

from __future__ import annotations

import pytest

from kestra_gcp.engine import DeployError, Engine

ECHO = "main:\n  params: [a]\n  steps:\n    - r:\n        return: ${a}\n"


def test_argument_over_32kb_is_rejected() -> None:
    engine = Engine({"w": ECHO})
    with pytest.raises(DeployError, match="32 KB"):
        engine.run("w", {"s": "x" * (33 * 1024)})
    assert engine.list() == []
    assert engine.run("w", {"s": "x" * (30 * 1024)}).state == "SUCCEEDED"


def test_child_argument_over_32kb_is_an_http_error() -> None:
    parent = """
- big:
    assign:
      - s: ${text.replace_all(json.encode_to_string(@LIST@), "0", "0123456789")}
- run:
    try:
      call: googleapis.workflowexecutions.v1.projects.locations.workflows.executions.run
      args:
        workflow_id: child
        argument: {s: "${s}"}
    except:
      as: e
      steps:
        - out:
            return: ${[e.tags, e.code]}
""".replace("@LIST@", "[" + ",".join(["0"] * 4000) + "]")
    ex = Engine({"parent": parent, "child": ECHO}).run("parent")
    assert ex.state == "SUCCEEDED", ex.error
    assert ex.result == [["HttpError"], 400]


def test_source_over_128kb_is_rejected() -> None:
    big = "- r:\n    return: '" + "x" * (129 * 1024) + "'\n"
    with pytest.raises(DeployError, match="128 KB"):
        Engine({"w": big})
