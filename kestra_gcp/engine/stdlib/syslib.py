"""sys module: get_env, log, now, sleep, sleep_until."""

from __future__ import annotations

from typing import Any

from kestra_gcp.engine.errors import type_error, value_error
from kestra_gcp.engine.stdlib.registry import builtin
from kestra_gcp.engine.stdlib.timelib import parse_rfc3339
from kestra_gcp.engine.values import is_number, type_name

SEVERITIES = ("DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY")


@builtin("sys.get_env")
def get_env(rt: Any, name: Any, default: Any = None) -> Any:
    if not isinstance(name, str):
        raise type_error(f"sys.get_env: name must be a string, got {type_name(name)}")
    return rt.env.get(name, default)


@builtin("sys.now")
def now(rt: Any) -> float:
    return float(rt.clock.now())


@builtin("sys.log", blocking=True)
def log(
    rt: Any,
    data: Any = None,
    severity: Any = "DEFAULT",
    text: Any = None,
    json: Any = None,
    timeout: Any = None,
) -> None:
    if not isinstance(severity, str) or severity.upper() not in SEVERITIES:
        raise value_error(f"sys.log: severity must be one of {', '.join(SEVERITIES)}")
    given = [v for v in (data, text, json) if v is not None]
    if len(given) > 1:
        raise value_error("sys.log: give only one of data, text, json")
    if text is not None:
        payload: Any = text if isinstance(text, str) else _text(text)
    elif json is not None:
        payload = json
    else:
        payload = data
    rt.log(severity.upper(), payload)
    return None


def _text(v: Any) -> str:
    from kestra_gcp.engine.values import to_json

    return to_json(v)


def _seconds(fn: str, seconds: Any) -> float:
    if not is_number(seconds):
        raise type_error(f"{fn}: seconds must be a number, got {type_name(seconds)}")
    if seconds < 0:
        raise value_error(f"{fn}: seconds must not be negative")
    return float(seconds)


@builtin("sys.sleep", blocking=True)
def sleep(rt: Any, seconds: Any) -> None:
    rt.sleep(_seconds("sys.sleep", seconds))
    return None


@builtin("sys.sleep_until", blocking=True)
def sleep_until(rt: Any, time: Any) -> None:
    if not isinstance(time, str):
        raise type_error(f"sys.sleep_until: time must be a string, got {type_name(time)}")
    rt.sleep(max(0.0, parse_rfc3339(time) - rt.clock.now()))
    return None
