"""SSRF guard: refuse URLs whose host resolves to a private, loopback, link-local or metadata address.

`KESTRA_GCP_DOWNLOAD_ALLOW` (comma-separated CIDRs) lists ranges that are allowed although private
(local runs: `127.0.0.0/8,::1/128`). URLs are checked before the request, and every connection is checked
again on the address it really reached (`guarded_session`), so a DNS answer that changes in between
(rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from kfn.errors import Forbidden, TaskError, TransientError

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def allowed_networks() -> list[IpNetwork]:
    raw = os.environ.get("KESTRA_GCP_DOWNLOAD_ALLOW", "")
    networks: list[IpNetwork] = []
    for item in raw.split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError as exc:
                raise TaskError(f"KESTRA_GCP_DOWNLOAD_ALLOW: {item.strip()!r} is not a CIDR") from exc
    return networks


def _public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return _public(address.ipv4_mapped)
        if address.sixtofour is not None and not _public(address.sixtofour):  # 6to4 wraps an IPv4 address
            return False
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def check_address(host: str, address_text: str, url: str = "") -> None:
    """Raise Forbidden unless `address_text` is public or inside an allowed network."""
    address = ipaddress.ip_address(address_text.split("%", 1)[0])
    if _public(address):
        return
    if any(address.version == net.version and address in net for net in allowed_networks()):
        return
    raise Forbidden(
        f"{url or host}: host {host} resolves to non-public address {address} (allow it with KESTRA_GCP_DOWNLOAD_ALLOW)"
    )


def check_url(url: str) -> None:
    """Raise unless `url` is http(s) and every address its host resolves to is public or allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TaskError(f"{url}: only http and https URLs can be downloaded")
    host = parts.hostname
    if not host:
        raise TaskError(f"{url}: URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise TaskError(f"{url}: bad port") from exc
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
            raise TaskError(f"{url}: host {host} not found") from exc
        raise TransientError(f"{url}: cannot resolve {host}: {exc.strerror}") from exc
    for info in infos:
        check_address(host, str(info[4][0]), url)


def _checked_peer(host: str, sock: socket.socket) -> socket.socket:
    """`sock` if the address it is connected to passes `check_address`; otherwise close it and raise."""
    try:
        check_address(host, str(sock.getpeername()[0]))
    except BaseException:
        sock.close()
        raise
    return sock


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _checked_peer(self.host, super()._new_conn())


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _checked_peer(self.host, super()._new_conn())


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


def guarded_session() -> requests.Session:
    """A requests session that checks the address each connection really reaches (closes DNS rebinding)."""
    session = requests.Session()
    adapter = _GuardedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
