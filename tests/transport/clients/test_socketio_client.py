"""Duplex's Socket.IO client against the lab's python-socketio server: every transport mode, acks, a
server restart with nothing lost, the lab's rules on /socket.io/."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.helpers import ROOT, start_lab, wait_until
from transport.clients.socketio import SocketIOClient, SocketIOOptions
from transport.clients.lab_admin import post_fault
from transport.server import ServerConfig, create_app
from transport.server.keys import FEED
from transport.server.stats import snapshot


@pytest.fixture
async def lab():
    server = TestServer(create_app(ServerConfig(rate=0, max_msg_size=4096)), host="127.0.0.1", port=0)
    await server.start_server()
    yield server
    await server.close()


class Run:
    def __init__(self, url: str, **options) -> None:
        self.events: list = []
        self.client = SocketIOClient(SocketIOOptions(url, **options), self.events.append)
        self.task = asyncio.ensure_future(self.client.run())

    def rows(self, kind, direction=None):
        return [e for e in self.events if e.kind == kind and (direction is None or e.direction == direction)]

    async def stop(self):
        await self.client.close()
        return await asyncio.wait_for(self.task, 10)


@pytest.mark.parametrize("mode", ["upgrade", "polling", "websocket"])
async def test_each_transport_mode_reads_the_feed_and_emits_with_acks(lab, mode):
    run = Run(f"http://127.0.0.1:{lab.port}", transports=mode)
    await wait_until(lambda: run.client.connected, 10, "connected")
    feed = lab.app[FEED]
    for i in range(20):
        feed.publish("price", {"p": i})
    await wait_until(lambda: run.client.ledger.received >= 20, 10, "20 events")
    messages = run.rows("message", "in")
    assert {m.meta["event"] for m in messages} == {"price"} and messages[0].meta["topic"] == "price"
    assert [m.seq for m in messages] == sorted(m.seq for m in messages)
    # an event's latency is its own (one way, from the envelope's time), never the upgrade probe's round trip
    assert all(m.meta.get("latency") != "rtt" for m in messages)
    answer = await run.client.emit("chat", [{"text": "hello"}])
    assert answer[0]["ok"] and answer[0]["seq"] == feed.last_seq
    (ack,) = run.rows("ack", "in")
    assert ack.latency_ms is not None and ack.meta["latency"] == "rtt"
    assert run.rows("handshake")[0].meta["pingInterval"] > 0
    assert bool(run.rows("upgrade")) == (mode == "upgrade")
    assert run.client.via == ("polling" if mode == "polling" else "websocket")
    if mode == "upgrade":
        assert run.rows("upgrade")[0].meta["rtt_ms"] > 0
    seen = snapshot(lab.app)  # the Server tab's view: Socket.IO clients and requests counted as such
    assert seen["open"]["socketio"] == 1 and seen["requests"]["socketio"] >= 1
    assert await run.stop() is None
    await wait_until(lambda: snapshot(lab.app)["open"]["socketio"] == 0, 5, "the client gone from the count")


async def test_a_namespace_the_server_does_not_serve_is_one_sentence(lab):
    run = Run(f"http://127.0.0.1:{lab.port}", namespace="/nope")
    err = await asyncio.wait_for(run.task, 15)
    assert err is not None and "refused the connection to /nope" in err.sentence
    assert len(run.rows("handshake")) == 1  # not retried: the server said no


async def test_socketio_keeps_the_labs_origin_rule_and_size_bound(lab):
    base = f"http://127.0.0.1:{lab.port}/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as http:
        async with http.get(base, headers={"Origin": "http://evil.example"}) as resp:
            assert resp.status == 403 and "cross-origin" in (await resp.json())["error"]
            assert "Access-Control-Allow-Origin" not in resp.headers
        async with http.get(base) as resp:
            sid = json.loads((await resp.text())[1:])["sid"]
        async with http.post(f"{base}&sid={sid}", data="4" + "x" * 10_000,
                             headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status in (400, 413)


async def test_a_server_restart_loses_and_duplicates_nothing():
    lab = start_lab(rate=50)
    run = Run(lab.url)
    try:
        led = run.client.ledger
        await wait_until(lambda: led.received >= 30 and run.client.via == "websocket", 15, "messages first")
        await post_fault(lab.url, lab.token, {"action": "restart", "down_s": 1})
        await wait_until(lambda: led.episodes and led.episodes[-1].recovered, 30, "the recovery")
        target = led.received + 30
        await wait_until(lambda: led.received >= target, 15, "messages after")
        assert await run.stop() is None
    finally:
        lab.stop()
    assert led.lost == 0 and led.duplicated == 0 and led.replayed > 0, led.summary()
    seqs = [e.seq for e in run.events if e.kind == "message" and e.seq is not None]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_probe_prints_events_with_their_names_and_the_upgrade():
    lab = start_lab(rate=50)
    try:
        res = subprocess.run([sys.executable, "main.py", "probe", lab.url, "--transport", "socketio", "--count", "10",
                              "--timeout", "20"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        lab.stop()
    assert res.returncode == 0, res.stderr
    *events, last = [json.loads(line) for line in res.stdout.splitlines()]
    messages = [e for e in events if e["kind"] == "message"]
    assert len(messages) == 10 and all(e["meta"]["event"] == e["meta"]["topic"] for e in messages)
    assert last["ledger"]["rule"] == "lab" and last["ledger"]["received"] >= 10  # the lab marked its handshake
    assert any(e["kind"] == "upgrade" for e in events) and events[0]["transport"] == "socketio"


async def test_a_close_while_the_websocket_opens_ends_the_client(lab):
    """close() that comes while the WebSocket's handshake is under way found nothing to close: the socket
    that opens after it must be closed too, and run() end (it stayed open, reading, until the server quit)."""
    gate = asyncio.Event()
    links: list[asyncio.StreamWriter] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, wait: bool) -> None:
        try:
            while data := await reader.read(65536):
                if wait:
                    await gate.wait()  # the server's answer (the 101) is held until the test says so
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", lab.port)
        links.extend([writer, up_writer])
        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))

    relay_server = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = relay_server.sockets[0].getsockname()[1]
    try:
        run = Run(f"http://127.0.0.1:{port}", transports="websocket")
        await wait_until(lambda: run.rows("request", "out"), 10, "the WebSocket's request sent")
        await run.client.close()
        gate.set()
        assert await asyncio.wait_for(run.task, 10) is None
        assert not run.client.connected
    finally:
        for w in links:
            w.close()
        relay_server.close()
        await relay_server.wait_closed()
