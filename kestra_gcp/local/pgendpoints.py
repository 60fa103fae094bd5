"""The PostgreSQL endpoints a compiled workflow uses: host:port, database, user and password.

The manifest names each JDBC endpoint (`host:port`, database); the user and password come from the task
bodies the workflow posts to the `postgres` function (after pluginDefaults), or from the JDBC URL's query.
A `{{secret:NAME}}` marker is resolved from the local secrets so the embedded server's role matches what the
function will send. Values computed at run time (`${...}`) cannot be known here and are skipped.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ruamel.yaml import YAML

_SECRET = re.compile(r"\{\{secret:([A-Za-z0-9_\-]+)\}\}")


def _resolve(value: Any, secrets: dict[str, str]) -> str | None:
    if not isinstance(value, str) or "${" in value:
        return None

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in secrets:
            return secrets[name]
        encoded = os.environ.get(f"SECRET_{name}")
        if encoded is not None:
            try:
                return base64.b64decode(encoded).decode()
            except (binascii.Error, UnicodeDecodeError):
                return encoded
        raise KeyError(name)

    try:
        return _SECRET.sub(sub, value)
    except KeyError:
        return None


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def endpoints(workflow_sources: dict[str, str], secrets: dict[str, str]) -> list[dict[str, Any]]:
    """Distinct `{"key", "database", "user", "password"}` of every literal JDBC URL in the workflows."""
    yaml = YAML(typ="safe")
    found: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    for source in workflow_sources.values():
        for node in _walk(yaml.load(source)):
            task = node.get("task")
            if not isinstance(task, dict):
                continue
            url = _resolve(task.get("url"), secrets)
            if not url or not url.startswith("jdbc:postgresql://"):
                continue
            parts = urlsplit(url[len("jdbc:"):])
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            host, port = parts.hostname or "localhost", parts.port or 5432
            database = parts.path.lstrip("/") or "postgres"
            user = _resolve(task.get("username"), secrets) if "username" in task else query.get("user")
            password = _resolve(task.get("password"), secrets) if "password" in task else query.get("password")
            key = f"{host}:{port}"
            found.setdefault((key, database, user), {"key": key, "database": database, "user": user,
                                                     "password": password})
    return [found[k] for k in sorted(found, key=lambda k: (k[0], k[1], k[2] or ""))]
