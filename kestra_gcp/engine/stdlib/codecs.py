"""base64, hash, json and uuid modules."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from typing import Any

from kestra_gcp.engine.errors import type_error, value_error
from kestra_gcp.engine.stdlib.registry import builtin
from kestra_gcp.engine.values import from_json, to_json, type_name


def _bytes(fn: str, v: Any) -> bytes:
    if isinstance(v, bytes):
        return v
    raise type_error(f"{fn}: expected bytes, got {type_name(v)}")


@builtin("base64.encode")
def b64encode(rt: Any, data: Any, padding: bool = True) -> str:
    out = base64.b64encode(_bytes("base64.encode", data)).decode("ascii")
    return out if padding else out.rstrip("=")


@builtin("base64.decode")
def b64decode(rt: Any, data: Any, padding: bool = True) -> bytes:
    if not isinstance(data, str):
        raise type_error(f"base64.decode: expected a string, got {type_name(data)}")
    text = data if padding else data + "=" * (-len(data) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise value_error("base64.decode: invalid base64 data") from None


_ALGORITHMS = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "SHA384": "sha384", "SHA512": "sha512"}


def _algorithm(fn: str, name: Any) -> str:
    if not isinstance(name, str) or name.upper() not in _ALGORITHMS:
        raise value_error(f"{fn}: unsupported algorithm {name!r} (use one of {', '.join(_ALGORITHMS)})")
    return _ALGORITHMS[name.upper()]


@builtin("hash.compute_checksum")
def compute_checksum(rt: Any, data: Any, algorithm: Any) -> bytes:
    return hashlib.new(_algorithm("hash.compute_checksum", algorithm), _bytes("hash.compute_checksum", data)).digest()


@builtin("hash.compute_hmac")
def compute_hmac(rt: Any, key: Any, data: Any, algorithm: Any) -> bytes:
    algo = _algorithm("hash.compute_hmac", algorithm)
    return hmac.new(_bytes("hash.compute_hmac", key), _bytes("hash.compute_hmac", data), algo).digest()


@builtin("json.decode")
def json_decode(rt: Any, data: Any) -> Any:
    if isinstance(data, bytes):
        try:
            return from_json(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise value_error("json.decode: data is not UTF-8") from None
    if isinstance(data, str):
        return from_json(data)
    raise type_error(f"json.decode: expected bytes or a string, got {type_name(data)}")


def _indent(indent: Any) -> int | None:
    if indent is None or indent is False:
        return None
    if indent is True:
        return 2
    if isinstance(indent, dict):
        prefix = indent.get("prefix", "")
        width = indent.get("indent", "  ")
        if prefix:
            raise value_error("json.encode: indent prefix is not supported")
        return len(width) if isinstance(width, str) else int(width)
    raise type_error("json.encode: indent must be a boolean or a map")


@builtin("json.encode")
def json_encode(rt: Any, data: Any, indent: Any = None) -> bytes:
    return to_json(data, indent=_indent(indent)).encode("utf-8")


@builtin("json.encode_to_string")
def json_encode_to_string(rt: Any, data: Any, indent: Any = None) -> str:
    return to_json(data, indent=_indent(indent))


@builtin("uuid.generate")
def uuid_generate(rt: Any) -> str:
    return str(uuid.uuid4())
