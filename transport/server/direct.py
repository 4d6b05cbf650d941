"""The broadcast's fast lane: a message written to an idle subscriber's socket at once.

A stream's reader (the /ws and /sse pumps) waits for its subscription to wake
it. With 10 000 subscribers a broadcast then costs 10 000 task switches and as
many trips through the framework's writer. When a reader is idle (nothing
queued, nothing being written) it lends its subscription a *lane*: publishing
calls it, and it writes the message's bytes — framed once per message for
every subscriber of a kind (a server's WebSocket frames are unmasked; an SSE
event is the same text for all) — straight to the transport, if the
connection is open, not compressed, and its write buffer holds under
``DIRECT_BUFFER`` bytes. Otherwise the lane says no and the message is queued
for the reader as before, so a slow client still meets the subscriber bounds
and the watchdog, and order is kept (the lane is withdrawn while the reader
works).
"""

from __future__ import annotations

import asyncio
from typing import Callable

from aiohttp import web

from .feed import Message

DIRECT_BUFFER = 64 << 10  # bytes already waiting in a transport: past this, the reader takes over


class Sent:
    """The highest seq a reader's client was sent, shared by the reader and its lane."""

    __slots__ = ("last",)

    def __init__(self, last: int) -> None:
        self.last = last


def _ws_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x81, n))
    elif n < 65536:
        head = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return head + payload


class _Last:
    """One message's bytes, framed once for every subscriber of one kind."""

    __slots__ = ("msg", "data")

    def __init__(self) -> None:
        self.msg: Message | None = None
        self.data = b""


_WS, _SSE = _Last(), _Last()


def ws_lane(ws: web.WebSocketResponse, transport: asyncio.Transport | None, sent: Sent
            ) -> Callable[[Message], bool] | None:
    """A lane to one /ws client, or None when its frames cannot be written as they are (compression)."""
    if transport is None or ws.compress:
        return None

    def lane(m: Message) -> bool:
        if m.seq <= sent.last:
            return True
        if ws.closed or transport.is_closing() or transport.get_write_buffer_size() > DIRECT_BUFFER:
            return False
        if _WS.msg is not m:
            _WS.msg, _WS.data = m, _ws_frame(m.text.encode())
        transport.write(_WS.data)
        sent.last = m.seq
        return True
    return lane


def sse_lane(resp: web.StreamResponse, transport: asyncio.Transport | None, sent: Sent,
             encode: Callable[[Message], str]) -> Callable[[Message], bool] | None:
    """A lane to one /sse client (its chunked body), or None when it cannot be written to as it is."""
    if transport is None or resp.compression or not resp.chunked:
        return None

    def lane(m: Message) -> bool:
        if m.seq <= sent.last:
            return True
        if transport.is_closing() or transport.get_write_buffer_size() > DIRECT_BUFFER:
            return False
        if _SSE.msg is not m:
            event = encode(m).encode()
            _SSE.msg, _SSE.data = m, b"%x\r\n%s\r\n" % (len(event), event)
        transport.write(_SSE.data)
        sent.last = m.seq
        return True
    return lane
