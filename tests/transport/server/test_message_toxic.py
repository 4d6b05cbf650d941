"""The message toxic through real clients: what the proxy says it did is what each feed transport's ledger
proves — drops lost (named), duplicates duplicated, reorders reordered, corruptions noticed — and a
resume after a reconnect does not bring back what went missing on a live connection."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.helpers import in_process_lab, wait_until
from transport.clients.registry import FEED_TRANSPORTS, TRANSPORTS
from transport.core.backoff import Policy
from transport.server.config import ServerConfig
from transport.server.faultproxy import Proxy, Toxic, ToxicError

RATE = 100  # msg/s: 100 messages a second, so each case takes about a second of feed

pytestmark = pytest.mark.xdist_group("message_toxic")


@pytest.fixture
async def feed_lab():
    async with in_process_lab(ServerConfig(rate=RATE)) as server:
        yield server


def message(**attributes: object) -> Toxic:
    return Toxic.from_json({"type": "message", "name": "m", "attributes": attributes})


async def through(lab: TestServer, transport: str, toxic: Toxic):
    """A proxy with ``toxic`` in front of the lab and a client of ``transport`` through it (running)."""
    proxy = Proxy("p", "127.0.0.1:0", f"127.0.0.1:{lab.port}")
    proxy.add_toxic(toxic)
    await proxy.set_enabled(True)
    events: list = []
    info = TRANSPORTS[transport]
    base = f"http://127.0.0.1:{proxy.port}"
    url = base if transport == "socketio" else info.lab_url(base)
    client = info.make(url, events.append, policy=Policy("fixed", 0.1), interval=0.05)
    run = asyncio.ensure_future(client.run())
    return proxy, client, run, events


async def finish(proxy: Proxy, client, run) -> None:
    await client.close()
    await asyncio.wait_for(run, 10)
    await proxy.close()


def marked(proxy: Proxy, verb: str) -> list[tuple[int, str]]:
    out = []
    for e in proxy.events:
        m = re.match(rf"proxy {verb} message seq (\d+)", e["text"])
        if m:
            out.append((int(m.group(1)), e["text"]))
    return out


@pytest.mark.parametrize("transport", FEED_TRANSPORTS)
async def test_dropped_messages_are_the_ledgers_lost_ones(feed_lab, transport):
    toxic = message(action="drop", every=10, count=5)
    proxy, client, run, _ = await through(feed_lab, transport, toxic)
    led = client.ledger
    try:
        await wait_until(lambda: toxic.applied == 5, 20, "five drops",
                         lambda: (toxic.applied, led.counts(), list(proxy.events)[-3:]))
        dropped = marked(proxy, "dropped")
        await wait_until(lambda: led.high is not None and led.high > max(s for s, _ in dropped) + 5, 10,
                         "messages after the last drop", lambda: led.counts())
    finally:
        await finish(proxy, client, run)
    assert len(dropped) == 5
    refetched = {s for s, text in dropped if "fetches it again" in text}
    holes = {s for s, _ in dropped} - refetched
    # a poll asks after the last item it got: a dropped last item comes again, one from the middle never
    assert refetched == set() or transport in ("short_poll", "long_poll")
    assert set(led.lost_seqs()) == holes and led.lost == len(holes), (dropped, led.counts())
    assert led.duplicated == 0
    if holes:
        assert led.lost_live == len(holes) and "on a live connection" in led.verdict()
        assert f"lost seq {min(holes)}" in led.verdict()


async def test_a_resume_does_not_fill_what_was_dropped_on_a_live_connection(feed_lab):
    toxic = message(action="drop", every=10, count=3)
    proxy, client, run, _ = await through(feed_lab, "websocket", toxic)
    led = client.ledger
    try:
        await wait_until(lambda: toxic.applied == 3 and led.high > max(s for s, _ in marked(proxy, "dropped")),
                         20, "three drops", lambda: led.counts())
        assert client.drop()
        high = led.high
        await wait_until(lambda: led.episodes and led.episodes[-1].recovered and led.high > high + 10, 20,
                         "the reconnect and its resume", lambda: led.counts())
    finally:
        await finish(proxy, client, run)
    assert led.lost == 3 and led.episodes[-1].lost == 0
    assert "stay lost" in led.verdict()


@pytest.mark.parametrize("transport", ["websocket", "sse", "stream", "short_poll", "socketio"])
async def test_duplicated_messages_are_the_ledgers_duplicates(feed_lab, transport):
    toxic = message(action="duplicate", every=7, count=4)
    proxy, client, run, _ = await through(feed_lab, transport, toxic)
    led = client.ledger
    try:
        await wait_until(lambda: toxic.applied == 4 and led.duplicated == 4, 20, "four duplicates",
                         lambda: (toxic.applied, led.counts()))
    finally:
        await finish(proxy, client, run)
    assert led.lost == 0 and len(marked(proxy, "duplicated")) == 4


@pytest.mark.parametrize("transport", ["websocket", "sse", "stream"])
async def test_a_message_held_back_arrives_after_the_next_one(feed_lab, transport):
    toxic = message(action="reorder", every=5, count=3)
    proxy, client, run, _ = await through(feed_lab, transport, toxic)
    led = client.ledger
    try:
        await wait_until(lambda: toxic.applied == 3 and led.reordered == 3, 20, "three reorders",
                         lambda: (toxic.applied, led.counts()))
    finally:
        await finish(proxy, client, run)
    assert led.lost == 0 and led.duplicated == 0


async def test_a_delayed_message_holds_what_follows_it(feed_lab):
    toxic = message(action="delay", nth=20, delay=400)
    proxy, client, run, events = await through(feed_lab, "websocket", toxic)
    led = client.ledger
    try:
        await wait_until(lambda: toxic.applied == 1 and led.received >= 40, 20, "the delay",
                         lambda: led.counts())
    finally:
        await finish(proxy, client, run)
    times = [e.t for e in events if e.direction == "in" and e.seq is not None]
    gaps = [(b - a) / 1e9 for a, b in zip(times, times[1:])]
    assert max(gaps) >= 0.35 and led.lost == 0 and led.reordered == 0


async def test_match_picks_the_messages_and_counts_only_them(feed_lab):
    toxic = message(action="drop", match=r'"seq":\d*3,', count=2)  # seqs ending in 3
    proxy, client, run, _ = await through(feed_lab, "websocket", toxic)
    led = client.ledger
    try:
        await wait_until(lambda: toxic.applied == 2 and led.high > max(s for s, _ in marked(proxy, "dropped")),
                         20, "two drops", lambda: led.counts())
    finally:
        await finish(proxy, client, run)
    assert all(s % 10 == 3 for s in led.lost_seqs()) and led.lost == 2


async def test_corrupted_websocket_text_fails_the_connection_with_1007(feed_lab):
    toxic = message(action="corrupt", nth=5, count=1)
    proxy, client, run, events = await through(feed_lab, "websocket", toxic)
    try:
        await wait_until(lambda: any(e.kind == "close" for e in events), 20, "the client to fail",
                         lambda: [e.data for e in events][-3:])
    finally:
        await finish(proxy, client, run)
    close = next(e for e in events if e.kind == "close")
    assert close.meta["code"] == 1007, close
    assert "invalid UTF-8" in proxy.events[-1]["text"]


@pytest.mark.parametrize("transport", ["sse", "stream"])
async def test_corrupted_json_is_a_row_that_says_so(feed_lab, transport):
    toxic = message(action="corrupt", nth=5, count=1)
    proxy, client, run, events = await through(feed_lab, transport, toxic)
    try:
        await wait_until(lambda: any("not JSON" in str(e.data) for e in events), 20, "a row saying not JSON",
                         lambda: [e.data for e in events][-3:])
    finally:
        await finish(proxy, client, run)
    assert "broken JSON" in next(e["text"] for e in proxy.events if "corrupted" in e["text"])


async def test_the_upgrade_loses_its_extensions_under_a_message_toxic(feed_lab):
    proxy = Proxy("p", "127.0.0.1:0", f"127.0.0.1:{feed_lab.port}")
    proxy.add_toxic(message(action="drop", nth=1000))
    await proxy.set_enabled(True)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"http://127.0.0.1:{proxy.port}/ws", compress=15) as ws:
                assert ws.compress == 0  # the server was never offered compression
                await ws.receive(timeout=5)
    finally:
        await proxy.close()
    assert any("removed Sec-WebSocket-Extensions" in e["text"] for e in proxy.events)


@pytest.mark.parametrize("body, reason", [
    ({"type": "nope"}, "unknown toxic type 'nope'; one of latency"),
    ({"type": "message", "attributes": {"match": "("}}, "match is not a regular expression"),
    ({"type": "message", "attributes": {"every": 0}}, "every must be 1 or more"),
    ({"type": "message", "attributes": {"every": -2}}, "every must be a finite number from 0"),
    ({"type": "message", "attributes": {"every": 2, "nth": 3}}, "not both"),
    ({"type": "message", "attributes": {"action": "explode"}}, "action must be one of drop"),
    ({"type": "message", "attributes": {"action": "delay"}}, "needs delay"),
    ({"type": "message", "attributes": {"count": 1.5}}, "count must be a whole number"),
])
def test_bad_message_toxics_are_refused_with_the_reason(body, reason):
    with pytest.raises(ToxicError, match=re.escape(reason)):
        Toxic.from_json(body)


async def test_toxics_that_read_traffic_refuse_a_tls_upstream():
    proxy = Proxy("p", "127.0.0.1:0", "https://example.com")
    assert proxy.upstream == "example.com:443"
    with pytest.raises(ToxicError, match="needs a plaintext upstream"):
        proxy.add_toxic(message(action="drop"))
    proxy.add_toxic(Toxic.from_json({"type": "latency", "attributes": {"latency": 10}}))  # bytes: fine


async def test_upstream_drops_the_clients_own_masked_messages(feed_lab):
    """The client's side: masked frames unmasked to be counted, every 2nd of ten sends never reaches the lab."""
    proxy = Proxy("p", "127.0.0.1:0", f"127.0.0.1:{feed_lab.port}")
    toxic = Toxic.from_json({"type": "message", "stream": "upstream", "attributes": {"action": "drop", "every": 2}})
    proxy.add_toxic(toxic)
    await proxy.set_enabled(True)
    seen: list[str] = []
    try:
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"http://127.0.0.1:{feed_lab.port}/ws") as watch, \
                    http.ws_connect(f"http://127.0.0.1:{proxy.port}/ws") as ws:
                for i in range(10):
                    await ws.send_str(f'{{"topic": "mine", "body": {{"n": {i}}}}}')

                async def read() -> None:
                    for _ in range(100_000):  # the feed at 100 msg/s: bounded
                        msg = await watch.receive(timeout=10)
                        if '"topic":"mine"' in msg.data:
                            seen.append(msg.data)
                            if '"n":8' in msg.data:
                                return
                await asyncio.wait_for(read(), 10)
                await wait_until(lambda: toxic.applied == 5, 5, "the tenth send dropped", lambda: toxic.applied)
    finally:
        await proxy.close()
    assert [int(s.split('"n":')[1].split("}")[0]) for s in seen] == [0, 2, 4, 6, 8]
    assert toxic.applied == 5
