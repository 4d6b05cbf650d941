"""A fault proxy in front of any server, for one test: one of the lab's proxies (its Toxiproxy-shaped API),
listening on 127.0.0.1 on a port of its own. ``url_for(url)`` rewrites a URL to go through it; ``toxic()``
adds any toxic the lab knows (latency, bandwidth, timeout, reset_peer, the HTTP and message-level ones…);
``down(seconds)`` refuses and cuts every connection for a while."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

from transport.clients.lab_admin import admin_call, reason
from transport.core.errors import DuplexError

from .lab import CALL_S, Lab
from .loop import BackgroundLoop

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
_names = itertools.count(1)


class ProxyError(DuplexError):
    """The lab refused a proxy or a toxic: its reason."""


def upstream_address(upstream: str) -> str:
    """``host:port`` from ``host:port`` or a URL (``http://127.0.0.1:8080/…``)."""
    if "://" in upstream:
        parts = urlsplit(upstream)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
        if not parts.hostname or port is None:
            raise ValueError(f"upstream {upstream!r} names no host and port")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return f"{host}:{port}"
    host, sep, number = upstream.rpartition(":")
    if not sep or not host or not number.isdigit():
        raise ValueError(f"upstream must be host:port or a URL, got {upstream!r}")
    return upstream


def _same_host(a: str, b: str) -> bool:
    return a.lower() == b.lower() or (a.lower() in _LOOPBACK and b.lower() in _LOOPBACK)


class Toxic:
    """A toxic on a proxy: ``await toxic.update(**attributes)``, ``await toxic.remove()``."""

    def __init__(self, proxy: FaultProxy, name: str, spec: dict[str, Any]) -> None:
        self.proxy, self.name, self.spec = proxy, name, spec

    def __repr__(self) -> str:
        return f"<toxic {self.name} {self.spec.get('type')} {self.spec.get('stream')} {self.spec.get('attributes')}>"

    async def update(self, **attributes: Any) -> None:
        self.proxy._mark(f"toxic {self.name} now {attributes}")
        self.spec = await self.proxy._call("POST", f"/toxics/{self.name}", {"attributes": attributes})

    async def remove(self) -> None:
        self.proxy._mark(f"toxic {self.name} removed")
        await self.proxy._call("DELETE", f"/toxics/{self.name}")
        self.proxy.active.pop(self.name, None)


class FaultProxy:
    def __init__(self, kit: BackgroundLoop, lab: Lab, upstream: str,
                 mark: Callable[[str, FaultProxy | None], None], name: str | None = None) -> None:
        self._kit, self._lab, self._mark_all = kit, lab, mark
        self.upstream = upstream_address(upstream)
        self.name = name or f"duplex-{next(_names)}-{secrets.token_hex(3)}"
        self.host, self.port = "127.0.0.1", 0
        self.removed = False
        self.active: dict[str, str] = {}  # the toxics in place: name → what the fault row said

    def __repr__(self) -> str:
        return f"<duplex proxy {self.name} {self.listen} → {self.upstream}>"

    @property
    def listen(self) -> str:
        return f"{self.host}:{self.port}"

    def _mark(self, text: str) -> None:
        self._mark_all(f"proxy {self.name}: {text}", self)

    def leads(self, url: str) -> bool:
        """Whether ``url`` goes through this proxy."""
        try:
            parts = urlsplit(url)
            return parts.port == self.port and _same_host(parts.hostname or "", self.host)
        except ValueError:
            return False

    def in_place(self) -> str | None:
        """The toxics in place, as one fault row's text (a client that starts through them gets it)."""
        if not self.active:
            return None
        return f"proxy {self.name}: toxics in place: " + "; ".join(self.active.values())

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One call to the lab's proxies API (``/proxies`` + path), as a coroutine for the kit's loop."""
        return admin_call(self._lab.url, self._lab.admin_token, method, f"/proxies{path}", body, CALL_S)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, answer = await self._kit.awaitable(self._admin(method, f"/{self.name}{path}", body))
        if status >= 400:
            raise ProxyError(f"The lab refused {method} {path or 'the proxy'} on {self.name}: HTTP {status} "
                             f"{reason(answer)}".strip())
        return answer

    async def create(self) -> FaultProxy:
        status, answer = await self._kit.awaitable(
            self._admin("POST", "", {"name": self.name, "listen": "127.0.0.1:0", "upstream": self.upstream}))
        if status != 201 or not isinstance(answer, dict):
            raise ProxyError(f"The lab refused a proxy to {self.upstream}: HTTP {status} {reason(answer)}".strip())
        host, _, port = str(answer["listen"]).rpartition(":")
        self.host, self.port = host or "127.0.0.1", int(port)
        return self

    def url_for(self, url: str) -> str:
        """``url`` through this proxy: its host and port replaced by the proxy's (it must lead to the
        upstream; ``localhost`` and ``127.0.0.1`` are one place)."""
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError(f"not a URL with a host: {url!r}")
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
        up_host, _, up_port = self.upstream.rpartition(":")
        if port != int(up_port) or not _same_host(parts.hostname, up_host.strip("[]")):
            raise ValueError(f"{url} does not go to this proxy's upstream {self.upstream}")
        netloc = f"{parts.username}@" if parts.username else ""
        return urlunsplit((parts.scheme, f"{netloc}{self.host}:{self.port}", parts.path, parts.query, parts.fragment))

    async def toxic(self, type: str, stream: str = "downstream", attributes: dict[str, Any] | None = None,
                    name: str | None = None, toxicity: float = 1.0) -> Toxic:
        """Add a toxic (any type the lab's proxies know: ``latency``, ``bandwidth``, ``slow_close``, ``timeout``,
        ``reset_peer``, ``limit_data``, ``slicer``, the HTTP and message-level ones…)."""
        name = name or f"{type}_{stream}"
        spec = {"name": name, "type": type, "stream": stream, "toxicity": toxicity, "attributes": attributes or {}}
        said = f"toxic {type} on {stream} {attributes or {}}"
        self._mark(said)
        answer = await self._call("POST", "/toxics", spec)
        self.active[name] = said
        return Toxic(self, name, answer if isinstance(answer, dict) else spec)

    async def toxics(self) -> list[dict[str, Any]]:
        answer = await self._call("GET", "/toxics")
        return list(answer) if isinstance(answer, list) else []

    async def disable(self) -> None:
        """Refuse new connections and cut every open one (until :meth:`enable`)."""
        self._mark("down")
        await self._call("POST", "", {"enabled": False})

    async def enable(self) -> None:
        self._mark("up")
        await self._call("POST", "", {"enabled": True})

    async def down(self, seconds: float) -> None:
        """Down for ``seconds`` (every connection cut, new ones refused), then up again; returns when it is
        up (the fault's own duration, not a wait on a condition)."""
        if not 0 <= seconds <= 600:
            raise ValueError("seconds must be from 0 to 600")
        self._mark(f"down for {seconds:g} s")
        await self._call("POST", "", {"enabled": False})
        try:
            await asyncio.sleep(seconds)
        finally:
            await self._call("POST", "", {"enabled": True})

    async def remove(self) -> None:
        """Delete the proxy (its connections end); idempotent."""
        if self.removed:
            return
        self.removed = True
        await self._kit.awaitable(self._admin("DELETE", f"/{self.name}"))

    def remove_now(self) -> None:
        """:meth:`remove` from a teardown, whatever loop the test had (or none)."""
        if self.removed or not self._lab.running or not self._kit.alive:
            return
        self.removed = True
        self._kit.run(self._admin("DELETE", f"/{self.name}"), CALL_S + 1)
