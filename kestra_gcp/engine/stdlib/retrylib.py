"""retry module and the http retry predicates/policies.

Policies are maps `{predicate, max_retries, backoff: {initial_delay, max_delay, multiplier}}` whose predicate
is a function name; the interpreter resolves it when it compiles a `retry:` block."""

from __future__ import annotations

from typing import Any

from kestra_gcp.engine.stdlib.registry import builtin

DEFAULT_BACKOFF = {"initial_delay": 1, "max_delay": 60, "multiplier": 1.25}

_RETRY_CODES = {429, 502, 503, 504}
_RETRY_CODES_NON_IDEMPOTENT = {429, 503}
_RETRY_TAGS = {"ConnectionError", "ConnectionFailedError", "TimeoutError"}


def _tags(e: Any) -> list[str]:
    if isinstance(e, dict) and isinstance(e.get("tags"), list):
        return [t for t in e["tags"] if isinstance(t, str)]
    return []


@builtin("retry.always")
def always(rt: Any, e: Any) -> bool:
    return True


@builtin("retry.never")
def never(rt: Any, e: Any) -> bool:
    return False


@builtin("http.default_retry_predicate")
def default_retry_predicate(rt: Any, e: Any) -> bool:
    tags = _tags(e)
    if any(t in _RETRY_TAGS for t in tags):
        return True
    return "HttpError" in tags and isinstance(e, dict) and e.get("code") in _RETRY_CODES


@builtin("http.default_retry_predicate_non_idempotent")
def default_retry_predicate_non_idempotent(rt: Any, e: Any) -> bool:
    tags = _tags(e)
    if "ConnectionFailedError" in tags:
        return True
    return "HttpError" in tags and isinstance(e, dict) and e.get("code") in _RETRY_CODES_NON_IDEMPOTENT


POLICIES: dict[str, dict[str, Any]] = {
    "http.default_retry": {
        "predicate": "http.default_retry_predicate",
        "max_retries": 5,
        "backoff": DEFAULT_BACKOFF,
    },
    "http.default_retry_non_idempotent": {
        "predicate": "http.default_retry_predicate_non_idempotent",
        "max_retries": 5,
        "backoff": DEFAULT_BACKOFF,
    },
}

CONSTANTS: dict[str, Any] = {"retry.default_backoff": DEFAULT_BACKOFF}
