"""Small pieces of the lab's shared state that handlers of several modules hold (under keys.py's keys)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from transport.server.feed import Subscription

HISTORY = 10  # values a ValueStore remembers


@dataclass(slots=True)
class ValueStore:
    """The value that AJAX and the postback form read and write (one per session, "" anonymous)."""

    value: str = ""
    edits: int = 0
    history: list[str] = field(default_factory=list)
    key: bytes = b""  # signs its page state (ajax.page_key: the same on every worker of a cluster)

    def set(self, value: str) -> None:
        self.value = value
        self.edits += 1
        self.history = (self.history + [value])[-HISTORY:]


class Hold:
    """A held request or open stream that a fault or shutdown can end early."""

    __slots__ = ("ended", "kind")

    def __init__(self, kind: str = "long_poll") -> None:
        self.ended = asyncio.Event()
        self.kind = kind  # long_poll or stream


class SlowConsumer(Exception):
    """A stream's client stopped reading: what it has not taken passed the bound."""


async def write_watched(resp: web.StreamResponse, data: bytes, sub: Subscription) -> None:
    """``resp.write(data)``, seen by the feed's watchdog (``Feed.check_writers``): a client that does not
    take it in time, or whose backlog overflows meanwhile, has its connection cut and the write fails."""
    sub.writing = len(data)
    try:
        await resp.write(data)
    finally:
        sub.writing = 0
        sub.writes += 1

