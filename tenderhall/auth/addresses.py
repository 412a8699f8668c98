"""The client's address for sign-in rate limiting and the record of attempts.

``X-Forwarded-For`` is believed only when the connection comes from a configured reverse proxy
(``auth.trusted_proxies``); then the client is the right-most address in the header that is not
itself a trusted proxy (what lies to its left was written by the client and proves nothing).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from litestar import Request

from tenderhall.settings import AuthSettings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in n for n in networks)


def client_address(peer: str, forwarded_for: str | None, auth: AuthSettings) -> str:
    networks = _networks(tuple(auth.trusted_proxies))
    if not networks or not forwarded_for or not _trusted(peer, networks):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed hop: believe nothing the proxy chain says
        if not _trusted(hop, networks):
            return hop
    return peer


def client_ip(request: Request[Any, Any, Any], auth: AuthSettings) -> str:
    peer = request.client.host if request.client and request.client.host else "unknown"
    return client_address(peer, request.headers.get("x-forwarded-for"), auth)
