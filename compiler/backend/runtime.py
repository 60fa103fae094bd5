"""The fixed parts of every compiled workflow: helper subworkflows and the names of runtime variables.

Runtime variables (pinned; the Pebble code generator refers to them): `inputs`, `outputs`, `kv`, `trigger`,
`execution`, `labels`, `taskrun` (inside ForEach). Bookkeeping: `task_runs`, `state`, `failure`, `failed_task`.
"""

from __future__ import annotations

from typing import Any

SHARED = ["outputs", "task_runs", "labels", "state", "failure", "failed_task", "kv"]

INPUT_ERROR = "KestraInputError"
EXECUTION_FAILED = "KestraExecutionFailed"


def _raise_input(message: str) -> dict[str, Any]:
    return {"raise": {"tags": [INPUT_ERROR], "state": "FAILED", "message": message}}


def _input_type_check(kind: str, convert: str, what: str) -> dict[str, Any]:
    return {
        "condition": f'${{kind == "{kind}"}}',
        "steps": [{f"to_{kind.lower()}": {
            "try": {"assign": [{"value": f"${{{convert}(value)}}"}]},
            "except": {"as": "e", "steps": [{f"bad_{kind.lower()}": _raise_input(
                f"${{\"input '\" + name + \"': '\" + string(value) + \"' is not {what}\"}}")}]},
        }}],
    }


def helper_subworkflows() -> dict[str, Any]:
    """Subworkflows every compiled workflow carries (small; they keep `main` readable)."""
    return {
        "kestra_get": {
            "params": ["m", "k", "d"],
            "steps": [
                {"check": {"switch": [
                    {"condition": "${m == null}", "return": "${d}"},
                    {"condition": '${type(m) != "map"}', "return": "${d}"},
                    {"condition": "${not(k in m)}", "return": "${d}"},
                    {"condition": "${m[k] == null}", "return": "${d}"},
                ]}},
                {"found": {"return": "${m[k]}"}},
            ],
        },
        "kestra_input": {
            "params": ["name", "value", "kind", "required", "dflt", "values", "values_text", "min", "max", "pattern"],
            "steps": [
                {"absent": {"switch": [{"condition": "${value == null}", "steps": [
                    {"use_default": {"switch": [
                        {"condition": "${dflt != null}", "assign": [{"value": "${dflt}"}]},
                        {"condition": "${required}", "steps": [{"missing": _raise_input(
                            "${\"input '\" + name + \"': missing required value\"}")}]},
                        {"condition": True, "return": None},
                    ]}},
                ]}]}},
                {"coerce": {"switch": [
                    _input_type_check("INT", "int", "an integer"),
                    _input_type_check("FLOAT", "double", "a number"),
                    {"condition": '${kind == "BOOLEAN" or kind == "BOOL"}', "steps": [{"to_bool": {"switch": [
                        {"condition": '${value == true or value == "true"}', "assign": [{"value": True}]},
                        {"condition": '${value == false or value == "false"}', "assign": [{"value": False}]},
                        {"condition": True, "steps": [{"bad_bool": _raise_input(
                            "${\"input '\" + name + \"': '\" + string(value) + \"' is not a boolean\"}")}]},
                    ]}}]},
                    {"condition": '${kind == "JSON" or kind == "ARRAY" or kind == "MULTISELECT"}', "steps": [
                        {"to_json": {"switch": [{"condition": '${type(value) == "string"}', "steps": [
                            {"decode_json": {
                                "try": {"assign": [{"value": "${json.decode(value)}"}]},
                                "except": {"as": "e", "steps": [{"bad_json": _raise_input(
                                    "${\"input '\" + name + \"': '\" + value + \"' is not valid JSON\"}")}]},
                            }}]}]}},
                        {"is_list": {"switch": [{
                            "condition": '${kind != "JSON" and type(value) != "list"}',
                            "steps": [{"not_list": _raise_input(
                                "${\"input '\" + name + \"': \" + json.encode_to_string(value)"
                                " + \" is not a list\"}")}],
                        }]}},
                    ]},
                    {"condition": '${kind == "DATETIME"}', "steps": [{"check_datetime": {
                        "try": {"assign": [{"parsed": "${time.parse(value)}"}]},
                        "except": {"as": "e", "steps": [{"bad_datetime": _raise_input(
                            "${\"input '\" + name + \"': '\" + string(value) + \"' is not an ISO-8601 date-time\"}")}]},
                    }}]},
                    {"condition": '${kind == "DATE"}', "steps": [{"check_date": {"switch": [
                        {"condition": '${not(text.match_regex(string(value), "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))}',
                         "steps": [{"bad_date": _raise_input(
                             "${\"input '\" + name + \"': '\" + string(value) + \"' is not a date (YYYY-MM-DD)\"}")}]},
                    ]}}]},
                    {"condition": '${kind == "STRING" or kind == "SELECT" or kind == "EMAIL" or kind == "URI"}',
                     "steps": [{"to_string": {"switch": [{"condition": '${type(value) != "string"}',
                                                          "assign": [{"value": "${string(value)}"}]}]}}]},
                ]}},
                {"check_values": {"switch": [{"condition": "${values != null}", "steps": [
                    {"check_select": {"switch": [
                        {"condition": '${kind == "MULTISELECT"}', "steps": [{"check_each": {"for": {
                            "value": "item", "in": "${value}", "steps": [{"check_item": {"switch": [
                                {"condition": "${not(item in values)}", "steps": [{"bad_item": _raise_input(
                                    "${\"input '\" + name + \"': '\" + string(item) + \"' is not one of \""
                                    " + values_text}")}]},
                            ]}}]}}}]},
                        {"condition": "${not(value in values)}", "steps": [{"bad_value": _raise_input(
                            "${\"input '\" + name + \"': '\" + string(value) + \"' is not one of \" + values_text}"
                        )}]},
                    ]}},
                ]}]}},
                {"check_min": {"switch": [{"condition": "${min != null}", "steps": [{"min_value": {"switch": [
                    {"condition": "${value < min}", "steps": [{"too_small": _raise_input(
                        "${\"input '\" + name + \"': \" + string(value) + \" is below min \" + string(min)}")}]},
                ]}}]}]}},
                {"check_max": {"switch": [{"condition": "${max != null}", "steps": [{"max_value": {"switch": [
                    {"condition": "${value > max}", "steps": [{"too_big": _raise_input(
                        "${\"input '\" + name + \"': \" + string(value) + \" is above max \" + string(max)}")}]},
                ]}}]}]}},
                {"check_pattern": {"switch": [{"condition": "${pattern != null}", "steps": [{"match": {"switch": [
                    {"condition": "${not(text.match_regex(value, pattern))}", "steps": [{"no_match": _raise_input(
                        "${\"input '\" + name + \"': '\" + value + \"' does not match \" + pattern}")}]},
                ]}}]}]}},
                {"done": {"return": "${value}"}},
            ],
        },
        "kestra_error_message": {
            "params": ["e"],
            "steps": [
                {"shape": {"switch": [
                    {"condition": '${type(e) == "string"}', "return": "${e}"},
                    {"condition": '${type(e) != "map"}', "return": "${json.encode_to_string(e)}"},
                ]}},
                {"body": {"switch": [{"condition": '${"body" in e}', "steps": [{"body_error": {"switch": [
                    {"condition": '${type(e.body) == "map"}', "steps": [{"error_map": {"switch": [
                        {"condition": '${"error" in e.body}', "steps": [{"error_message": {"switch": [
                            {"condition": '${type(e.body.error) == "map"}', "steps": [{"has_message": {
                                "switch": [{"condition": '${"message" in e.body.error}',
                                            "return": "${string(e.body.error.message)}"}]}}]},
                        ]}}]},
                    ]}}]},
                ]}}]}]}},
                {"message": {"switch": [{"condition": '${"message" in e}', "steps": [{"with_code": {"switch": [
                    {"condition": '${"code" in e}',
                     "return": '${string(e.message) + " (HTTP " + string(e.code) + ")"}'},
                    {"condition": True, "return": "${string(e.message)}"},
                ]}}]}]}},
                {"fallback": {"return": "${json.encode_to_string(e)}"}},
            ],
        },
        "kestra_transient": {
            "params": ["e"],
            "steps": [
                {"shape": {"switch": [{"condition": '${type(e) != "map"}', "return": False}]}},
                {"tags": {"switch": [{"condition": '${"tags" in e}', "steps": [{"transient_tag": {"for": {
                    "value": "tag", "in": "${e.tags}", "steps": [{"is_transient": {"switch": [
                        {"condition": '${tag == "ConnectionError" or tag == "ConnectionFailedError"'
                                      ' or tag == "TimeoutError"}', "return": True},
                    ]}}]}}}]}]}},
                {"code": {"switch": [{"condition": '${"code" in e}', "steps": [{"transient_code": {"switch": [
                    {"condition": '${type(e.code) == "integer"}', "steps": [{"code_value": {"switch": [
                        {"condition": "${e.code == 429 or e.code >= 500}", "return": True},
                    ]}}]},
                ]}}]}]}},
                {"not_transient": {"return": False}},
            ],
        },
        "kestra_run": {
            "params": ["id", "state", "start", "attempts"],
            "steps": [{"record": {"return": {"id": "${id}", "state": "${state}", "attempts": "${attempts}",
                                             "startDate": "${start}", "endDate": "${time.format(sys.now())}"}}}],
        },
        "kestra_warning": {
            "params": ["state"],
            "steps": [{"worse": {"switch": [{"condition": '${state == "SUCCESS"}', "return": "WARNING"}]}},
                      {"same": {"return": "${state}"}}],
        },
        "kestra_key": {
            "params": ["v"],
            "steps": [{"key": {"switch": [{"condition": '${type(v) == "string"}', "return": "${v}"},
                                          {"condition": '${type(v) == "integer" or type(v) == "double"'
                                                        ' or type(v) == "boolean"}', "return": "${string(v)}"}]}},
                      {"json": {"return": "${json.encode_to_string(v)}"}}],
        },
        # `values` is a kv function answer {namespace: {key: value or null}}: present keys are merged into `kv`
        # under their runtime names (`K` in the flow's namespace, `ns/K` otherwise); missing (null) ones stay out
        "kestra_kv_merge": {
            "params": ["kv", "values", "namespace"],
            "steps": [
                {"namespaces": {"for": {"value": "ns", "in": "${keys(values)}", "steps": [
                    {"entries": {"for": {"value": "k", "in": "${keys(values[ns])}", "steps": [
                        {"present": {"switch": [{"condition": "${values[ns][k] != null}", "assign": [
                            {"name": '${if(ns == namespace, k, ns + "/" + k)}'}, {"kv[name]": "${values[ns][k]}"}]}]}},
                    ]}}},
                ]}}},
                {"merged": {"return": "${kv}"}},
            ],
        },
        "kestra_list": {
            "params": ["v"],
            "steps": [
                {"shape": {"switch": [
                    {"condition": '${type(v) == "list"}', "return": "${v}"},
                    {"condition": '${type(v) == "string"}', "return": "${json.decode(v)}"},
                ]}},
                {"bad": {"raise": {"tags": ["KestraTaskError"], "message":
                                   "${\"ForEach values must be a list, got \" + json.encode_to_string(v)}"}}},
            ],
        },
    }

