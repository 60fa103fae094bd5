"""The `kv` function: Kestra's KV store (core.kv.Set/Get/Delete/GetKeys) as one JSON object per key.

Object `gs://<state bucket>/kv/<namespace>/<key>` holds `{"value", "type", "expiresAt"}`. An expired key
reads as missing. Besides Kestra's single-key Get, `Get` accepts `keys: [{namespace, key, errorOnMissing}]`
(what a workflow sends to load every `kv()` it reads at start) and returns
`{"values": {<namespace>: {<key>: value}}}`.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any

from kfn import storage
from kfn.durations import parse_duration
from kfn.errors import Conflict, NotFound, TaskError
from kfn.request import Call, dispatch

TYPES = ("STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # keys and namespaces


def _check_key(key: object) -> str:
    if not isinstance(key, str) or not _NAME.match(key) or len(key) > 512:
        raise TaskError(f"key {key!r} is invalid (letters, digits, '.', '_', '-'; starts with a letter or digit)")
    return key


def _check_namespace(namespace: object) -> str:
    if not isinstance(namespace, str) or not _NAME.match(namespace):
        raise TaskError(f"namespace {namespace!r} is invalid")
    return namespace


def _uri(namespace: str, key: str) -> str:
    return f"gs://{storage.state_bucket()}/kv/{_check_namespace(namespace)}/{_check_key(key)}"


def _infer_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int | float):
        return "NUMBER"
    if isinstance(value, dict | list):
        return "JSON"
    return "STRING"


def _parse_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))


def _as_string(value: Any) -> str:
    """A value as Kestra stores it under kvType STRING (maps/lists as JSON, booleans lowercase)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def convert(value: Any, kv_type: str, key: str) -> Any:
    """Kestra's kvType conversion of a (usually string) value; TaskError naming the key when impossible."""
    bad = TaskError(f"key '{key}': {value!r} is not a valid {kv_type}")
    if kv_type == "STRING":
        return _as_string(value)
    if kv_type == "NUMBER":
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int | float):
            return value
        try:
            number = float(str(value).strip())
        except ValueError:
            raise bad from None
        return int(number) if number.is_integer() and re.fullmatch(r"[+-]?\d+", str(value).strip()) else number
    if kv_type == "BOOLEAN":
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in ("true", "false"):
            return str(value).strip().lower() == "true"
        raise bad
    if kv_type == "DATETIME":
        try:
            _parse_datetime(str(value))
        except ValueError:
            raise bad from None
        return str(value)
    if kv_type == "DATE":
        try:
            date.fromisoformat(str(value))
        except ValueError:
            raise bad from None
        return str(value)
    if kv_type == "DURATION":
        parse_duration(value, f"key '{key}'")
        return str(value)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise bad from None
    return value


def _read(namespace: str, key: str) -> tuple[dict[str, Any] | None, int]:
    """(stored record or None if missing/expired, generation or 0)."""
    from google.api_core import exceptions as gexc

    blob = storage.blob(_uri(namespace, key))
    try:
        raw = blob.download_as_bytes()
    except gexc.NotFound:
        return None, 0
    generation = int(blob.generation or 0)
    try:
        record = json.loads(raw)
    except ValueError:
        raise TaskError(f"key '{key}' in namespace '{namespace}' holds invalid JSON") from None
    expires = record.get("expiresAt") if isinstance(record, dict) else None
    if expires and _parse_datetime(expires) <= datetime.now(UTC):
        return None, generation
    return record, generation


def _namespace(call: Call, item: dict[str, Any] | None = None) -> str:
    source = item if item is not None else call.task
    namespace = source.get("namespace") or call.need_execution().namespace
    return _check_namespace(namespace)


def _set(call: Call) -> dict[str, Any]:
    from google.api_core import exceptions as gexc

    key = _check_key(call.require("key"))
    namespace = _namespace(call)
    if "value" not in call.task:
        raise TaskError(f"task '{call.task_id}': property 'value' is required")
    value = call.task["value"]
    kv_type = str(call.prop("kvType", "") or _infer_type(value)).upper()
    if kv_type not in TYPES:
        raise TaskError(f"kvType {kv_type!r} is not one of {', '.join(TYPES)}")
    value = convert(value, kv_type, key)
    expires_at = None
    if call.prop("ttl"):
        ttl = parse_duration(call.prop("ttl"), "ttl")
        expires_at = (datetime.now(UTC) + ttl).isoformat().replace("+00:00", "Z")
    record = {"value": value, "type": kv_type, "expiresAt": expires_at}
    if call.prop("kvDescription"):
        record["description"] = str(call.prop("kvDescription"))
    precondition: dict[str, int] = {}
    if not call.flag("overwrite", True):
        existing, generation = _read(namespace, key)
        if existing is not None and existing.get("value") == value and existing.get("type") == kv_type:
            return {}  # a retried Set whose first attempt stored this very value
        if existing is not None:
            raise Conflict(f"key '{key}' already exists in namespace '{namespace}' and overwrite is false")
        precondition = {"if_generation_match": generation}
    try:
        storage.blob(_uri(namespace, key)).upload_from_string(
            json.dumps(record), content_type="application/json", **precondition
        )
    except gexc.PreconditionFailed:
        raise Conflict(f"key '{key}' already exists in namespace '{namespace}' and overwrite is false") from None
    return {}


def _get_one(namespace: str, key: str, error_on_missing: bool) -> Any:
    record, _ = _read(namespace, key)
    if record is None:
        if error_on_missing:
            raise NotFound(f"key '{key}' not found in namespace '{namespace}'")
        return None
    return record.get("value")


def _get(call: Call) -> dict[str, Any]:
    keys = call.prop("keys")
    if keys is None:
        key = _check_key(call.require("key"))
        return {"value": _get_one(_namespace(call), key, call.flag("errorOnMissing", False))}
    if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
        raise TaskError("property 'keys' must be a list of {namespace, key} objects")
    values: dict[str, dict[str, Any]] = {}
    for item in keys:
        namespace = _namespace(call, item)
        key = _check_key(item.get("key"))
        error_on_missing = item.get("errorOnMissing", True) is not False
        values.setdefault(namespace, {})[key] = _get_one(namespace, key, error_on_missing)
    return {"values": values}


def _delete(call: Call) -> dict[str, Any]:
    from google.api_core import exceptions as gexc

    key = _check_key(call.require("key"))
    namespace = _namespace(call)
    try:
        storage.blob(_uri(namespace, key)).delete()
    except gexc.NotFound:
        if call.flag("errorOnMissing", False):
            raise NotFound(f"key '{key}' not found in namespace '{namespace}'") from None
        return {"deleted": False}
    return {"deleted": True}


def _get_keys(call: Call) -> dict[str, Any]:
    namespace = _namespace(call)
    prefix = str(call.prop("prefix", ""))
    base = f"kv/{namespace}/"
    found = []
    for blob in storage.client().list_blobs(storage.state_bucket(), prefix=base + prefix):
        key = blob.name[len(base) :]
        if "/" in key:
            continue
        record, _ = _read(namespace, key)
        if record is not None:
            found.append(key)
    return {"keys": sorted(found)}


_HANDLERS = {"Set": _set, "Get": _get, "Delete": _delete, "GetKeys": _get_keys}


def handle(call: Call) -> dict[str, Any]:
    return dispatch(call, "io.kestra.plugin.core.kv", _HANDLERS)
