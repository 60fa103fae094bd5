"""Secret markers (`{{secret:NAME}}`) -> values, and the redaction of those values everywhere.

Lookup order for NAME: env `SECRET_<NAME>` (base64, as Kestra OSS), the JSON file named by
`KESTRA_GCP_SECRETS_FILE`, then Secret Manager
`projects/<GOOGLE_CLOUD_PROJECT>/secrets/<NAME>/versions/latest` (cached per instance).
Every value ever resolved is remembered so that `redact` can mask it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

from kfn.errors import TaskError, TransientError

MARKER = re.compile(r"\{\{secret:([A-Za-z0-9_.-]+)\}\}")
MASK = "******"

_cache: dict[str, str] = {}
_known: set[str] = set()
_masked: tuple[str, ...] = ()  # _known, longest first (rebuilt when a value is remembered)
_lock = threading.Lock()
_client: Any = None


def remember(value: str) -> None:
    """Mask `value` (and its URL-encoded forms) in every later message, log line and output."""
    global _masked
    with _lock:
        _known.update(v for v in (value, quote(value, safe=""), quote_plus(value)) if v)
        _masked = tuple(sorted(_known, key=len, reverse=True))


def _from_env(name: str) -> str | None:
    raw = os.environ.get(f"SECRET_{name}")
    if raw is None:
        return None
    try:
        return base64.b64decode(raw.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise TaskError(f"secret '{name}': SECRET_{name} is not valid base64 of UTF-8 text") from exc


def _from_file(name: str) -> str | None:
    path = os.environ.get("KESTRA_GCP_SECRETS_FILE")
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise TaskError(f"secret '{name}': cannot read secrets file {path}: {type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise TaskError(f"secret '{name}': secrets file {path} is not a JSON object")
    value = data.get(name)
    return None if value is None else str(value)


def _from_secret_manager(name: str) -> str | None:
    project = os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        return None
    from google.api_core import exceptions as gexc
    from google.api_core.retry import Retry, if_exception_type
    from google.cloud import secretmanager

    global _client
    with _lock:
        if _client is None:
            endpoint = os.environ.get("KESTRA_GCP_SECRETMANAGER_ENDPOINT")
            if endpoint:  # a local stand-in speaking the REST API, no credentials
                from google.auth.credentials import AnonymousCredentials

                _client = secretmanager.SecretManagerServiceClient(
                    transport="rest", credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint}
                )
            else:
                _client = secretmanager.SecretManagerServiceClient()
        client = _client
    path = f"projects/{project}/secrets/{name}/versions/latest"
    try:
        # short bounded retries here: the workflow retries the whole call on a TransientError
        retry = Retry(
            initial=0.2,
            maximum=1.0,
            multiplier=2.0,
            timeout=3.0,
            predicate=if_exception_type(gexc.ServiceUnavailable, gexc.TooManyRequests),
        )
        response = client.access_secret_version(request={"name": path}, timeout=30, retry=retry)
    except gexc.NotFound:
        return None
    except (gexc.PermissionDenied, gexc.Forbidden, gexc.Unauthorized, gexc.Unauthenticated) as exc:
        raise TaskError(f"secret '{name}': permission denied on {path}") from exc
    except (gexc.ServerError, gexc.TooManyRequests, gexc.RetryError) as exc:
        raise TransientError(f"secret '{name}': Secret Manager unavailable ({type(exc).__name__})") from exc
    return bytes(response.payload.data).decode("utf-8")


def lookup(name: str) -> str:
    """The value of secret NAME (TaskError if it exists nowhere)."""
    with _lock:
        cached = _cache.get(name)
    if cached is not None:
        return cached
    value = _from_env(name)
    if value is None:
        value = _from_file(name)
    if value is None:
        value = _from_secret_manager(name)
    if value is None:
        raise TaskError(f"secret '{name}' not found (set SECRET_{name} locally or create it in Secret Manager)")
    remember(value)
    with _lock:
        _cache[name] = value
    return value


def resolve(value: Any) -> Any:
    """Replace every marker in every string of `value` (dicts and lists walked; keys untouched)."""
    if isinstance(value, str):
        if "{{secret:" not in value:
            return value
        return MARKER.sub(lambda m: lookup(m.group(1)), value)
    if isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v) for v in value]
    return value


def redact_text(text: str) -> str:
    """Mask every known secret value in `text` (longest first, so overlapping values mask fully)."""
    for secret in _masked:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact(value: Any) -> Any:
    """`redact_text` applied to every string (and key) of a JSON-like value."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact_text(k) if isinstance(k, str) else k: redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def clear_cache() -> None:
    """Forget cached values and the client (tests); known values stay masked."""
    global _client
    with _lock:
        _cache.clear()
        _client = None
