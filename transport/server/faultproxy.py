"""A fault proxy with Toxiproxy's vocabulary: a TCP proxy whose toxics hurt traffic on demand.

A :class:`Proxy` listens (127.0.0.1 by default) and forwards each connection
to its upstream (the lab, or any ``host:port``). Toxics act per direction
(``upstream`` = client → server, ``downstream`` = server → client) and apply
to a connection with probability ``toxicity`` (decided once per connection and
toxic, as Toxiproxy does). They can be added and removed while connections
are live: every chunk consults the current list.

- ``latency`` ``{latency, jitter}`` (ms): delay each chunk;
- ``bandwidth`` ``{rate}`` (KB/s): pace the bytes;
- ``slow_close`` ``{delay}`` (ms): hold the close;
- ``timeout`` ``{timeout}`` (ms): stop forwarding (data is dropped) and close
  after ``timeout``; 0 = never close: a half-open connection until removed;
- ``reset_peer`` ``{timeout}`` (ms): reset both sides (TCP RST) after ``timeout``;
- ``limit_data`` ``{bytes}``: close once that many bytes went through;
- ``slicer`` ``{average_size, size_variation, delay}`` (bytes, bytes, µs): cut
  data into small, delayed pieces;
- ``idle_timeout`` ``{timeout}`` (ms), on the connection: both sides closed after that long with no byte
  either way, as load balancers do;
- ``http_error``, ``block_upgrade``, ``buffer``: the connection read as HTTP/1.1 (http_toxics.py);
- ``message`` ``{action, every, nth, match, delay, count}``: one message of the transport dropped,
  duplicated, delayed, reordered or corrupted (message_toxic.py; the connection read as HTTP/1.1, then
  as WebSocket frames after a 101).

Toxics that read HTTP or messages act on connections made after they are on (a connection already
piping bytes cannot be joined mid-message), and need a plaintext upstream: a proxy whose upstream was
given as ``https://``/``wss://``, or that has carried TLS, refuses them.

``enabled = False`` is Toxiproxy's "down": the proxy stops listening (new
connections are refused) and closes the connections it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
import random
import re
import socket
import struct
from dataclasses import dataclass, field
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from transport.core.message_units import Unit, WsSplitter
from transport.server.http_toxics import HttpExchange
from transport.server.message_toxic import DEFAULTS as MESSAGE_DEFAULTS
from transport.server.message_toxic import MessageFaults
from transport.server.message_toxic import ToxicError as MessageToxicError
from transport.server.message_toxic import check as check_message

log = logging.getLogger("duplex.server.faultproxy")

STREAMS = ("upstream", "downstream")
TOXIC_TYPES: dict[str, dict[str, float | str]] = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "limit_data": {"bytes": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    # the connection, whatever the stream: closed after ``timeout`` ms with no byte either way (load balancers)
    "idle_timeout": {"timeout": 60_000},
    # HTTP/1.1 (http_toxics.py), whatever the stream: a request answered by the proxy itself; a WebSocket
    # upgrade refused or stripped; a streamed answer held back
    "http_error": {"status": 503, "first": 0, "every": 0, "retry_after": 0, "path": ""},
    "block_upgrade": {"mode": "refuse"},
    "buffer": {"bytes": 4096},
    # one message of the transport (message_toxic.py), on its stream
    "message": dict(MESSAGE_DEFAULTS),
}
CONNECTION_TYPES = ("idle_timeout", "http_error", "block_upgrade", "buffer")  # act on both directions
HTTP_TYPES = ("http_error", "block_upgrade", "buffer")  # the proxy reads HTTP/1.1 for these
PLAINTEXT_TYPES = (*HTTP_TYPES, "message")  # they read what the connection carries
LOGGED_EVENTS = 200  # what toxics did, logged one by one; after that every thousandth
READ = 32 * 1024
QUEUE_CHUNKS = 64  # chunks read but not yet due, per direction (at most 2 MiB): then reading waits
NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # proxy and toxic names: they go into URL paths
MAX_ATTRIBUTE = 1_000_000_000  # ms, bytes, KB/s: anything larger is a mistake


def check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ToxicError(f"{what} must be 1 to 64 letters, digits, '_', '.' or '-', got {str(name)[:80]!r}")
    return name


def check_number(value: object, what: str, low: float, high: float) -> float:
    """A finite JSON number from ``low`` to ``high`` (no NaN, no Infinity, no booleans)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise ToxicError(f"{what} must be a finite number from {low:g} to {high:g}, got {str(value)[:40]}")
    return value


def is_loopback_host(host: str) -> bool:
    """Whether listening on ``host`` keeps to this machine. An empty host is every address (aiohttp and
    asyncio bind all interfaces for it), so it is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ToxicError(ValueError):
    """A toxic or proxy definition that cannot be used (the API answers 400)."""


@dataclass(slots=True)
class Toxic:
    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, Any] = field(default_factory=dict)
    removed: asyncio.Event = field(default_factory=asyncio.Event, compare=False, repr=False)
    applied: int = 0  # requests or connections it acted on (HTTP and connection toxics)
    seen: int = field(default=0, compare=False, repr=False)  # requests it has counted (http_error)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> "Toxic":
        kind = body.get("type")
        if kind not in TOXIC_TYPES:
            raise ToxicError(f"unknown toxic type {kind!r}; one of {', '.join(TOXIC_TYPES)}")
        stream = body.get("stream", "downstream")
        if stream not in STREAMS:
            raise ToxicError('stream must be "upstream" or "downstream"')
        toxicity = check_number(body.get("toxicity", 1.0), "toxicity", 0, 1)
        attributes = dict(TOXIC_TYPES[kind])
        given = body.get("attributes") or {}
        if not isinstance(given, dict):
            raise ToxicError("attributes must be an object")
        for key, value in given.items():
            if key not in attributes:
                raise ToxicError(f"{kind} has no attribute {key!r}; it has {', '.join(attributes)}")
            if isinstance(attributes[key], str):
                if not isinstance(value, str) or len(value) > 1000:
                    raise ToxicError(f"{key} must be a string of at most 1000 characters")
                attributes[key] = value
            else:
                attributes[key] = check_number(value, key, 0, MAX_ATTRIBUTE)
        check_attributes(kind, attributes)
        if kind == "message":
            try:
                check_message(attributes, given)
            except MessageToxicError as exc:
                raise ToxicError(str(exc)) from None
        name = check_name(body.get("name") or f"{kind}_{stream}", "a toxic's name")
        return cls(name, kind, stream, float(toxicity), attributes)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "stream": self.stream, "toxicity": self.toxicity,
                "attributes": dict(self.attributes), "applied": self.applied}


def check_attributes(kind: str, a: dict[str, Any]) -> None:
    """What a number's range alone cannot say (ToxicError, one sentence)."""
    if kind == "http_error":
        if not 100 <= a["status"] <= 599 or not float(a["status"]).is_integer():
            raise ToxicError(f"status must be an HTTP status from 100 to 599, got {a['status']:g}")
        if a["first"] and a["every"]:
            raise ToxicError("give first (the first N requests) or every (every Nth), not both")
        for key in ("first", "every"):
            if not float(a[key]).is_integer():
                raise ToxicError(f"{key} must be a whole number of requests, got {a[key]:g}")
        if a["path"]:
            try:
                re.compile(a["path"])
            except re.error as exc:
                raise ToxicError(f"path is not a regular expression: {exc}") from None
    elif kind == "block_upgrade" and a["mode"] not in ("refuse", "strip"):
        raise ToxicError(f'mode must be "refuse" or "strip", got {str(a["mode"])[:40]!r}')
    elif kind == "idle_timeout" and a["timeout"] <= 0:
        raise ToxicError("timeout must be more than 0 ms")


def split_hostport(text: str, what: str) -> tuple[str, int]:
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ToxicError(f"{what} must look like host:port, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def latency_of(t: Toxic, draw: Callable[[float, float], float] = random.uniform) -> float:
    """One chunk's delay (ms) under a latency toxic: ``latency`` ± up to ``jitter``, never below 0."""
    jitter = t.attributes["jitter"]
    return max(0.0, t.attributes["latency"] + (draw(-jitter, jitter) if jitter else 0.0))


class DelaySchedule:
    """When each chunk may leave: its own arrival plus its own delay (sans-I/O, times in seconds).

    Never before the chunk ahead of it: a TCP stream keeps its order, so jitter can hold a chunk
    back behind a slower one but cannot reorder them.
    """

    def __init__(self) -> None:
        self._last = -math.inf

    def due(self, arrived: float, delay_ms: float) -> float:
        self._last = max(arrived + delay_ms / 1000, self._last)
        return self._last


async def forward(queue: "asyncio.Queue[tuple[float, bytes]]", send: Callable[[bytes], Awaitable[bool]],
                  clock: Callable[[], float], sleep: Callable[[float], Awaitable[Any]]) -> None:
    """Send each queued ``(due, chunk)`` once its time comes, in order, until ``send`` says done."""
    while True:
        due, data = await queue.get()
        wait = due - clock()
        if wait > 0:
            await sleep(wait)
        if not await send(data):
            return


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, proxy: "Proxy", client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                 server: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.proxy = proxy
        self.client, self.server = client, server
        self.applies: dict[str, bool] = {}  # toxic name → does it hit this connection
        self.sent = {"upstream": 0, "downstream": 0}
        self.closed = asyncio.Event()
        self.last = proxy.clock()  # the last byte either way (idle_timeout)
        self.message_mode = False  # a message toxic hit it when it was made: its messages are read
        self._faults: dict[str, MessageFaults] = {}  # per direction (messages are counted per direction)
        self._pending = {"upstream": b"", "downstream": b""}  # read with the HTTP heads, before a 101
        self._ws_target: str | None = None  # the upgraded request's target, after a 101

    def message_faults(self, stream: str, where: str) -> MessageFaults:
        faults = self._faults.get(stream)
        if faults is None:
            faults = self._faults[stream] = MessageFaults(lambda: self.toxics(stream), self.proxy.said, where)
        faults.where = where
        return faults

    def switched(self, target: str, to_client: bytes, to_server: bytes) -> None:
        """A 101: the bytes pipe on from here (what the HTTP parsers read beyond the heads first)."""
        self._ws_target = target
        self._pending = {"downstream": to_client, "upstream": to_server}

    def touch(self) -> None:
        self.last = self.proxy.clock()

    def toxics(self, stream: str) -> list[Toxic]:
        out = []
        for toxic in list(self.proxy.toxics.values()):
            if toxic.stream != stream and toxic.type not in CONNECTION_TYPES:
                continue
            hit = self.applies.get(toxic.name)
            if hit is None:
                hit = self.applies[toxic.name] = random.random() < toxic.toxicity
            if hit:
                out.append(toxic)
        return out

    async def run(self) -> None:
        try:
            hits = self.toxics("downstream") + self.toxics("upstream")
            self.message_mode = any(t.type == "message" for t in hits)
            if self.message_mode or any(t.type in HTTP_TYPES for t in hits):
                if not await HttpExchange(self).run():  # read as HTTP/1.1 until it ends or switches protocol
                    return
            up = asyncio.ensure_future(self._pipe(self.client[0], self.server[1], "upstream"))
            down = asyncio.ensure_future(self._pipe(self.server[0], self.client[1], "downstream"))
            try:
                await asyncio.wait({up, down, asyncio.ensure_future(self.closed.wait())},
                                   return_when=asyncio.FIRST_COMPLETED)
                await asyncio.wait({up, down}, timeout=0.5)  # let the other side see its EOF
            finally:
                for task in (up, down):
                    task.cancel()
                await asyncio.gather(up, down, return_exceptions=True)
        except (ConnectionError, OSError):
            return
        finally:
            self.close()

    def idle_for(self, now: float) -> float | None:
        """idle_timeout: seconds left before this connection is idle too long (≤ 0: now); None: no such
        toxic hits it."""
        limits = [t.attributes["timeout"] / 1000 for t in self.toxics("downstream") if t.type == "idle_timeout"]
        return min(limits) - (now - self.last) if limits else None

    def close(self) -> None:
        """Close both sides (gracefully the first time, abort after)."""
        graceful = not self.closed.is_set()
        for _, writer in (self.client, self.server):
            with contextlib.suppress(Exception):
                if graceful:
                    writer.close()
                else:
                    writer.transport.abort()
        self.closed.set()

    def reset(self) -> None:
        """TCP RST on both sides (SO_LINGER 0, then abort)."""
        for _, writer in (self.client, self.server):
            sock = writer.get_extra_info("socket")
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self.closed.set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stream: str) -> None:
        """Read on; each chunk is timed from its own arrival (``latency``), and forwarded in order.

        Reading and writing are two tasks so a chunk that waits out its latency does not hold up the
        reading of the next one: two chunks 100 ms apart under 300 ms of latency leave 100 ms apart,
        never together at the end of one sleep. The queue between them is bounded (backpressure).
        """
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE_CHUNKS)
        schedule = DelaySchedule()
        messages = self._ws_messages(stream)
        pending = self._pending[stream]

        async def pump() -> None:
            nonlocal pending
            for _ in range(10**12):  # reads of one connection: bounded
                if pending:
                    data, pending = pending, b""
                else:
                    data = await reader.read(READ)
                self.touch()
                delay = sum(latency_of(t) for t in self.toxics(stream) if t.type == "latency")
                if messages is None:
                    await queue.put((schedule.due(self.proxy.clock(), delay), data))
                else:
                    for step in messages(data):
                        if isinstance(step, float):  # a message delayed: it and what follows wait
                            delay += step * 1000
                        elif step:
                            await queue.put((schedule.due(self.proxy.clock(), delay), step))
                    if not data:
                        await queue.put((schedule.due(self.proxy.clock(), delay), b""))
                if not data:
                    return

        reading = asyncio.ensure_future(pump())
        sending = asyncio.ensure_future(forward(queue, lambda data: self._send(writer, data, stream),
                                                self.proxy.clock, asyncio.sleep))
        try:
            await asyncio.wait({reading, sending}, return_when=asyncio.FIRST_COMPLETED)
            if reading.done() and not reading.cancelled() and reading.exception() is None:
                await sending  # the end of the stream is queued behind the chunks still due
        except (ConnectionError, OSError):
            return
        finally:
            for task in (reading, sending):
                task.cancel()
            await asyncio.gather(reading, sending, return_exceptions=True)

    def _ws_messages(self, stream: str) -> Callable[[bytes], list[bytes | float]] | None:
        """After a 101 on a connection a message toxic reads: its WebSocket frames, as messages."""
        if not self.message_mode or self._ws_target is None:
            return None
        socketio = "EIO=" in self._ws_target
        splitter = WsSplitter(masked=stream == "upstream", socketio=socketio)
        faults = self.message_faults(stream, "Socket.IO over WebSocket" if socketio else "WebSocket")

        def messages(data: bytes) -> list[bytes | float]:
            units: list[Unit] = splitter.feed(data) if data else splitter.end()
            steps = faults.apply(units)
            return steps + list(faults.flush()) if not data else steps
        return messages

    async def _send(self, writer: asyncio.StreamWriter, data: bytes, stream: str) -> bool:
        """Forward one chunk through the other toxics; False when the connection is done."""
        toxics = [t for t in self.toxics(stream) if t.type != "latency"]
        if not data:
            for t in toxics:
                if t.type == "slow_close":
                    await asyncio.sleep(t.attributes["delay"] / 1000)
            with contextlib.suppress(Exception):
                writer.write_eof()
            return False
        pieces = [data]
        for t in toxics:
            applied = await self._apply(t, pieces, stream)
            if applied is None:
                return False
            pieces = applied
        for piece in pieces:
            if self.closed.is_set():
                return False
            writer.write(piece)
            await writer.drain()
            self.sent[stream] += len(piece)
            self.proxy.bytes[stream] += len(piece)
            if piece is not pieces[-1]:
                slicer = next((t for t in toxics if t.type == "slicer"), None)
                if slicer is not None and slicer.attributes["delay"]:
                    await asyncio.sleep(slicer.attributes["delay"] / 1e6)
        return True

    async def _apply(self, t: Toxic, pieces: list[bytes], stream: str) -> list[bytes] | None:
        a = t.attributes
        if t.type == "bandwidth":
            if a["rate"] > 0:
                await asyncio.sleep(sum(map(len, pieces)) / (a["rate"] * 1024))
        elif t.type == "timeout":
            await self._timeout(t)
            return None
        elif t.type == "reset_peer":
            await asyncio.sleep(a["timeout"] / 1000)
            self.reset()
            return None
        elif t.type == "limit_data":
            left = int(a["bytes"]) - self.sent[stream]
            data = b"".join(pieces)
            if len(data) >= left:
                if left > 0:
                    return self._last(data[:left])
                self.close()
                return None
        elif t.type == "slicer":
            size = max(1, int(a["average_size"]) or 1)
            var = int(a["size_variation"])
            out = []
            for piece in pieces:
                i = 0
                while i < len(piece):
                    n = max(1, size + (random.randint(-var, var) if var else 0))
                    out.append(piece[i:i + n])
                    i += n
            return out
        return pieces

    def _last(self, data: bytes) -> list[bytes]:
        """Forward what the limit allows, then close (limit_data)."""
        loop = asyncio.get_running_loop()
        loop.call_soon(self.close)
        return [data]

    async def _timeout(self, t: Toxic) -> None:
        """Drop data; close after the timeout, or never (0) until the toxic goes."""
        ms = t.attributes["timeout"]
        if ms > 0:
            await asyncio.sleep(ms / 1000)
            self.close()
            return
        removed = asyncio.ensure_future(t.removed.wait())
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            await asyncio.wait({removed, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            removed.cancel()
            closed.cancel()


class Proxy:
    def __init__(self, name: str, listen: str, upstream: str, enabled: bool = True) -> None:
        self.name = name
        self.host, self.port = split_hostport(listen, "listen")
        scheme, sep, rest = upstream.partition("://")
        # an upstream given as a URL says whether it speaks TLS (https://, wss://); host:port says nothing
        self.tls = bool(sep) and scheme.lower() in ("https", "wss")
        if sep:
            if scheme.lower() not in ("http", "https", "ws", "wss"):
                raise ToxicError(f"upstream must be host:port or an http(s)/ws(s) URL, got {upstream[:80]!r}")
            upstream = rest.split("/", 1)[0]
            if ":" not in upstream.rpartition("]")[2]:
                upstream += ":443" if self.tls else ":80"
        self.upstream = upstream
        self.up_host, self.up_port = split_hostport(upstream, "upstream")
        self.enabled = False
        self.want_enabled = enabled
        self.toxics: dict[str, Toxic] = {}
        self.links: set[_Link] = set()
        self.bytes = {"upstream": 0, "downstream": 0}
        self.connections = 0
        self.clock: Callable[[], float] = time.monotonic
        self.events: deque[dict[str, Any]] = deque(maxlen=100)  # what its toxics did (newest last)
        self.said_count = 0  # events ever (each one's ``n``: a reader knows what it missed)
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._idle_task: asyncio.Task | None = None
        self._accepted: set[asyncio.StreamWriter] = set()  # accepted, upstream not connected yet

    @property
    def listen(self) -> str:
        return f"{self.host}:{self.port}"

    def said(self, text: str) -> None:
        """Something a toxic did to a request or a connection: logged, and kept for ``GET`` (bounded)."""
        self.said_count += 1
        n = self.said_count
        if n <= LOGGED_EVENTS or n % 1000 == 0:
            log.info("proxy %s: %s%s", self.name, text, f" (event {n:,})" if n > LOGGED_EVENTS else "")
        self.events.append({"n": n, "t": time.time(), "text": text})

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream, "enabled": self.enabled,
                "tls": self.tls, "toxics": [t.to_json() for t in self.toxics.values()],
                "events": list(self.events)[-20:], "events_total": self.said_count}

    def plaintext_only(self, toxic: Toxic) -> None:
        """Toxics that read what a connection carries cannot read TLS (ToxicError: a 400)."""
        if toxic.type in PLAINTEXT_TYPES and self.tls:
            raise ToxicError(f"a {toxic.type} toxic needs a plaintext upstream: {self.upstream} speaks TLS, so the "
                             "proxy sees only encrypted bytes (put the proxy between the TLS front and the server)")

    async def set_enabled(self, enabled: bool) -> None:
        if enabled and not self.enabled:
            self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
            self.port = self._server.sockets[0].getsockname()[1]
            self.enabled = True
        elif not enabled and self.enabled:
            self.enabled = False
            server, self._server = self._server, None
            if server is not None:
                server.close()
            for link in list(self.links):
                link.close()
            for writer in list(self._accepted):
                writer.close()
            if server is not None:
                await server.wait_closed()

    async def close(self) -> None:
        await self.set_enabled(False)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def add_toxic(self, toxic: Toxic) -> None:
        if toxic.name in self.toxics:
            raise KeyError(toxic.name)
        self.plaintext_only(toxic)
        self.toxics[toxic.name] = toxic
        self._watch_idle()

    def _watch_idle(self) -> None:
        """One task per proxy (not one per connection) while an idle_timeout toxic is on."""
        if any(t.type == "idle_timeout" for t in self.toxics.values()) and (
                self._idle_task is None or self._idle_task.done()):
            self._idle_task = asyncio.ensure_future(self._close_idle())
            self._tasks.add(self._idle_task)
            self._idle_task.add_done_callback(self._tasks.discard)

    async def _close_idle(self) -> None:
        for _ in range(1_000_000_000):  # while the toxic is on (bounded)
            toxics = [t for t in self.toxics.values() if t.type == "idle_timeout"]
            if not toxics:
                return
            now = self.clock()
            for link in list(self.links):
                left = link.idle_for(now)
                if left is not None and left <= 0 and not link.closed.is_set():
                    for t in toxics:
                        if link.applies.get(t.name):
                            t.applied += 1
                    self.said(f"proxy closed a connection idle for {min(t.attributes['timeout'] for t in toxics):g} ms "
                              "(idle_timeout)")
                    link.close()
            # looked at again a quarter of the shortest timeout later: a connection is cut at most 25 % late
            await asyncio.sleep(max(0.01, min(t.attributes["timeout"] for t in toxics) / 4000))

    def remove_toxic(self, name: str) -> Toxic | None:
        """Take a toxic off; what it holds (a half-open timeout) lets go at once."""
        toxic = self.toxics.pop(name, None)
        if toxic is not None:
            toxic.removed.set()
        return toxic

    def replace_toxic(self, toxic: Toxic) -> None:
        self.plaintext_only(toxic)
        self.remove_toxic(toxic.name)
        self.toxics[toxic.name] = toxic
        self._watch_idle()

    def clear_toxics(self) -> None:
        for name in list(self.toxics):
            self.remove_toxic(name)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._accepted.add(writer)
        try:
            server = await asyncio.wait_for(asyncio.open_connection(self.up_host, self.up_port), 10)
        except (OSError, asyncio.TimeoutError) as exc:
            log.info("proxy %s: upstream %s unreachable: %s", self.name, self.upstream, exc)
            writer.close()
            return
        finally:
            self._accepted.discard(writer)
        if not self.enabled:  # went down while we connected upstream
            writer.close()
            server[1].close()
            return
        link = _Link(self, (reader, writer), server)
        self.links.add(link)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await link.run()
        except asyncio.CancelledError:
            # close() cancels us: that is how a connection ends. Ending quietly matters on 3.11, where
            # asyncio's start_server callback calls task.exception() on a cancelled task and logs it.
            link.close()
        finally:
            self.links.discard(link)
            if task is not None:
                self._tasks.discard(task)
