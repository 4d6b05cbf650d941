"""Host and Origin checks: a web page on another origin, or a DNS name rebound to this machine, must not
reach the lab.

The Host header must name a loopback *literal* (127.0.0.0/8, ``[::1]``) or ``localhost``, with any port:
what a TCP proxy of the user's own between a client and the lab keeps (Toxiproxy, socat, mitmproxy pass the
``Host`` the client sent, ``127.0.0.1:PROXYPORT``), and what no DNS-rebinding page can send (its Host is its
own domain name). Literals are parsed with ``ipaddress``, so ``0x7f.1``, ``2130706433`` or ``localhost.``
are names, not loopback. The lab's bound address counts too when it is exposed (``--host`` not loopback).

The Origin is stricter: it must be the lab's own (a loopback name with the lab's port or one of its own
fault proxies' ports): a page loaded through a proxy of the user's own is another origin, and refused.
"""

from __future__ import annotations

import ipaddress
from typing import Awaitable
from urllib.parse import urlsplit

from aiohttp import web

from transport.server.keys import CONFIG, PROXIES, Handler
from transport.server.passthrough import answered


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def own_ports(request: web.Request) -> set[int]:
    """The port this request reached the lab on, every fault proxy's listen port, and in cluster mode the
    balancer's (the address clients use)."""
    ports = {proxy.port for proxy in request.config_dict[PROXIES].values()} | set(request.config_dict[CONFIG].public_ports)
    sock = request.transport.get_extra_info("sockname") if request.transport is not None else None
    if sock:
        ports.add(int(sock[1]))
    return ports


def own_host(host: str, port: int | None, request: web.Request) -> bool:
    """Whether ``host:port`` (from a Host header or an Origin) names this lab."""
    if port is None or port not in own_ports(request):
        return False
    if _loopback(host):
        return True
    bound = request.config_dict[CONFIG].host
    if _loopback(bound):
        return False  # loopback only: no other name is ours
    sock = request.transport.get_extra_info("sockname") if request.transport is not None else None
    arrived = sock[0] if sock else None
    return host in (bound, arrived)


def _split(hostport: str, request: web.Request) -> tuple[str, int | None]:
    """Host and port; the scheme's port when none is named (``request.secure`` is read only then: it is
    kept as long as the request, and a WebSocket's lasts as long as its connection)."""
    try:
        parts = urlsplit(f"//{hostport}")
        return (parts.hostname or ""), (parts.port if parts.port is not None else 443 if request.secure else 80)
    except ValueError:
        return "", None


def host_allowed(request: web.Request) -> bool:
    given = request.headers.get("Host")
    if given is None:
        return True  # HTTP/1.0 without a Host: no browser sends that
    host, port = _split(given, request)
    if port is None:
        return False
    return _loopback(host) or own_host(host, port, request)


def origin_allowed(request: web.Request, extra: tuple[str, ...] = ()) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:  # not a browser (CLI clients, Duplex itself)
        return True
    if origin in extra:
        return True
    try:
        parts = urlsplit(origin)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and own_host(parts.hostname or "", port, request)


@web.middleware
def check_host(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Every request names the lab in its Host header (a DNS-rebinding page names its own domain).
    (Pass-through: passthrough.py.)"""
    if not host_allowed(request):
        return answered(web.json_response({"error": f"the Host header {request.headers.get('Host', '')[:80]!r} "
                                                    "names neither this lab nor one of its fault proxies"},
                                          status=403))
    return handler(request)
