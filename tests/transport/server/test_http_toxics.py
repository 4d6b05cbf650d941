"""The fault proxy's HTTP toxics and its idle timeout, in front of the lab and of hand-made servers:
what a firewall, a proxy without WebSocket, a buffering reverse proxy, a flaky API and a load balancer do."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from tests.helpers import wait_until
from transport.server.faultproxy import Proxy, Toxic, ToxicError


def toxic(kind: str, **attributes: object) -> Toxic:
    return Toxic.from_json({"type": kind, "attributes": attributes})


@pytest.fixture
async def proxied():
    """A proxy in front of ``upstream`` (host:port), closed after the test."""
    made: list[Proxy] = []

    async def make(upstream: str, *toxics: Toxic) -> Proxy:
        p = Proxy("p", "127.0.0.1:0", upstream)
        for t in toxics:
            p.add_toxic(t)
        await p.set_enabled(True)
        made.append(p)
        return p

    yield make
    for p in made:
        await p.close()


async def test_http_error_answers_the_first_requests_itself_then_forwards(lab_server, proxied):
    flaky = toxic("http_error", status=503, first=2, retry_after=1)
    p = await proxied(f"127.0.0.1:{lab_server.port}", flaky)
    async with aiohttp.ClientSession() as http:  # one keep-alive connection: the proxy answers on it in turn
        answers = []
        for _ in range(3):
            async with http.get(f"http://127.0.0.1:{p.port}/api/poll?after=0") as resp:
                answers.append((resp.status, resp.headers.get("Retry-After"), await resp.json()))
    assert [a[0] for a in answers] == [503, 503, 200]
    assert answers[0][1] == "1" and "fault proxy" in answers[0][2]["error"]
    assert flaky.applied == 2 and flaky.to_json()["applied"] == 2
    assert any("answered GET /api/poll" in e["text"] for e in p.to_json()["events"])


async def test_http_error_every_nth_request_of_the_paths_it_names(lab_server, proxied):
    flaky = toxic("http_error", status=429, every=2, path="^/api/poll")
    p = await proxied(f"127.0.0.1:{lab_server.port}", flaky)
    statuses = []
    async with aiohttp.ClientSession() as http:
        for path in ("/", "/api/poll?after=0", "/", "/api/poll?after=0", "/api/poll?after=0", "/api/poll?after=0"):
            async with http.get(f"http://127.0.0.1:{p.port}{path}") as resp:
                await resp.read()
                statuses.append(resp.status)
    assert statuses == [200, 200, 200, 429, 200, 429]  # the index page is not counted


async def test_block_upgrade_refuse_is_a_403_and_plain_http_still_passes(lab_server, proxied):
    firewall = toxic("block_upgrade", mode="refuse")
    p = await proxied(f"127.0.0.1:{lab_server.port}", firewall)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await http.ws_connect(f"ws://127.0.0.1:{p.port}/ws")
        assert err.value.status == 403
        async with http.get(f"http://127.0.0.1:{p.port}/api/poll?after=0") as resp:
            assert resp.status == 200
    assert firewall.applied == 1


async def test_block_upgrade_strip_sends_the_server_a_plain_request(serve, proxied):
    seen: list[dict[str, str]] = []

    async def ws_or_plain(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.headers))
        if request.headers.get("Upgrade", "").lower() == "websocket":
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            await ws.close()
            return ws
        return web.json_response({"error": "this endpoint needs a WebSocket"}, status=426)

    base = await serve(web.get("/ws", ws_or_plain))
    stripper = toxic("block_upgrade", mode="strip")
    p = await proxied(base.removeprefix("http://"), stripper)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await http.ws_connect(f"ws://127.0.0.1:{p.port}/ws")
    assert err.value.status == 426
    assert "Upgrade" not in seen[0] and "upgrade" not in seen[0].get("Connection", "").lower()
    assert stripper.applied == 1


async def test_without_http_toxics_a_websocket_passes_the_proxy(lab_server, proxied):
    p = await proxied(f"127.0.0.1:{lab_server.port}", toxic("http_error", status=503, path="^/nothing"))
    async with aiohttp.ClientSession() as http:  # read as HTTP, the upgrade goes through, then bytes
        async with http.ws_connect(f"ws://127.0.0.1:{p.port}/ws") as ws:
            first = await asyncio.wait_for(ws.receive_json(), 10)
    assert first.get("control") == "live"


@pytest.mark.parametrize("accel", [False, True])
async def test_buffer_holds_a_streamed_body_unless_the_server_says_x_accel_buffering_no(serve, proxied, accel):
    seen_first = asyncio.Event()
    waited: list[bool] = []

    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           **({"X-Accel-Buffering": "no"} if accel else {})})
        await resp.prepare(request)
        await resp.write(b"data: one\n\n")
        try:  # the client sees the first event before the rest is sent, unless something holds it back
            await asyncio.wait_for(seen_first.wait(), 10 if accel else 1.0)
            waited.append(True)
        except TimeoutError:
            waited.append(False)
        for n in ("two", "three"):
            await resp.write(f"data: {n}\n\n".encode())
        await resp.write_eof()
        return resp

    base = await serve(web.get("/sse", stream))
    buffering = toxic("buffer", bytes=100_000)
    p = await proxied(base.removeprefix("http://"), buffering)
    got = b""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{p.port}/sse") as resp:
            async for chunk in resp.content.iter_any():
                if not got:
                    seen_first.set()
                got += chunk
    assert got == b"data: one\n\ndata: two\n\ndata: three\n\n"
    assert waited == [accel]  # buffered: the first event reached the client only with the rest
    assert buffering.applied == (0 if accel else 1)


async def test_idle_timeout_closes_a_silent_connection_and_spares_a_busy_one(proxied):
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(data)
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    try:
        idle = toxic("idle_timeout", timeout=300)
        p = await proxied(f"127.0.0.1:{server.sockets[0].getsockname()[1]}", idle)
        busy_r, busy_w = await asyncio.open_connection("127.0.0.1", p.port)
        quiet_r, quiet_w = await asyncio.open_connection("127.0.0.1", p.port)
        for _ in range(8):  # 0.8 s of a byte every 100 ms: never idle for 300 ms
            busy_w.write(b"x")
            assert await asyncio.wait_for(busy_r.read(1), 5) == b"x"
            await asyncio.sleep(0.1)  # the traffic's own pace
        assert await asyncio.wait_for(quiet_r.read(1), 5) == b""  # the silent one was closed
        await wait_until(lambda: idle.applied == 1, 5, "the toxic's count", state=lambda: idle.applied)
        busy_w.write(b"y")
        assert await asyncio.wait_for(busy_r.read(1), 5) == b"y"
        for w in (busy_w, quiet_w):
            w.close()
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("body, said", [
    ({"type": "firewall"}, "unknown toxic type 'firewall'; one of latency, bandwidth"),
    ({"type": "http_error", "attributes": {"first": 2, "every": 3}}, "give first (the first N requests) or every"),
    ({"type": "http_error", "attributes": {"path": "(["}}, "path is not a regular expression"),
    ({"type": "http_error", "attributes": {"status": 42}}, "status must be an HTTP status from 100 to 599"),
    ({"type": "block_upgrade", "attributes": {"mode": "sometimes"}}, 'mode must be "refuse" or "strip"'),
    ({"type": "idle_timeout", "attributes": {"timeout": 0}}, "timeout must be more than 0 ms"),
    ({"type": "buffer", "attributes": {"bytes": -1}}, "bytes must be a finite number from 0"),
    ({"type": "block_upgrade", "attributes": {"mode": 3}}, "mode must be a string"),
])
def test_bad_http_toxics_are_refused_with_the_reason(body, said):
    with pytest.raises(ToxicError) as err:
        Toxic.from_json(body)
    assert said in str(err.value)


async def test_the_buffering_proxy_holds_sse_until_the_lab_stops_saying_x_accel_buffering_no(lab_server, proxied):
    """The lab's setting: with the header the buffer toxic passes each event; without it, blocks."""
    from transport.server.admin import apply_settings
    from transport.server.keys import CONFIG

    app = lab_server.app
    p = await proxied(f"127.0.0.1:{lab_server.port}", toxic("buffer", bytes=100_000))
    async with aiohttp.ClientSession() as http:
        for accel, buffered in ((True, False), (False, True)):
            await apply_settings(app, {"accel_buffering": accel, "heartbeat": 0.05})
            async with http.get(f"http://127.0.0.1:{p.port}/sse") as resp:
                assert ("X-Accel-Buffering" in resp.headers) is accel
                try:
                    first = await asyncio.wait_for(resp.content.readany(), 1.0)
                except asyncio.TimeoutError:
                    first = None
            assert (first is None) is buffered, (accel, first)
    assert app[CONFIG].heartbeat == 0.05
