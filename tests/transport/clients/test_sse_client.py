"""Duplex's SSE client against real servers on 127.0.0.1:0: the lab and hand-made ones."""

from __future__ import annotations

import asyncio
import gzip

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.helpers import ClientRun, free_port, wait_until
from tests.proxy import CountingProxy
from transport.core.backoff import event_source_delay
from transport.clients.http import stream_timeout
from transport.clients.sse import SSEClient, SSEOptions, validate_url
from transport.core.errors import BadStatus, ConnectFailed, InvalidURL, MessageTooBig, ServerStopped, TLSFailure, WrongResponse
from transport.server import ServerConfig, create_app
from transport.server.keys import FEED, SSE_RESUMES
from transport.server.sse import end_streams


def Run(**options) -> ClientRun:
    options.setdefault("default_retry_ms", 50)
    return ClientRun(lambda sink: SSEClient(SSEOptions(**options), sink))


@pytest.fixture
async def lab_server():
    server = TestServer(create_app(ServerConfig(rate=0, sse_retry_ms=40, sse_heartbeat=0.05)),
                        host="127.0.0.1", port=0)
    await server.start_server()
    yield server
    await server.close()


def url(server: TestServer, path: str = "/sse") -> str:
    return f"http://127.0.0.1:{server.port}{path}"


async def stream(request: web.Request, body: bytes, headers: dict | None = None, hold: bool = False):
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                       **(headers or {})})
    await resp.prepare(request)
    await resp.write(body)
    if hold:
        await asyncio.Event().wait()  # keep the stream open until the client leaves
    return resp


def messages(run: ClientRun):
    return [e for e in run.events if e.direction == "in" and e.kind == "message"]


# -- the lab stream ---------------------------------------------------------------------------
async def test_lab_stream_events_types_ids_latency_retry_and_heartbeats(lab_server):
    run = Run(url=url(lab_server))
    await wait_until(lambda: run.client.state == "open", 5, "open")
    feed = lab_server.app[FEED]
    feed.publish("price", {"p": 1})
    feed.publish("chat", {"text": "hi"})
    await wait_until(lambda: len(messages(run)) == 2, 5, "2 events")
    price, chat = messages(run)
    assert (price.meta["type"], price.meta["last_event_id"], price.seq) == ("price", "1", 1)
    assert (chat.meta["type"], chat.meta["last_event_id"], chat.seq) == ("message", "2", 2)
    assert price.latency_ms is not None and price.latency_ms >= 0 and price.size == len(price.data)
    response = run.rows("response")[0]
    assert response.meta["status"] == 200 and response.meta["ttfb_ms"] >= 0 and response.wire > 100
    assert run.rows("retry")[0].meta["retry_ms"] == 40
    await wait_until(lambda: any(e.data == "ping" for e in run.rows("comment")), 5, "a heartbeat")
    assert not run.rows("warning")  # the lab's response is well-formed
    assert await run.stop() is None and run.client.state == "closed"


async def test_bytes_are_counted_on_the_socket(lab_server):
    async with CountingProxy("127.0.0.1", lab_server.port) as proxy:
        # a plain TCP proxy forwards the Host the client sends: name the lab, as its own proxies may
        run = Run(url=f"http://127.0.0.1:{proxy.port}/sse", headers=[("Host", f"127.0.0.1:{lab_server.port}")])
        await wait_until(lambda: run.client.connected, 5, "open")
        for i in range(20):
            lab_server.app[FEED].publish("price", i)
        await wait_until(lambda: run.client.ledger.received == 20, 5, "20 events")
        await run.stop()
        await wait_until(lambda: proxy.total == run.client.counter.total, 5, "the proxy to see every byte")
    stats = run.client.stats
    assert (stats.sent, stats.received) == (proxy.upstream, proxy.downstream)
    assert sum(e.wire or 0 for e in run.events) == stats.wire  # every byte attributed to a row
    assert stats.messages == 20 and 0 < stats.payload < stats.wire


async def test_stream_end_reconnects_after_server_retry_with_last_event_id(lab_server):
    run = Run(url=url(lab_server))
    feed = lab_server.app[FEED]
    await wait_until(lambda: run.client.state == "open", 5, "open")
    for i in range(3):
        feed.publish("price", i)
    await wait_until(lambda: run.client.ledger.received == 3, 5, "3 events")
    assert end_streams(lab_server.app) == 1
    await wait_until(lambda: len(run.rows("open")) == 2, 5, "reconnected")
    reconnect = run.rows("reconnect")[0]
    assert reconnect.meta["delay_s"] == pytest.approx(0.04) and "server retry" in reconnect.meta["basis"]
    assert run.rows("request")[1].meta["headers"]["Last-Event-ID"] == "3"
    assert list(lab_server.app[SSE_RESUMES])[-1] == "3"
    feed.publish("likes", 4)
    await wait_until(lambda: run.client.ledger.received == 4, 5, "the live event")
    ledger = run.client.ledger
    assert (ledger.duplicated, ledger.episodes[0].lost, ledger.episodes[0].recovered) == (0, 0, True)
    await run.stop()


async def after_first_event(server: TestServer):
    """A client on the lab stream that has received seq 1; returns it and the feed."""
    run = Run(url=url(server))
    feed = server.app[FEED]
    await wait_until(lambda: run.client.connected, 5, "open")
    feed.publish("price", 1)
    await wait_until(lambda: run.client.ledger.received == 1, 5, "event 1")
    return run, feed


async def test_drop_mid_stream_replays_what_was_missed(lab_server):
    run, feed = await after_first_event(lab_server)
    assert run.client.drop()
    for i in range(2, 6):  # published while the client is away
        feed.publish("price", i)
    await wait_until(lambda: run.client.ledger.received == 5, 5, "replayed events")
    ep = run.client.ledger.episodes[0]
    assert (ep.last_before, ep.first_after, ep.lost, ep.duplicated, ep.recovered) == (1, 2, 0, 0, True)
    assert "connection lost" in run.rows("close")[0].data
    await run.stop()


async def test_gap_when_history_no_longer_holds_the_id(lab_server):
    run, feed = await after_first_event(lab_server)
    assert run.client.drop()
    feed.publish("price", 2)
    feed.evict()  # seq 2 is gone for good
    feed.publish("price", 3)
    led = run.client.ledger
    await wait_until(lambda: led.episodes and led.episodes[0].recovered and led.received == 2, 5, "recovery")
    gap = run.rows("gap")[0]
    assert (gap.meta["after"], gap.meta["first_available"], gap.meta["missing"]) == (1, 3, 1)
    assert "1 messages lost" in gap.meta["sentence"]
    assert (led.lost, led.gap_declared, led.duplicated) == (1, 1, 0)
    await run.stop()


async def test_retry_is_kept_across_reconnects_when_not_resent(serve):
    calls = []

    async def handler(request):
        calls.append(request.headers.get("Last-Event-ID"))
        first = len(calls) == 1
        return await stream(request, (b"retry: 30\n" if first else b"") + f"id: {len(calls)}\ndata: x\n\n".encode())

    base = await serve(web.get("/s", handler))
    run = Run(url=base + "/s", default_retry_ms=5000)
    await wait_until(lambda: len(calls) >= 3 and len(run.rows("reconnect")) >= 2, 5, "two reconnects")
    assert [r.meta["delay_s"] for r in run.rows("reconnect")[:2]] == [0.03, 0.03]
    assert calls[:3] == [None, "1", "2"]
    await run.stop()


async def test_events_of_one_read_say_their_wire_bytes_are_a_share(serve):
    """Three events written at once arrive in one read: each row's wire is a share of the read, marked as
    such with the read's total; an event alone in its read has exact wire bytes and no mark."""
    go = asyncio.Event()

    async def handler(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        await resp.write(b"id: 1\ndata: a\n\nid: 2\ndata: bb\n\n: note\n\n")
        await go.wait()
        await resp.write(b"id: 3\ndata: ccc\n\n")
        await asyncio.Event().wait()

    base = await serve(web.get("/s", handler))
    run = Run(url=base + "/s")
    await wait_until(lambda: len(messages(run)) == 2, 5, "the first read")
    go.set()
    await wait_until(lambda: len(messages(run)) == 3, 5, "the second read")
    first_read = [e for e in run.events if e.direction == "in" and e.kind in ("message", "comment")][:3]
    totals = {e.meta.get("wire_read") for e in first_read}
    assert len(totals) == 1 and None not in totals
    assert sum(e.wire for e in first_read) == totals.pop()
    assert "wire_read" not in messages(run)[2].meta
    await run.stop()


# -- how a stream can stop ------------------------------------------------------------------------
async def test_204_stops_reconnecting_for_good(serve):
    hits = []

    async def handler(request):
        hits.append(1)
        return web.Response(status=204)

    base = await serve(web.get("/s", handler))
    run = Run(url=base + "/s")
    err = await run.result()
    assert isinstance(err, ServerStopped) and "204" in err.sentence
    assert len(hits) == 1 and run.client.state == "closed" and not run.rows("reconnect")
    assert "204" in run.rows("close")[0].data


@pytest.mark.parametrize("status", [404, 500, 503])
async def test_other_status_fails_without_retrying(serve, status):
    hits = []

    async def handler(request):
        hits.append(1)
        return web.Response(status=status, text="<html>nope</html>", content_type="text/html")

    base = await serve(web.get("/s", handler))
    run = Run(url=base + "/s")
    err = await run.result()
    assert isinstance(err, BadStatus) and err.fatal and err.status == status
    assert f"HTTP {status}" in err.sentence and "nope" in err.sentence
    assert len(hits) == 1 and run.client.state == "failed"
    assert run.rows("error")[0].data == err.sentence


@pytest.mark.parametrize("ctype,ok", [("text/event-stream; charset=utf-8", True), ("Text/Event-Stream", True),
                                      ("text/plain", False), ("application/json", False)])
async def test_content_type_must_be_event_stream(serve, ctype, ok):
    async def handler(request):
        return await stream(request, b"data: x\n\n", {"Content-Type": ctype}, hold=True)

    base = await serve(web.get("/s", handler))
    run = Run(url=base + "/s")
    if ok:
        await wait_until(lambda: messages(run), 5, "an event")
        await run.stop()
    else:
        err = await run.result()
        assert isinstance(err, WrongResponse) and ctype in err.sentence


async def test_redirects_are_followed(serve):
    async def old(request):
        raise web.HTTPFound("/new")

    async def new(request):
        return await stream(request, b"data: moved\n\n", hold=True)

    base = await serve(web.get("/old", old), web.get("/new", new))
    run = Run(url=base + "/old")
    await wait_until(lambda: messages(run), 5, "an event")
    response = run.rows("response")[0]
    assert response.meta["redirects"] == ["302 → /new"] and response.meta["url"].endswith("/new")
    await run.stop()


async def test_extra_headers_reach_the_server(serve):
    seen = {}

    async def handler(request):
        seen.update(request.headers)
        return await stream(request, b"data: x\n\n", hold=True)

    base = await serve(web.get("/s", handler))
    run = Run(url=base + "/s", headers=[("Authorization", "Bearer t0k")])
    await wait_until(lambda: messages(run), 5, "an event")
    assert seen["Authorization"] == "Bearer t0k" and seen["Accept"] == "text/event-stream"
    await run.stop()


# -- long and large streams ---------------------------------------------------------------------------
def test_streams_have_no_total_timeout():
    t = stream_timeout(10.0)
    assert t.total is None and t.sock_read is None and t.sock_connect == 10.0


async def test_lines_over_aiohttps_512_kib_readline_limit(serve):
    big = "z" * (700 * 1024)

    async def handler(request):
        return await stream(request, f"data: {big}\n\n".encode(), hold=True)

    base = await serve(web.get("/s", handler))
    run = Run(url=base + "/s")
    await wait_until(lambda: messages(run), 10, "the big event")
    assert messages(run)[0].data == big
    await run.stop()


async def test_event_over_the_limit_is_a_clear_fatal_error(serve):
    async def handler(request):
        return await stream(request, b"data: " + b"q" * 5000 + b"\n\n", hold=True)

    base = await serve(web.get("/s", handler))
    run = Run(url=base + "/s", max_event_size=1024)
    err = await run.result()
    assert isinstance(err, MessageTooBig) and "1 KiB" in err.sentence
    assert not run.rows("reconnect")


# -- response checks ------------------------------------------------------------------------------------
async def test_warns_on_missing_no_cache_and_compression_without_failing(serve):
    async def handler(request):
        body = gzip.compress(b"data: squeezed\n\n")
        return await stream(request, body, {"Cache-Control": "max-age=60", "Content-Encoding": "gzip"})

    base = await serve(web.get("/s", handler))
    run = Run(url=base + "/s")
    await wait_until(lambda: messages(run), 5, "an event")
    checks = {e.meta["check"] for e in run.rows("warning")}
    assert checks == {"cache-control", "compression"} and messages(run)[0].data == "squeezed"
    await run.stop()


async def test_warns_on_a_burst_that_suggests_buffering(serve):
    async def handler(request):
        return await stream(request, b"".join(b"data: %d\n\n" % i for i in range(30)), hold=True)

    base = await serve(web.get("/s", handler))
    run = Run(url=base + "/s", burst_events=10, burst_silence=0.0)
    await wait_until(lambda: len(messages(run)) == 30, 5, "30 events")
    assert [e.meta["check"] for e in run.rows("warning")] == ["buffering"]
    await run.stop()


# -- when the server is not there ------------------------------------------------------------------------
async def test_refused_backs_off_and_gives_up_after_max_failures():
    port = free_port()
    run = Run(url=f"http://127.0.0.1:{port}/sse", default_retry_ms=10, max_failures=4)
    err = await run.result()
    assert isinstance(err, ConnectFailed) and "refused" in err.sentence and "Giving up after 4" in err.sentence
    delays = [r.meta["delay_s"] for r in run.rows("reconnect")]
    assert delays == [round(event_source_delay(0.01, n), 3) for n in (1, 2, 3)] and delays == sorted(delays)


async def test_idle_timeout_treats_a_silent_stream_as_dropped(serve):
    async def handler(request):
        return await stream(request, b": hello\n\n", hold=True)

    base = await serve(web.get("/s", handler))
    run = Run(url=base + "/s", idle_timeout=0.2)
    await wait_until(lambda: len(run.rows("open")) >= 2, 5, "a reconnect after silence")
    assert "no bytes for 0.2 s" in run.rows("close")[0].data
    await run.stop()


async def test_tls_to_a_plain_http_server_is_a_tls_failure(lab_server):
    run = Run(url=url(lab_server).replace("http://", "https://"))
    err = await run.result()
    assert isinstance(err, TLSFailure)


@pytest.mark.parametrize("bad", ["", "ws://127.0.0.1:1/sse", "ftp://x/y", "http://", "http://127.0.0.1:99999/"])
def test_invalid_urls_are_explained(bad):
    with pytest.raises(InvalidURL) as info:
        validate_url(bad)
    assert info.value.sentence.endswith(".")
