"""Kestra's PostgreSQL connection properties -> libpq connection parameters, and opening the connection.

`url` is a pgjdbc URL (`jdbc:postgresql://host[:port][,host2[:port2]]/db?user=..&sslmode=..`); task
properties `username`, `password`, `ssl`, `sslMode`, `sslRootCert`/`sslCert`/`sslKey` (PEM text, written
to private temp files as Kestra does) and `sslKeyPassword` override the URL's. `KESTRA_GCP_PG_CONNECTIONS`
(JSON `{"host:port": "postgresql://..." | "secret:NAME"}`) redirects a flow's host:port to where the
database really is; the target URL's user, password, database and options win over the flow's.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from kfn import secrets
from kfn.errors import FunctionError, TaskError, TransientError
from kfn.request import Call

if TYPE_CHECKING:
    import psycopg

DEFAULT_PORT = 5432
_SSL_MODES = {"DISABLE", "ALLOW", "PREFER", "REQUIRE", "VERIFY_CA", "VERIFY_FULL"}
# pgjdbc URL parameters that have a libpq equivalent (others, e.g. prepareThreshold, are JDBC-only).
_JDBC_TO_LIBPQ = {
    "user": "user",
    "password": "password",
    "sslmode": "sslmode",
    "sslrootcert": "sslrootcert",
    "sslcert": "sslcert",
    "sslkey": "sslkey",
    "sslpassword": "sslpassword",
    "applicationname": "application_name",
    "connecttimeout": "connect_timeout",
    "options": "options",
}
_TARGET_SESSION = {
    "any": "any",
    "primary": "primary",
    "master": "primary",
    "secondary": "standby",
    "preferprimary": "any",
    "prefersecondary": "prefer-standby",
}


@dataclass
class ConnSpec:
    """libpq keyword parameters (never logged: may hold a password) plus PEM material to materialise."""

    params: dict[str, str] = field(default_factory=dict)
    pem: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.params.get('host', 'localhost')}:{self.params.get('port', DEFAULT_PORT)}"


def parse_jdbc_url(url: str) -> ConnSpec:
    """`jdbc:postgresql://h:p/db?k=v` (also `jdbc:postgresql:db`, `jdbc:postgresql:/`) -> ConnSpec."""
    if not isinstance(url, str) or not url.startswith("jdbc:postgresql:"):
        raise TaskError(f"url must be a jdbc:postgresql:// URL, got {_shown(url)}")
    rest = url[len("jdbc:postgresql:") :]
    spec = ConnSpec()
    query = ""
    if "?" in rest:
        rest, query = rest.split("?", 1)
    if rest.startswith("//"):
        authority, _, path = rest[2:].partition("/")
        hosts, ports = _hosts(authority)
        spec.params["host"] = ",".join(hosts)
        spec.params["port"] = ",".join(ports)
        database = path
    else:
        spec.params["host"], spec.params["port"] = "localhost", str(DEFAULT_PORT)
        database = rest.lstrip("/")
    if database:
        spec.params["dbname"] = unquote(database)
    for name, value in parse_qsl(query, keep_blank_values=True):
        lowered = name.lower()
        if lowered == "ssl" and value.lower() == "true":
            spec.params.setdefault("sslmode", "require")
        elif lowered == "currentschema" and value:
            spec.params["options"] = f"-c search_path={value}"
        elif lowered == "targetservertype":
            spec.params["target_session_attrs"] = _TARGET_SESSION.get(value.lower(), "any")
        elif lowered in _JDBC_TO_LIBPQ:
            spec.params[_JDBC_TO_LIBPQ[lowered]] = value
    if "sslmode" in spec.params:
        spec.params["sslmode"] = spec.params["sslmode"].lower().replace("_", "-")
    return spec


def _hosts(authority: str) -> tuple[list[str], list[str]]:
    if not authority:
        return ["localhost"], [str(DEFAULT_PORT)]
    hosts, ports = [], []
    for item in authority.split(","):
        if item.startswith("["):  # IPv6 literal
            host, _, tail = item[1:].partition("]")
            port = tail.lstrip(":")
        else:
            host, _, port = item.partition(":")
        if port and not port.isdigit():
            raise TaskError(f"url: port {port!r} of host {host!r} is not a number")
        hosts.append(host or "localhost")
        ports.append(port or str(DEFAULT_PORT))
    return hosts, ports


def from_task(call: Call) -> ConnSpec:
    """The connection of a jdbc.postgresql task (URL + task properties + deployment override)."""
    spec = parse_jdbc_url(call.require("url"))
    username = call.prop("username")
    password = call.prop("password")
    if username is not None:
        spec.params["user"] = str(username)
    if password is not None:
        spec.params["password"] = str(password)
    if call.flag("ssl", False):
        spec.params.setdefault("sslmode", "require")
    mode = call.prop("sslMode")
    if mode is not None:
        if str(mode).upper() not in _SSL_MODES:
            raise TaskError(f"sslMode must be one of {', '.join(sorted(_SSL_MODES))}, got {mode!r}")
        spec.params["sslmode"] = str(mode).lower().replace("_", "-")
    for prop, key in (("sslRootCert", "sslrootcert"), ("sslCert", "sslcert"), ("sslKey", "sslkey")):
        value = call.prop(prop)
        if value:
            spec.pem[key] = str(value)
    if call.prop("sslKeyPassword") is not None:
        spec.params["sslpassword"] = str(call.prop("sslKeyPassword"))
    return apply_override(spec)


def apply_override(spec: ConnSpec) -> ConnSpec:
    """Redirect `spec` per KESTRA_GCP_PG_CONNECTIONS (no entry for its host:port: unchanged)."""
    raw = os.environ.get("KESTRA_GCP_PG_CONNECTIONS")
    if not raw:
        return spec
    try:
        table = json.loads(raw)
    except ValueError as exc:
        raise FunctionError("KESTRA_GCP_PG_CONNECTIONS is not valid JSON (function misconfigured)") from exc
    if not isinstance(table, dict):
        raise FunctionError("KESTRA_GCP_PG_CONNECTIONS must be a JSON object (function misconfigured)")
    target = table.get(spec.key)
    if target is None:
        return spec
    if isinstance(target, str) and target.startswith("secret:"):
        target = secrets.lookup(target[len("secret:") :])
    if not isinstance(target, str) or not target.startswith(("postgresql://", "postgres://")):
        raise FunctionError(f"KESTRA_GCP_PG_CONNECTIONS[{spec.key!r}] is not a postgresql:// URL")
    parts = urlsplit(target)
    spec.params["host"] = parts.hostname or "localhost"
    spec.params["port"] = str(parts.port or DEFAULT_PORT)
    if parts.username:
        spec.params["user"] = unquote(parts.username)
    if parts.password:
        spec.params["password"] = unquote(parts.password)
    if parts.path.strip("/"):
        spec.params["dbname"] = unquote(parts.path.strip("/"))
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        spec.params[name] = value
    return spec


@contextmanager
def connect(spec: ConnSpec, *, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
    """Open the connection (PEM files live only while it is open); map connect failures to errors."""
    import psycopg

    with ExitStack() as stack:
        params = dict(spec.params)
        params.setdefault("connect_timeout", "30")
        params.setdefault("application_name", "kestra-gcp")
        for key, pem in spec.pem.items():
            handle = stack.enter_context(tempfile.NamedTemporaryFile("w", prefix="pg-", suffix=".pem"))
            handle.write(pem)
            handle.flush()
            os.chmod(handle.name, 0o600)
            params[key] = handle.name
        try:
            conn = psycopg.connect(autocommit=autocommit, **params)  # type: ignore[arg-type]
        except psycopg.OperationalError as exc:
            raise connect_error(exc, spec) from exc
        with conn:
            yield conn


_AUTH_HINTS = (
    "password authentication failed",
    "does not exist",
    "no pg_hba.conf entry",
    "permission denied",
    "role",
    "certificate",
    "SSL",
    "sslmode",
    "authentication",
)


def connect_error(exc: Exception, spec: ConnSpec) -> FunctionError:
    """A failed connect: refused/timeout -> transient, auth/unknown database -> the task's error."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    detail = lines[-1] if lines else type(exc).__name__
    detail = detail.removeprefix("FATAL:").strip()
    where = f"{spec.params.get('dbname', '')}@{spec.key}"
    unknown_host = "could not translate host name" in detail or (
        "failed to resolve host" in detail and "Temporary failure" not in detail)
    if unknown_host:
        return TaskError(f"cannot connect to {where}: {detail} (map {spec.key} to the real server in "
                         "KESTRA_GCP_PG_CONNECTIONS)")
    if any(hint in detail for hint in _AUTH_HINTS):
        return TaskError(f"cannot connect to {where}: {detail}")
    return TransientError(f"cannot connect to {where}: {detail}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
