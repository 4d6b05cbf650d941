"""The event record: one immutable record for everything a timeline shows.

Clients never touch widgets; they produce :class:`Event` records and hand them
to a sink (a plain callable). The UI bridge and the ``probe`` CLI are sinks.
"""

from __future__ import annotations

import functools
import json
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Literal, NamedTuple

# "http": a browser's HTTP exchanges; "browser": what happens to a browser tab itself (chromium_watch.py)
Transport = Literal["short_poll", "long_poll", "stream", "ajax", "websocket", "sse", "http", "browser", "socketio"]
Direction = Literal["in", "out", "state"]

TRANSPORTS: tuple[str, ...] = ("short_poll", "long_poll", "stream", "ajax", "websocket", "sse", "http", "browser",
                               "socketio")
DIRECTIONS: tuple[str, ...] = ("in", "out", "state")
_TRANSPORT_SET = frozenset(TRANSPORTS)
_DIRECTION_SET = frozenset(DIRECTIONS)


def now_ns() -> int:
    """The one clock shared by the GUI and the lab process on one machine."""
    return time.monotonic_ns()


class _Fields(NamedTuple):
    transport: str
    direction: str
    kind: str
    t: int
    conn: int
    seq: int | None
    size: int
    wire: int | None
    latency_ms: float | None
    data: str | bytes | None
    meta: dict[str, Any]


class Event(_Fields):
    """One row of a timeline. Immutable: a tuple with named fields (built in about a fifth of the time
    of a frozen dataclass, which the feed's hot path feels at 100 000 messages a second).

    :func:`event_from` builds one from its eleven fields without the checks, for the receiver's hot
    path, whose transport and direction are its own constants."""

    __slots__ = ()

    def __new__(cls, transport: str, direction: str, kind: str, t: int | None = None, conn: int = 0,
                seq: int | None = None, size: int = 0, wire: int | None = None, latency_ms: float | None = None,
                data: str | bytes | None = None, meta: dict[str, Any] | None = None) -> Event:
        if transport not in _TRANSPORT_SET:
            raise ValueError(f"unknown transport {transport!r}")
        if direction not in _DIRECTION_SET:
            raise ValueError(f"unknown direction {direction!r}")
        return _new(cls, (transport, direction, kind, time.monotonic_ns() if t is None else t, conn, seq, size,
                          wire, latency_ms, data, {} if meta is None else meta))

    def __str__(self) -> str:
        parts = [f"{self.transport}#{self.conn}", self.direction, self.kind]
        if self.seq is not None:
            parts.append(f"seq={self.seq}")
        if self.size:
            parts.append(f"{self.size}B")
        if self.latency_ms is not None:
            parts.append(f"{self.latency_ms:.1f}ms")
        text = self.text()
        if text:
            parts.append(text[:60] + ("…" if len(text) > 60 else ""))
        return " ".join(parts)

    def text(self) -> str:
        """The payload as text: UTF-8 where it decodes, hex otherwise."""
        if self.data is None:
            return ""
        if isinstance(self.data, bytes):
            return self.data.hex()
        return self.data

    def to_dict(self) -> dict[str, Any]:
        d = self._asdict()
        d["meta"] = dict(self.meta)
        d["data"] = self.text() if self.data is not None else None
        if isinstance(self.data, bytes):
            d["meta"] = {**self.meta, "binary": True}
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), default=str)


_new = tuple.__new__
event_from: Callable[[tuple[Any, ...]], Event] = functools.partial(_new, Event)

EventSink = Callable[[Event], None]


class Outbox:
    """Where a client's events go, in order: to its sink one by one, or, inside :meth:`batch` (the
    events one socket read produced), as one list: one hand-over per read instead of one per message."""

    __slots__ = ("_sink", "_many", "_held")

    def __init__(self, sink: EventSink) -> None:
        self._sink = sink
        self._many = batch_sink(sink)
        self._held: list[Event] | None = None

    def __call__(self, event: Event) -> None:
        held = self._held
        if held is None:
            self._sink(event)
        else:
            held.append(event)

    def many(self, events: list[Event]) -> None:
        held = self._held
        if held is None:
            self._many(events)
        else:
            held += events

    @contextmanager
    def batch(self) -> Iterator[Callable[[Event], None]]:
        """Hold what is emitted until the block ends (however it ends), then hand it over at once.
        Yields the held list's ``append`` (the cheapest way to emit inside the block)."""
        if self._held is not None:  # already inside one
            yield self._held.append
            return
        held: list[Event] = []
        self._held = held
        try:
            yield held.append
        finally:
            self._held = None
            if held:
                self._many(held)


def batch_sink(sink: EventSink) -> Callable[[list[Event]], None]:
    """How to hand ``sink`` a list of events at once: its ``many`` method when it has one (the UI
    bridge: one append, one timer check per list), else one call per event."""
    many = getattr(sink, "many", None)
    if callable(many):
        return many

    def each(events: list[Event]) -> None:
        for e in events:
            sink(e)
    return each
