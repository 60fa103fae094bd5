"""The Pebble filters, functions and tests Kestra 1.3 knows, with their argument names.

A name listed here parses and type-checks; whether it compiles to Workflows is the code generator's
business (it reports "not supported" with the location for the rest).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Signature:
    """Argument names in positional order, and how many are required."""

    args: tuple[str, ...] = ()
    required: int = 0
    variadic: bool = False


def _s(*args: str, required: int = 0, variadic: bool = False) -> Signature:
    return Signature(tuple(args), required, variadic)


_DATE_ARGS = ("format", "timeZone", "existingFormat", "locale")

FILTERS: dict[str, Signature] = {
    # Kestra 1.3 filters
    "date": _s(*_DATE_ARGS),
    "dateAdd": _s("amount", "unit", *_DATE_ARGS, required=2),
    "timestamp": _s("timeZone", "existingFormat"),
    "timestampMilli": _s("timeZone", "existingFormat"),
    "timestampMicro": _s("timeZone", "existingFormat"),
    "timestampNano": _s("timeZone", "existingFormat"),
    "jq": _s("expression", required=1),
    "toJson": _s(),
    "json": _s(),
    "toIon": _s(),
    "yaml": _s(),
    "number": _s("type"),
    "string": _s(),
    "className": _s(),
    "chunk": _s("size", required=1),
    "distinct": _s(),
    "flatten": _s("separator"),
    "keys": _s(),
    "values": _s(),
    "indent": _s("amount", "prefix", required=1),
    "nindent": _s("amount", "prefix", required=1),
    "escapeChar": _s("type", required=1),
    "slugify": _s(),
    "startsWith": _s("value", required=1),
    "endsWith": _s("value", required=1),
    "substringBefore": _s("separator", required=1),
    "substringBeforeLast": _s("separator", required=1),
    "substringAfter": _s("separator", required=1),
    "substringAfterLast": _s("separator", required=1),
    "urldecode": _s(),
    "md5": _s(),
    "sha1": _s(),
    "sha512": _s(),
    "replace": _s("replace_pairs", "regexp", required=1),
    "numberFormat": _s("format", required=1),
    # Pebble core filters kept by Kestra
    "abbreviate": _s("length", required=1),
    "abs": _s(),
    "base64decode": _s(),
    "base64encode": _s(),
    "capitalize": _s(),
    "default": _s("default", required=1),
    "first": _s(),
    "format": _s(variadic=True),
    "join": _s("separator"),
    "last": _s(),
    "length": _s(),
    "lower": _s(),
    "merge": _s("items", required=1),
    "nl2br": _s(),
    "reverse": _s(),
    "rsort": _s(),
    "sha256": _s(),
    "slice": _s("fromIndex", "toIndex"),
    "sort": _s(),
    "split": _s("delimiter", "limit", required=1),
    "title": _s(),
    "trim": _s(),
    "upper": _s(),
    "urlencode": _s(),
}

FUNCTIONS: dict[str, Signature] = {
    "now": _s(*_DATE_ARGS),
    "fromJson": _s("json", required=1),
    "json": _s("json", required=1),
    "fromIon": _s("ion", "allRows", required=1),
    "yaml": _s("yaml", required=1),
    "secret": _s("key", "namespace", "subkey", "full", required=1),
    "kv": _s("key", "namespace", "errorOnMissing", required=1),
    "read": _s("path", "namespace", "version", required=1),
    "fileURI": _s("path", "namespace", "version", required=1),
    "fileSize": _s("path", "namespace", required=1),
    "fileExists": _s("path", "namespace", required=1),
    "isFileEmpty": _s("path", "namespace", required=1),
    "render": _s("toRender", "recursive", required=1),
    "renderOnce": _s("toRender", required=1),
    "encrypt": _s("key", "plaintext", required=2),
    "decrypt": _s("key", "encrypted", required=2),
    "fetchContext": _s(),
    "printContext": _s(),
    "uuid": _s(),
    "id": _s(),
    "ksuid": _s(),
    "nanoId": _s("length", "alphabet"),
    "randomInt": _s("lower", "upper", required=2),
    "randomPort": _s(),
    "errorLogs": _s(),
    "tasksWithState": _s("state", required=1),
    "currentEachOutput": _s("outputs", required=1),
    "http": _s("uri", "method", "query", "body", "contentType", "headers", "options", "accept", required=1),
    "subflow": _s("namespace", "id", "inputs", "revision", "labels", "timeout", required=2),
    "max": _s(variadic=True),
    "min": _s(variadic=True),
    "range": _s("start", "end", "increment", required=2),
}

TESTS: dict[str, Signature] = {
    "defined": _s(),
    "null": _s(),
    "empty": _s(),
    "even": _s(),
    "odd": _s(),
    "iterable": _s(),
    "map": _s(),
    "json": _s(),
}
