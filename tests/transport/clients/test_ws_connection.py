"""The WebSocket client's reading, against a server written byte by byte here: what websockets would
deliver is delivered (in order, with wire sizes), what it would refuse is refused with its close code."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
from typing import Awaitable, Callable

import pytest

from tests.helpers import wait_until
from tests.transport.core.test_wsframes import frame
from transport.core.backoff import Policy
from transport.clients.websocket import WebSocketClient, WebSocketOptions
from transport.core.events import Event

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


async def handshake(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:"))
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[None]]


@pytest.fixture
async def raw_server():
    servers = []

    async def start(script: Script) -> str:
        async def handle(reader, writer):
            try:
                await script(reader, writer, await handshake(reader))
            finally:
                writer.close()
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"

    yield start
    for s in servers:
        s.close()
        await s.wait_closed()


async def run_client(url: str, until: Callable[[list[Event]], bool], **options) -> tuple[WebSocketClient, list[Event]]:
    events: list[Event] = []
    client = WebSocketClient(WebSocketOptions(url, policy=Policy("fixed", 30.0), max_failures=1, **options),
                             events.append)
    task = asyncio.ensure_future(client.run())
    try:
        await wait_until(lambda: until(events), 10, "the client's events")
    finally:
        await client.close()
        await asyncio.wait_for(task, 10)
    return client, events


def messages(events: list[Event]) -> list[tuple[str | bytes | None, int, int | None]]:
    return [(e.data, e.size, e.wire) for e in events if e.kind == "message" and e.direction == "in"]


def close_code(events: list[Event]) -> int | None:
    return next((e.meta["code"] for e in events if e.kind == "close"), None)


async def test_frames_in_the_handshake_read_and_frames_cut_anywhere_all_arrive_in_order(raw_server):
    body = [f'{{"seq":{i},"ts":1,"topic":"t","body":"{"x" * i}"}}'.encode() for i in range(1, 200)]
    stream = b"".join(frame(b) for b in body)

    async def script(reader, writer, response):
        writer.write(response + stream[:3])  # the response and the start of the first frame, in one write
        await writer.drain()
        for i in range(3, len(stream), 37):  # then pieces that cut frames anywhere
            writer.write(stream[i:i + 37])
            await writer.drain()
        await reader.read(100)  # until the client goes

    _, events = await run_client(await raw_server(script), lambda ev: len(messages(ev)) >= len(body))
    assert messages(events) == [(b.decode(), len(b), len(b) + (2 if len(b) < 126 else 4)) for b in body]


async def test_fragments_pings_and_binary_go_through_websockets_and_keep_their_place(raw_server):
    got_pong = asyncio.Event()

    async def script(reader, writer, response):
        writer.write(response + frame(b"one") + frame(b"fr", 0x01) + frame(b"\x00", 0x89) + frame(b"ag", 0x00)
                     + frame(b"me", 0x80) + frame(b"\x01\x02", 0x82) + frame(b"last"))
        await writer.drain()
        data = await reader.read(100)  # the pong (masked, from the client)
        if data and data[0] == 0x8A:
            got_pong.set()
        await reader.read(100)

    _, events = await run_client(await raw_server(script), lambda ev: len(messages(ev)) >= 4)
    assert [m[0] for m in messages(events)] == ["one", "fragme", b"\x01\x02", "last"]
    assert messages(events)[1][2] == 3 * (2 + 2)  # three fragments: a 2-byte header and 2 bytes each
    await asyncio.wait_for(got_pong.wait(), 10)


async def test_text_that_is_not_utf8_closes_with_1007_after_what_came_before(raw_server):
    async def script(reader, writer, response):
        writer.write(response + frame(b"fine") + frame(b"\xc3\x28") + frame(b"never"))
        await writer.drain()
        await reader.read(100)

    _, events = await run_client(await raw_server(script), lambda ev: close_code(ev) is not None)
    assert [m[0] for m in messages(events)] == ["fine"]
    assert close_code(events) == 1007


async def test_a_message_over_the_limit_closes_with_1009_and_does_not_reconnect(raw_server):
    async def script(reader, writer, response):
        writer.write(response + frame(b"small") + frame(b"y" * 5000)[:100])  # only the start of the big one
        await writer.drain()
        await reader.read(100)

    client, events = await run_client(await raw_server(script), lambda ev: close_code(ev) is not None, max_size=1000)
    assert [m[0] for m in messages(events)] == ["small"]
    assert close_code(events) == 1009
    assert client.last_error is not None and "over the 1000 bytes limit" in client.last_error.sentence


async def test_a_server_close_frame_ends_the_connection_cleanly(raw_server):
    async def script(reader, writer, response):
        writer.write(response + frame(b"bye soon") + frame(struct.pack("!H", 1001) + b"going", 0x88))
        await writer.drain()
        await reader.read(100)  # the client's echo of the close

    _, events = await run_client(await raw_server(script), lambda ev: close_code(ev) is not None)
    assert [m[0] for m in messages(events)] == ["bye soon"]
    close = next(e for e in events if e.kind == "close")
    assert close.meta == {"code": 1001, "reason": "going", "by": "server"}


async def test_a_server_on_this_machine_that_is_not_a_lab_gets_the_ping_round_trip_as_latency(raw_server):
    """Told by what the server answers (no Duplex-Epoch header), not by its loopback address."""
    async def script(reader, writer, response):
        writer.write(response + frame(b'{"seq":1,"ts":5,"topic":"t","body":0}'))
        await writer.drain()
        head = await reader.readexactly(2)  # the client's keepalive ping, masked
        assert head[0] == 0x89
        n = head[1] & 0x7F
        mask = await reader.readexactly(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(n)))
        # the pong, and the next message right behind it (the client reads the pong first, in stream order)
        writer.write(frame(payload, 0x8A) + frame(b'{"seq":2,"ts":5,"topic":"t","body":0}'))
        await writer.drain()
        await reader.read(100)

    client, events = await run_client(await raw_server(script), lambda ev: len(messages(ev)) >= 2,
                                      ping_interval=0.05)
    first, second = [e for e in events if e.kind == "message"]
    assert not client.receiver.one_way
    assert first.latency_ms is None  # no round trip measured yet; never a one-way figure from its ts
    assert second.latency_ms is not None and second.meta.get("latency") == "rtt"


@pytest.mark.parametrize("pieces", [4096, 4097])
async def test_a_message_in_more_fragments_than_websockets_takes_is_refused_as_websockets_refuses_it(
        raw_server, pieces):
    """The same fragmented message to websockets' own recv() and to Duplex: both take 4 096 pieces; both
    refuse 4 097 with 1009 "too many fragments"."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosedError

    def message() -> bytes:
        parts = [frame(b"a", 0x01 if i == 0 else (0x80 if i == pieces - 1 else 0x00)) for i in range(pieces)]
        return b"".join(parts) + frame(b"after")

    async def script(reader, writer, response):
        writer.write(response + message())
        await writer.drain()
        await reader.read(100)

    url = await raw_server(script)
    async with connect(url, ping_interval=None) as ws:  # the reference: websockets' own recv()
        try:
            reference = [await asyncio.wait_for(ws.recv(), 10), await asyncio.wait_for(ws.recv(), 10)]
        except ConnectionClosedError as exc:
            reference = [exc.sent.code if exc.sent else None]
    _, events = await run_client(url, lambda ev: len(messages(ev)) >= 2 or close_code(ev) is not None)
    if pieces == 4096:
        assert reference == ["a" * 4096, "after"] and [m[0] for m in messages(events)] == reference
    else:
        assert reference == [1009] and close_code(events) == 1009 and not messages(events)
