"""Applying faults: once or on their schedule, through the lab's admin API. One path for the Faults
page, the scenario runner and Compare.

The admin API is reached through an injected ``call(method, path, body)``
(:func:`transport.clients.lab_admin.admin_call` bound to a lab), so tests can run
the schedule on a fake lab and an injected clock.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

from transport.core.errors import DuplexError
from transport.core.faults import FaultSpec
from transport.clients.lab_admin import admin_call, post_fault
from transport.clients.tls import trust, trusted_ca
from transport.core.urls import host_port

AdminCall = Callable[[str, str, "dict[str, Any] | None"], Awaitable[tuple[int, Any]]]
Mark = Callable[[str], None]
Sleep = Callable[[float], Awaitable[None]]

_numbers = itertools.count(1)


def lab_call(lab_url: str, token: str) -> AdminCall:
    """The admin API of the lab at ``lab_url``."""
    async def call(method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        if not lab_url:
            raise DuplexError("The lab server is not running: it hosts the fault proxies.")
        return await admin_call(lab_url, token, method, path, body)
    return call


async def repeat(spec: FaultSpec, once: Callable[[FaultSpec], Awaitable[None]], say: Mark, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep) -> int:
    """Apply ``spec`` (``await once(spec)``) once, or at 0, every, 2·every… seconds while that is
    within its span ("every 5 s for 60 s": 12 times); ``say`` gets the progress. Returns the count."""
    start = clock()
    times = spec.times()
    for n in range(1, times + 1):
        say(f"running {spec.fault} (#{n})")
        await once(spec)
        if n < times:
            await sleep(max(0.0, start + n * spec.every - clock()))  # the schedule itself
    say(f"done: {spec.fault} applied {times} time(s)")
    return times


async def hold(duration: float, sleep: Sleep = asyncio.sleep) -> None:
    """A fault's duration (0: until it is cancelled)."""
    if duration > 0:
        await sleep(duration)
    else:
        await asyncio.Event().wait()


NEW_CONNECTIONS = ("message", "http_error", "block_upgrade", "buffer")  # toxics that read new connections only


async def proxy_fault(call: AdminCall, proxy: str, spec: FaultSpec, mark: Mark, sleep: Sleep = asyncio.sleep,
                      reconnect: Callable[[], None] | None = None) -> None:
    """A network fault on the lab's proxy ``proxy`` for its duration (0: until cancelled): ``down``, or a
    toxic (the same fault twice stacks). ``mark(text)`` says when it starts and ends, and what each
    toxic that acts per message or request did. A toxic that reads HTTP or messages acts on connections
    made after it: ``reconnect`` (the client's own reconnect) is called once it is on."""
    if spec.fault == "down":
        await call("POST", f"/proxies/{proxy}", {"enabled": False})
        mark(f"proxy down for {spec.duration:g} s" if spec.duration else "proxy down")
        try:
            await hold(spec.duration, sleep)
        finally:
            await call("POST", f"/proxies/{proxy}", {"enabled": True})
            mark("proxy up again")
        return
    name = f"panel_{spec.fault}_{spec.stream}_{next(_numbers)}"
    per_application = spec.type.toxic in PER_APPLICATION
    watcher = EventWatch(call, proxy, mark)
    if per_application:
        await watcher.read()  # the count so far: what follows is this fault's
    status, answer = await call("POST", f"/proxies/{proxy}/toxics", spec.toxic(name))
    if status >= 300:
        said = answer.get("error", answer) if isinstance(answer, dict) else answer
        raise DuplexError(f"The lab refused the fault: {said}")
    jitter = f" ± {spec.jitter:g}" if spec.jitter else ""
    mark(f"{spec.describe()}" if per_application else
         f"{spec.fault} {spec.stream} {spec.value:g}{jitter} (toxicity {spec.toxicity:g})"
         + (f" for {spec.duration:g} s" if spec.duration else ""))
    watch = asyncio.ensure_future(watcher.run(sleep)) if per_application else None
    if reconnect is not None and spec.type.toxic in NEW_CONNECTIONS:
        mark("the client reconnects: this toxic reads the connections made after it is on")
        reconnect()
    try:
        await hold(spec.duration, sleep)
    finally:
        if watch is not None:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        await call("DELETE", f"/proxies/{proxy}/toxics/{name}", None)
        if watch is not None:
            await watcher.read()  # what it did since the last read
        mark(f"{spec.fault} removed")


PER_APPLICATION = ("message", "http_error", "block_upgrade", "buffer", "idle_timeout")
WATCH_S = 0.25  # how often the proxy's events are read while such a toxic is on
MARKS_PER_READ = 20  # marker rows per read at most; the rest are counted in one row


class EventWatch:
    """Each thing the proxy's toxics did (its ``events``) as a marker row, read every ``WATCH_S`` while the
    fault is on, and once more when it ends (nothing it did goes unmarked)."""

    def __init__(self, call: AdminCall, proxy: str, mark: Mark) -> None:
        self.call, self.proxy, self.mark = call, proxy, mark
        self.seen: int | None = None

    async def read(self) -> None:
        try:
            status, answer = await self.call("GET", f"/proxies/{self.proxy}", None)
        except DuplexError:
            return
        if status != 200 or not isinstance(answer, dict):
            return
        total = int(answer.get("events_total") or 0)
        seen = total if self.seen is None else self.seen  # what happened before this fault is not its doing
        new = [e for e in answer.get("events") or [] if isinstance(e, dict) and int(e.get("n", 0)) > seen]
        for e in new[:MARKS_PER_READ]:
            self.mark(str(e.get("text", "")))
        missed = total - seen - min(len(new), MARKS_PER_READ)
        if missed > 0:
            self.mark(f"… and {missed:,} more of the same kind (the proxy's events: GET /proxies/{self.proxy})")
        self.seen = total

    async def run(self, sleep: Sleep = asyncio.sleep) -> None:
        for _ in range(10**9):  # while the fault holds (it cancels us): bounded
            await self.read()
            await sleep(WATCH_S)


async def server_fault(lab_url: str, token: str, spec: FaultSpec) -> str:
    """Apply a server fault of the lab (``POST /_admin/faults``); returns the marker's text."""
    if not lab_url:
        raise DuplexError("The lab server is not running.")
    return spec.marker(await post_fault(lab_url, token, spec.server_action()))


class FaultRoute:
    """A client's route through a fault proxy of the lab (named ``name``), in front of the server of its
    URL. It follows the URL: a new server means a proxy to the new upstream; one the lab cannot reach
    through a proxy (no URL) ends the route with one sentence."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.listen: str | None = None  # the proxy's address while routed
        self.upstream: str | None = None

    @property
    def routed(self) -> bool:
        return self.listen is not None

    def target(self, url: str) -> str:
        """``url`` as the client uses it: through the proxy when routed (to this URL's server)."""
        if not self.listen or not url or host_port(url) != self.upstream:
            return url
        return urlunsplit(urlsplit(url)._replace(netloc=self.listen))

    async def open(self, call: AdminCall, url: str) -> str:
        """Route through a proxy to ``url``'s server; returns the sentence to show."""
        if not url:
            raise DuplexError("Enter the tab's URL first: the proxy goes in front of its server.")
        upstream = host_port(url)
        await call("DELETE", f"/proxies/{self.name}", None)  # a stale one, from an earlier route
        body: dict[str, Any] = {"name": self.name, "upstream": upstream}
        if self.listen:  # keep the address the client knows
            body["listen"] = self.listen
        status, answer = await call("POST", "/proxies", body)
        if status != 201 or not isinstance(answer, dict):
            self.listen = self.upstream = None
            said = answer.get("error", answer) if isinstance(answer, dict) else answer
            raise DuplexError(f"The lab could not make a fault proxy to {upstream}: {said}")
        self.listen, self.upstream = str(answer["listen"]), upstream
        ca = trusted_ca(url)  # a TLS server whose CA Duplex trusts (the TLS lab): trusted through its proxy too
        if ca:
            trust(self.target(url), ca)
        return f"routed: {self.listen} → {upstream}"

    async def follow(self, call: AdminCall, url: str) -> str | None:
        """The URL changed: point the proxy at its server. Returns a sentence when something changed."""
        if not self.listen or host_port(url) == self.upstream:
            return None
        old = self.upstream
        said = await self.open(call, url)
        return f"fault proxy now in front of {self.upstream} (was {old}): {said}"

    async def close(self, call: AdminCall) -> None:
        if self.listen:
            self.listen = self.upstream = None
            await call("DELETE", f"/proxies/{self.name}", None)

    async def restore(self, call: AdminCall) -> str | None:
        """A new lab process has none of the old one's proxies: make this one again at the same address."""
        if not self.listen or not self.upstream:
            return None
        status, answer = await call("POST", "/proxies", {"name": self.name, "upstream": self.upstream,
                                                         "listen": self.listen})
        if status != 201:
            self.listen = self.upstream = None
            raise DuplexError(f"The fault proxy could not be made again in the new lab process: {answer}")
        return f"fault proxy on {self.listen} made again in the new lab process"
