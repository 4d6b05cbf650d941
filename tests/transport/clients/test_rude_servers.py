"""Servers that answer at once with nothing: no client floods them, and ``--retries`` gives up on each.

Every transport's client is built through the registry, as probe, Compare and the UI build them.
"""

from __future__ import annotations

import argparse
import asyncio
import io

import pytest
from aiohttp import WSCloseCode, web

from tests.helpers import wait_until
from transport.apps import probe
from transport.core.backoff import Policy
from transport.core.reconnect import BURST, RATE
from transport.clients.registry import TRANSPORTS


class Rude:
    """Handlers that each answer at once with nothing, and the times of the requests they saw."""

    def __init__(self) -> None:
        self.times: list[float] = []  # when each request came, on the server's loop clock

    def _note(self, request: web.Request) -> None:
        self.times.append(asyncio.get_running_loop().time())

    def routes(self) -> list[web.RouteDef]:
        async def empty_stream(request: web.Request) -> web.StreamResponse:
            self._note(request)
            return web.Response(body=b"", content_type="application/x-ndjson")

        async def empty_list(request: web.Request) -> web.Response:
            self._note(request)
            return web.json_response([])

        async def retry_only(request: web.Request) -> web.Response:
            self._note(request)
            return web.Response(text="retry: 100\n\n", content_type="text/event-stream",
                                headers={"Cache-Control": "no-cache"})

        async def accept_and_close(request: web.Request) -> web.WebSocketResponse:
            self._note(request)
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"not today")
            return ws

        return [web.get("/api/stream", empty_stream), web.get("/api/longpoll", empty_list),
                web.get("/api/poll", empty_list), web.get("/sse", retry_only), web.get("/ws", accept_and_close)]


@pytest.fixture
async def rude(serve):
    r = Rude()
    base = await serve(*r.routes())
    return r, base


FAST = Policy("fixed", 0.0)  # a user's "retry at once": the floor must still hold


@pytest.mark.parametrize("name", ["websocket", "sse", "stream", "long_poll"])
async def test_no_client_floods_a_server_that_answers_at_once_with_nothing(rude, name):
    """The requests come no faster than the floor allows, measured on the server's own clock: the
    span from the first to the n-th request is at least what BURST and RATE allow."""
    server, base = rude
    info = TRANSPORTS[name]
    times = server.times
    events: list = []
    client = info.make(info.lab_url(base), events.append, policy=FAST, hold=25.0, default_retry_ms=0)
    task = asyncio.ensure_future(client.run())
    n = BURST + 5
    try:
        await wait_until(lambda: len(times) >= n, 30, f"{n} requests")
    finally:
        await client.close()
        await task
    span = times[n - 1] - times[0]
    assert span >= (n - 1 - BURST) / RATE * 0.95, f"{n} requests in {span:.2f} s"
    reasons = [e.data for e in events if e.kind == "reconnect"]
    assert reasons and all("s (" in r for r in reasons)  # each wait says how long and why


@pytest.mark.parametrize("name", ["websocket", "sse", "stream"])
async def test_probe_retries_gives_up_after_n_accept_then_close_cycles(rude, name):
    _server, base = rude
    info = TRANSPORTS[name]
    args = probe.parse_args([info.lab_url(base), "--transport", info.probe_name, "--retries", "2",
                             "--interval", "0.01", "--timeout", "20"])
    code, reason = await probe.probe(args, out=io.StringIO())
    assert code == 1 and reason.startswith("Giving up after 2 failed attempts"), reason
    assert "\n" not in reason


async def test_probe_retries_gives_up_on_a_poll_endpoint_that_fails(serve):
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503, text="down for maintenance")

    base = await serve(web.get("/api/poll", broken))
    args = probe.parse_args([base + "/api/poll", "--transport", "short_poll", "--retries", "3",
                             "--interval", "0.01", "--timeout", "20"])
    code, reason = await probe.probe(args, out=io.StringIO())
    assert code == 1 and reason.startswith("Giving up after 3 failed attempts") and "503" in reason


def test_retries_must_be_positive():
    with pytest.raises(SystemExit):
        probe.parse_args(["ws://127.0.0.1:1/ws", "--retries", "0"])


def test_registry_names_every_probe_transport():
    parsed = probe.parse_args(["http://127.0.0.1:1/api/stream", "--transport", "stream"])
    assert isinstance(parsed, argparse.Namespace) and TRANSPORTS["stream"].probe_name == "stream"


@pytest.mark.parametrize("url", ["ws://127.0.0.1:99999/ws", "ws://127.0.0.1:abc/", "http://[::1", "ws://[::1/ws",
                                 "http://127.0.0.1:70000/sse"])
def test_probe_says_in_one_sentence_why_a_url_cannot_be_parsed_and_exits_2(url, capsys):
    with pytest.raises(SystemExit) as done:
        probe.parse_args([url])
    assert done.value.code == 2
    said = capsys.readouterr().err
    assert said.startswith("probe: Invalid URL") and said.count("\n") == 1 and "Traceback" not in said


async def test_a_server_that_speaks_garbage_gets_one_printable_sentence():
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(b"\x00\x01\x02 not http\r\n\x1b[31mred\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        args = probe.parse_args([f"ws://127.0.0.1:{port}/", "--retries", "1", "--timeout", "10"])
        code, reason = await probe.probe(args, out=io.StringIO())
    finally:
        server.close()
        await server.wait_closed()
    assert code == 1 and reason.startswith("Giving up after 1 failed attempts")
    assert "\n" not in reason and not any(ord(c) < 32 for c in reason) and "\\x00" in reason


async def test_an_sse_id_http_cannot_carry_is_kept_and_the_reconnect_goes_without_it(serve):
    seen: list[str | None] = []

    async def events(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Last-Event-ID"))
        body = "id: a\x01b\ndata: {\"n\": 1}\n\n" if len(seen) == 1 else ": nothing\n\n"
        return web.Response(text=body, content_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    base = await serve(web.get("/sse", events))
    got: list = []
    client = TRANSPORTS["sse"].make(base + "/sse", got.append, default_retry_ms=10)
    task = asyncio.ensure_future(client.run())
    try:
        await wait_until(lambda: len(seen) >= 2, 10, "the reconnect")
    finally:
        await client.close()
        err = await task
    assert err is None and seen[:2] == [None, None]
    assert client.parser.last_event_id == "a\x01b"  # kept, as the standard says
    notes = [e for e in got if e.kind == "note"]
    assert notes and "cannot carry" in notes[0].data


async def test_a_body_cut_mid_chunk_is_said_in_words_not_as_a_library_error(serve):
    """An SSE stream and an NDJSON stream whose chunked body is cut in the middle of a chunk: the close
    row says what happened; no 'TransferEncodingError: 400' (which reads like an HTTP status)."""
    import socket

    from aiohttp import web

    async def cut(request: web.Request) -> web.StreamResponse:
        sse = request.path == "/sse"
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream" if sse else "application/x-ndjson",
                                           "Cache-Control": "no-cache"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(b"data: {}\n\n" if sse else b"{}\n")
        transport = request.transport
        transport.write(b"40\r\nhalf a chunk")  # announces 64 bytes, sends 12, then the connection ends
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\0" * 8)
        transport.close()
        return resp

    base = await serve(web.get("/sse", cut), web.get("/api/stream", cut))
    for name, path in (("sse", "/sse"), ("stream", "/api/stream")):
        events = []
        client = TRANSPORTS[name].make(base + path, events.append, policy=Policy("fixed", 30.0), max_failures=1)
        task = asyncio.ensure_future(client.run())
        try:
            await wait_until(lambda: any(e.kind == "close" for e in events), 10, f"{name}: the close row")
        finally:
            await client.close()
            await asyncio.wait_for(task, 10)
        close = next(e for e in events if e.kind == "close")
        assert "Error" not in close.data and "400" not in close.data, close.data
        assert close.data.startswith("connection lost mid-stream: the "), close.data
