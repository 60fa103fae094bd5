"""The local KV store as the `kv` function keeps it: one JSON object per key in the state bucket.

Object `kv/<namespace>/<key>` holds `{"value", "type", "expiresAt"}` (docs/contracts.md); an expired key
reads as missing. Used by `kestra-gcp kv set|get|list`.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from kestra_gcp.errors import UserError

TYPES = ("STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _check(kind: str, value: str) -> str:
    if not _NAME.match(value):
        raise UserError(f"{kind} {value!r} is invalid (letters, digits, '.', '_', '-')")
    return value


def convert(raw: str, kv_type: str) -> Any:
    """The stored value of a command-line string for a kvType."""
    kv_type = kv_type.upper()
    if kv_type not in TYPES:
        raise UserError(f"--type {kv_type}: expected one of {', '.join(TYPES)}")
    if kv_type == "NUMBER":
        try:
            number = float(raw)
        except ValueError:
            raise UserError(f"{raw!r} is not a NUMBER") from None
        return int(number) if re.fullmatch(r"[+-]?\d+", raw.strip()) else number
    if kv_type == "BOOLEAN":
        if raw.lower() not in {"true", "false"}:
            raise UserError(f"{raw!r} is not a BOOLEAN (true or false)")
        return raw.lower() == "true"
    if kv_type == "JSON":
        try:
            return json.loads(raw)
        except ValueError:
            raise UserError(f"{raw!r} is not valid JSON") from None
    return raw


class KVStore:
    """KV access through a google-cloud-storage client on the state bucket."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.bucket = client.bucket(bucket)
        self.client = client

    def set(self, namespace: str, key: str, value: Any, kv_type: str) -> None:
        blob = self.bucket.blob(f"kv/{_check('namespace', namespace)}/{_check('key', key)}")
        doc = {"value": value, "type": kv_type.upper(), "expiresAt": None}
        blob.upload_from_string(json.dumps(doc), content_type="application/json")

    def get(self, namespace: str, key: str) -> dict[str, Any] | None:
        from google.api_core.exceptions import NotFound

        blob = self.bucket.blob(f"kv/{_check('namespace', namespace)}/{_check('key', key)}")
        try:
            doc = json.loads(blob.download_as_bytes())
        except NotFound:
            return None
        expires = doc.get("expiresAt")
        if expires and datetime.fromisoformat(str(expires).replace("Z", "+00:00")) <= datetime.now(UTC):
            return None
        return dict(doc)

    def list(self, namespace: str) -> list[tuple[str, dict[str, Any]]]:
        prefix = f"kv/{_check('namespace', namespace)}/"
        found: list[tuple[str, dict[str, Any]]] = []
        for blob in self.client.list_blobs(self.bucket, prefix=prefix):
            key = blob.name[len(prefix):]
            if "/" in key:
                continue
            doc = self.get(namespace, key)
            if doc is not None:
                found.append((key, doc))
        return sorted(found)
