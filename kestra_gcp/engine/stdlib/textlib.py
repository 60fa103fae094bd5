"""text module: encode/decode, find, regex, replace, split, substring, case, URL encoding.

Regular expressions use RE2 syntax in Workflows; Python's `re` accepts the common subset."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from kestra_gcp.engine.errors import type_error, value_error
from kestra_gcp.engine.stdlib.registry import builtin
from kestra_gcp.engine.values import type_name


def _str(fn: str, v: Any, what: str = "source") -> str:
    if isinstance(v, str):
        return v
    raise type_error(f"{fn}: {what} must be a string, got {type_name(v)}")


def _regex(fn: str, pattern: Any) -> re.Pattern[str]:
    try:
        return re.compile(_str(fn, pattern, "regexp"))
    except re.error as exc:
        raise value_error(f"{fn}: invalid regular expression: {exc}") from None


def _charset(fn: str, charset: Any) -> str:
    name = _str(fn, charset, "charset").upper().replace("_", "-")
    if name not in ("UTF-8", "UTF-16", "UTF-16BE", "UTF-16LE", "ISO-8859-1", "US-ASCII", "LATIN-1"):
        raise value_error(f"{fn}: unsupported charset {charset!r}")
    return {"US-ASCII": "ascii", "LATIN-1": "latin-1"}.get(name, name)


@builtin("text.decode")
def decode(rt: Any, data: Any, charset: Any = "UTF-8") -> str:
    if not isinstance(data, bytes):
        raise type_error(f"text.decode: data must be bytes, got {type_name(data)}")
    try:
        return data.decode(_charset("text.decode", charset))
    except UnicodeDecodeError:
        raise value_error(f"text.decode: data is not valid {charset}") from None


@builtin("text.encode")
def encode(rt: Any, text: Any, charset: Any = "UTF-8") -> bytes:
    try:
        return _str("text.encode", text, "text").encode(_charset("text.encode", charset))
    except UnicodeEncodeError:
        raise value_error(f"text.encode: text cannot be encoded as {charset}") from None


@builtin("text.find_all")
def find_all(rt: Any, source: Any, substr: Any) -> list[dict[str, Any]]:
    src = _str("text.find_all", source)
    sub = _str("text.find_all", substr, "substr")
    if not sub:
        raise value_error("text.find_all: substr must not be empty")
    out: list[dict[str, Any]] = []
    i = src.find(sub)
    while i >= 0:
        out.append({"index": i, "match": sub})
        i = src.find(sub, i + len(sub))
    return out


@builtin("text.find_all_regex")
def find_all_regex(rt: Any, source: Any, regexp: Any) -> list[dict[str, Any]]:
    src = _str("text.find_all_regex", source)
    return [{"index": m.start(), "match": m.group()} for m in _regex("text.find_all_regex", regexp).finditer(src)]


@builtin("text.match_regex")
def match_regex(rt: Any, source: Any, regexp: Any) -> bool:
    return _regex("text.match_regex", regexp).search(_str("text.match_regex", source)) is not None


@builtin("text.replace_all")
def replace_all(rt: Any, source: Any, substr: Any, repl: Any) -> str:
    src = _str("text.replace_all", source)
    sub = _str("text.replace_all", substr, "substr")
    if not sub:
        raise value_error("text.replace_all: substr must not be empty")
    return src.replace(sub, _str("text.replace_all", repl, "repl"))


@builtin("text.replace_all_regex")
def replace_all_regex(rt: Any, source: Any, regexp: Any, repl: Any) -> str:
    pattern = _regex("text.replace_all_regex", regexp)
    # RE2 replacement uses \1 / \0 for groups; Python needs \g<N>.
    template = re.sub(r"\\(\d)", r"\\g<\1>", _str("text.replace_all_regex", repl, "repl"))
    try:
        return pattern.sub(template, _str("text.replace_all_regex", source))
    except (re.error, IndexError) as exc:
        raise value_error(f"text.replace_all_regex: bad replacement: {exc}") from None


@builtin("text.split")
def split(rt: Any, source: Any, separator: Any) -> list[str]:
    src = _str("text.split", source)
    sep = _str("text.split", separator, "separator")
    if sep == "":
        return list(src)
    return src.split(sep)


@builtin("text.substring")
def substring(rt: Any, source: Any, start: Any, end: Any) -> str:
    src = _str("text.substring", source)
    if type(start) is not int or type(end) is not int:
        raise type_error("text.substring: start and end must be integers")
    n = len(src)
    a = min(max(start, 0), n)
    b = min(max(end, 0), n)
    return src[a:b] if a < b else ""


@builtin("text.to_lower")
def to_lower(rt: Any, source: Any) -> str:
    return _str("text.to_lower", source).lower()


@builtin("text.to_upper")
def to_upper(rt: Any, source: Any) -> str:
    return _str("text.to_upper", source).upper()


@builtin("text.url_decode")
def url_decode(rt: Any, source: Any) -> str:
    return urllib.parse.unquote_plus(_str("text.url_decode", source), errors="strict")


@builtin("text.url_encode")
def url_encode(rt: Any, source: Any) -> str:
    return urllib.parse.quote(_str("text.url_encode", source), safe="-_.~")


@builtin("text.url_encode_plus")
def url_encode_plus(rt: Any, source: Any) -> str:
    return urllib.parse.quote_plus(_str("text.url_encode_plus", source), safe="-_.~")
