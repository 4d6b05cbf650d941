"""Clients of SSE and NDJSON streams and WebSockets that stop reading are ended (logged with the
reason); the lab stays up and SIGTERM still ends it within 2 s."""

from __future__ import annotations

import asyncio
import logging
import signal
import time

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.helpers import start_lab, wait_until
from transport.server import ServerConfig, create_app
from transport.server.keys import FEED, STREAMS

BIG = "x" * 64_000


async def silent_client(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Sends the request (for /ws, an upgrade), reads the head, then never reads again."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    upgrade = ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n") if path == "/ws" else ""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{upgrade}\r\n".encode())
    await writer.drain()
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    return reader, writer


@pytest.mark.parametrize("path", ["/sse", "/api/stream", "/ws"])
@pytest.mark.parametrize("bound", ["backlog", "write"])
async def test_a_client_that_stops_reading_is_ended(path, bound, caplog):
    config = ServerConfig(rate=0, write_timeout=0.5,
                          subscriber_bytes=(1 << 20) if bound == "backlog" else (512 << 20))
    server = TestServer(create_app(config), host="127.0.0.1", port=0)
    await server.start_server()
    feed = server.app[FEED]
    try:
        _reader, writer = await silent_client(server.port, path)
        await wait_until(lambda: feed.subscribers == 1, 5, "subscribed")
        caplog.set_level(logging.INFO, logger="duplex.server")

        def flood_then_check() -> bool:  # a bounded flood: 5 × 64 KB per check
            if feed.subscribers:
                for _ in range(5):
                    feed.publish("big", BIG)
            return feed.subscribers == 0

        await wait_until(flood_then_check, 20, "the silent client ended")
        assert feed.last_seq < 20 * 100 * 5  # bounded
        said = [r.getMessage() for r in caplog.records if "too slow" in r.getMessage()]
        assert said, "the reason is logged"
        assert ("backlog passed" in said[0]) if bound == "backlog" else ("not taken in 0.5 s" in said[0])
        writer.close()
        async with aiohttp.ClientSession() as http:  # the lab goes on
            async with http.get(f"http://127.0.0.1:{server.port}/") as resp:
                assert resp.status == 200
    finally:
        await server.close()


async def silent_chat(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Asks for a long streamed chat answer, reads the head, then never reads again."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = b'{"messages": [{"role": "user", "content": "hi"}], "stream": true, "tokens": 100000, "pace_ms": 0}'
    writer.write(f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: "
                 f"application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    return reader, writer


async def silent_socketio(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A Socket.IO client on WebSocket that connects to "/" and never reads again."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    await writer.drain()
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.write(b"\x81\x82abcd" + bytes(b ^ m for b, m in zip(b"40", b"abcd")))  # a masked text frame "40"
    await writer.drain()
    return reader, writer


async def test_a_chat_reader_that_stops_reading_is_cut_after_the_write_timeout():
    server = TestServer(create_app(ServerConfig(rate=0, write_timeout=0.5)), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        _reader, writer = await silent_chat(server.port)
        streams = server.app[STREAMS]
        await wait_until(lambda: len(streams) == 1, 5, "the chat answer streaming")
        await wait_until(lambda: not streams, 10, "the silent chat reader cut")
        writer.close()
    finally:
        await server.close()


def test_sigterm_ends_the_lab_within_2_s_with_stuck_clients():
    async def scenario() -> float:
        lab = start_lab(rate=0)
        try:
            clients = [await silent_client(lab.port, p) for p in ("/sse", "/api/stream", "/sse")]
            clients += [await silent_chat(lab.port), await silent_socketio(lab.port), await silent_socketio(lab.port)]
            async with aiohttp.ClientSession() as http:
                for _ in range(40):  # ~20 MB towards clients that do not read
                    async with http.post(lab.url + "/api/messages", json={"body": "y" * 500_000}) as resp:
                        assert resp.status == 200
            t0 = time.monotonic()
            lab.proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(lab.proc.wait, 10)
            took = time.monotonic() - t0
            assert code == 0
            for _reader, writer in clients:
                writer.close()
            return took
        finally:
            lab.stop()

    assert asyncio.run(scenario()) < 2.0


async def test_a_request_whose_head_never_completes_is_closed():
    lab = await asyncio.to_thread(start_lab, "--header-timeout", "0.5", rate=0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", lab.port)
        writer.write(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{lab.port}\r\nX-Half: ".encode())  # and nothing more
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 10) == b""  # the lab closed it
        writer.close()
    finally:
        lab.stop()
