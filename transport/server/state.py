"""Small pieces of the lab's shared state that handlers of several modules hold (under keys.py's keys)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

from aiohttp import web

from .feed import Subscription

HISTORY = 10  # values a ValueStore remembers


@dataclass(slots=True)
class ValueStore:
    """The value that AJAX and the postback form read and write (one per session, "" anonymous)."""

    value: str = ""
    edits: int = 0
    history: list[str] = field(default_factory=list)
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

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


async def write_bounded(resp: web.StreamResponse, data: bytes, timeout: float, what: str,
                        sub: Subscription) -> None:
    """``resp.write(data)``, but a client that does not take it within ``timeout`` seconds (its unsent
    buffer stays past the transport's high-water mark), whose backlog passes the subscriber's bound, or
    that blocks a server shutting down, is too slow: raises SlowConsumer with the reason."""
    try:
        async with asyncio.timeout(timeout) as deadline:
            sub.deadline = deadline
            if sub.overflowed or sub.stopped:
                deadline.reschedule(asyncio.get_running_loop().time())
            await resp.write(data)
    except TimeoutError:
        if sub.overflowed:
            why = "its backlog passed the subscriber bound (--max-size, subscriber_bytes)"
        elif sub.stopped:
            why = "the server is shutting down and it is not reading"
        else:
            why = f"{len(data):,} bytes not taken in {timeout:g} s"
        raise SlowConsumer(f"{what} client too slow: {why}") from None
    finally:
        sub.deadline = None
