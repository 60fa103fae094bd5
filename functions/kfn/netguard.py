"""SSRF guard: refuse URLs whose host resolves to a private, loopback, link-local or metadata address.

`KESTRA_GCP_DOWNLOAD_ALLOW` (comma-separated CIDRs) lists ranges that are allowed although private
(local runs: `127.0.0.0/8,::1/128`).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

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
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _public(address.ipv4_mapped)
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
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
    allowed = allowed_networks()
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if _public(address):
            continue
        if any(address.version == net.version and address in net for net in allowed):
            continue
        raise Forbidden(
            f"{url}: host {host} resolves to non-public address {address} "
            "(allow it with KESTRA_GCP_DOWNLOAD_ALLOW)"
        )
