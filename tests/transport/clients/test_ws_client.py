"""Duplex's WebSocket client against real servers on 127.0.0.1:0, good and bad."""

from __future__ import annotations

import asyncio
import errno
import json
import socket

import pytest
from aiohttp.test_utils import TestServer
from websockets.asyncio.server import serve

from tests.helpers import ClientRun, free_port, wait_until
from transport.core.backoff import Policy
from transport.clients.websocket import WebSocketClient, WebSocketOptions
from transport.core.errors import (ConnectFailed, ConnectTimeout, HandshakeRejected, InvalidURL, MessageTooBig,
                              NotConnected, TLSFailure, explain)
from transport.server.admin import close_websockets
from transport.server.keys import FEED

FAST = Policy("fixed", 0.05)


def ws_url(server: TestServer, path: str = "/ws") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


def Run(**options) -> ClientRun:
    return ClientRun(lambda sink: WebSocketClient(WebSocketOptions(**options), sink))


async def test_receives_the_feed_with_seq_latency_and_wire_bytes(lab_server):
    run = Run(url=ws_url(lab_server), policy=FAST)
    await wait_until(lambda: run.client.state == "open", 5, "open")
    feed = lab_server.app[FEED]
    for i in range(3):
        feed.publish("price", {"i": i})
    await wait_until(lambda: run.client.ledger.received == 3, 5, "3 messages")
    msgs = [e for e in run.events if e.direction == "in"]
    assert [m.seq for m in msgs] == [1, 2, 3]
    assert all(m.latency_ms is not None and m.latency_ms >= 0 for m in msgs)
    assert all(m.wire == m.size + 2 for m in msgs)  # unmasked server frame < 126 bytes
    opened = run.rows("open")[0]
    assert opened.meta["status"] == 101 and opened.wire > 100
    assert await run.stop() is None
    assert run.client.state == "closed"


async def test_send_text_json_and_binary_show_as_out_rows(lab_server):
    run = Run(url=ws_url(lab_server), policy=FAST)
    await wait_until(lambda: run.client.connected, 5, "open")
    await run.client.send_text("plain")
    await run.client.send_json('{"topic": "chat", "body": 1}')
    await run.client.send_binary(b"\x00\xff")
    with pytest.raises(Exception, match="Not valid JSON"):
        await run.client.send_json("{nope")
    outs = [e for e in run.events if e.direction == "out"]
    assert [o.data for o in outs] == ["plain", '{"topic": "chat", "body": 1}', b"\x00\xff"]
    assert outs[0].wire == 5 + 2 + 4  # masked client frame
    # the server broadcasts what we sent, with a seq
    await wait_until(lambda: run.client.ledger.received == 3, 5, "echoes")
    echoed = [json.loads(e.data) for e in run.events if e.direction == "in"]
    assert [m["body"] for m in echoed] == ["plain", 1, "00ff"]
    await run.stop()
    with pytest.raises(NotConnected):
        await run.client.send_text("late")


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/ws", "ws://", "not a url", ""])
async def test_invalid_url_fails_at_once_with_a_sentence(url):
    run = Run(url=url)
    err = await run.result()
    assert isinstance(err, InvalidURL)
    assert run.kinds() == ["error"] and run.client.state == "failed"
    assert "URL" in run.events[0].data


async def test_refused_connection_retries_then_gives_up():
    port = free_port()
    run = Run(url=f"ws://127.0.0.1:{port}/ws", policy=FAST, max_failures=3)
    err = await run.result()
    assert isinstance(err, ConnectFailed)
    assert f"Connection refused by 127.0.0.1:{port}" in run.rows("error")[0].data
    assert run.kinds().count("reconnect") == 2 and "Giving up after 3" in err.sentence


async def test_server_that_never_answers_the_upgrade_times_out():
    async def mute(reader, writer):
        await reader.read()  # holds the connection, says nothing

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    run = Run(url=f"ws://127.0.0.1:{port}/", policy=FAST, open_timeout=0.3, max_failures=1)
    async with server:
        err = await run.result()
    assert isinstance(err, ConnectTimeout)
    assert "did not answer within 0.3 s (connect timeout)" in run.rows("error")[0].data


async def test_tls_failure_is_fatal_and_explained():
    async def plain_http(reader, writer):
        await reader.read(100)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    run = Run(url=f"wss://127.0.0.1:{port}/", policy=FAST)
    async with server:
        err = await run.result()
    assert isinstance(err, TLSFailure)
    assert err.sentence.startswith(f"TLS failure with 127.0.0.1:{port}")
    assert "reconnect" not in run.kinds()


async def test_http_404_instead_of_upgrade_is_fatal(lab_server):
    run = Run(url=ws_url(lab_server, "/nowhere"), policy=FAST)
    err = await run.result()
    assert isinstance(err, HandshakeRejected) and err.status == 404
    assert "answered HTTP 404" in err.sentence


async def test_oversized_message_closes_with_1009_and_stops():
    async def big(ws):
        await ws.send("x" * 5000)
        await ws.wait_closed()

    async with serve(big, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        run = Run(url=f"ws://127.0.0.1:{port}/", policy=FAST, max_size=1024)
        err = await run.result()
    assert isinstance(err, MessageTooBig)
    close = run.rows("close")[0]
    assert close.meta["code"] == 1009
    assert "over the 1 KiB limit" in err.sentence
    assert run.client.state == "failed"


async def test_server_close_1011_is_reported_then_reconnects(lab_server):
    run = Run(url=ws_url(lab_server), policy=FAST)
    await wait_until(lambda: run.client.connected, 5, "open")
    await close_websockets(lab_server.app, 1011, "database on fire")
    await wait_until(lambda: len(run.rows("open")) == 2, 5, "reconnect")
    errors = [e.data for e in run.rows("error")]
    assert errors == ["The server closed the connection with 1011 (internal server error): database on fire."]
    assert run.rows("close")[0].meta["by"] == "server"
    await run.stop()


async def test_accept_then_close_does_not_reset_the_backoff():
    async def rude(ws):
        await ws.close(1000, "bye")

    policy = Policy("exponential", 0.02, 0.16, 2.0, 0.0)
    async with serve(rude, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        run = Run(url=f"ws://127.0.0.1:{port}/", policy=policy)
        await wait_until(lambda: len(run.rows("reconnect")) >= 5, 10, "5 retries")
        await run.stop()
    delays = [e.meta["delay_s"] for e in run.rows("reconnect")][:5]
    assert delays == [0.02, 0.04, 0.08, 0.16, 0.16]


async def test_remote_latency_is_the_ping_round_trip(lab_server):
    run = Run(url=ws_url(lab_server), policy=FAST, one_way_latency=False, ping_interval=0.05)
    await wait_until(lambda: run.client.connected, 5, "open")
    feed = lab_server.app[FEED]

    def measured():
        feed.publish("t", 1)
        return any(e.meta.get("latency") == "rtt" for e in run.events if e.direction == "in")

    await wait_until(measured, 5, "an RTT-stamped message")
    await run.stop()


def test_unreachable_and_unknown_hosts_get_sentences():
    err = explain(OSError(errno.EHOSTUNREACH, "No route to host"), "10.9.9.9:80")
    assert isinstance(err, ConnectFailed) and "unreachable" in err.sentence
    err = explain(socket.gaierror(-2, "Name or service not known"), "nowhere.invalid:80")
    assert "Cannot resolve the host name" in err.sentence
    err = explain(asyncio.TimeoutError(), "h:1", timeout=3)
    assert isinstance(err, ConnectTimeout) and "within 3 s" in err.sentence


async def test_close_during_the_handshake_does_not_leave_a_connection_open(lab_server):
    run = Run(url=ws_url(lab_server), policy=FAST)
    await run.client.close()  # before the handshake has finished
    assert await run.result() is None
    assert run.client.state == "closed" and "open" not in run.kinds()


async def test_extra_headers_and_subprotocols_reach_a_remote_server():
    seen = {}

    async def handler(ws):
        seen["auth"] = ws.request.headers.get("Authorization")
        await ws.send("hello")
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, subprotocols=["v2.duplex"]) as server:
        port = server.sockets[0].getsockname()[1]
        run = Run(url=f"ws://127.0.0.1:{port}/", policy=FAST, headers=[("Authorization", "Bearer t0k")],
                  subprotocols=["v2.duplex"])
        await wait_until(lambda: run.client.ledger.received == 0 and any(
            e.direction == "in" for e in run.events), 5, "a message")
        await run.stop()
    assert seen["auth"] == "Bearer t0k"
    assert run.rows("open")[0].meta["subprotocol"] == "v2.duplex"
    msg = [e for e in run.events if e.direction == "in"][0]
    assert msg.data == "hello" and msg.seq is None  # not a feed envelope: shown, not ledgered


async def test_the_open_row_is_stamped_no_later_than_the_messages_read_with_the_handshake(lab_server):
    """The lab's ``live`` item comes in the same read as the 101: its row must not be older than ``open``'s
    (a timeline sorted by time listed it first, though it came after)."""
    for _ in range(5):
        run = Run(url=ws_url(lab_server), policy=FAST)
        await wait_until(lambda: any(e.kind == "live" for e in run.events), 5, "the live row",
                         lambda: [e.kind for e in run.events])
        await run.stop()
        opened = next(e for e in run.events if e.kind == "open")
        live = next(e for e in run.events if e.kind == "live")
        assert opened.t <= live.t, (opened.t, live.t)
