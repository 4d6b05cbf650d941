"""The real lab process, the real client: drops and restarts lose nothing."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from tests.helpers import start_lab, wait_until
from transport.core.backoff import Policy
from transport.clients.websocket import WebSocketClient, WebSocketOptions
from transport.clients.lab_admin import post_fault

DROPS = 3
RESTARTS = 2


@contextlib.asynccontextmanager
async def lab_and_client(reconnect_s: float):
    """A real lab process at 100 msg/s and a running client; closed and stopped after."""
    lab = start_lab(rate=100)
    events = []
    client = WebSocketClient(WebSocketOptions(lab.ws_url, policy=Policy("fixed", reconnect_s)), events.append)
    run = asyncio.ensure_future(client.run())
    try:
        yield lab, client, events
        await client.close()
        assert await asyncio.wait_for(run, 10) is None
    finally:
        run.cancel()
        lab.stop()


async def test_drops_and_restarts_give_0_lost_0_duplicated():
    async with lab_and_client(0.1) as (lab, client, events):
        led = client.ledger
        for i in range(DROPS):
            target = led.received + 20
            await wait_until(lambda: led.received >= target, 10, "messages before drop")
            assert client.drop()
        for i in range(RESTARTS):
            target = led.received + 20
            await wait_until(lambda: led.received >= target and client.connected, 15, "messages before restart")
            await post_fault(lab.url, lab.token, {"action": "restart", "down_s": 0.5})
            await wait_until(lambda: not client.connected, 10, "the restart to cut us off")
        target = led.received + 20
        await wait_until(lambda: led.received >= target and led.episodes[-1].recovered, 20, "recovery")
    assert len(led.episodes) == DROPS + RESTARTS
    assert all(ep.recovered and ep.lost == 0 and ep.duplicated == 0 for ep in led.episodes)
    assert led.lost == 0 and led.duplicated == 0 and led.verdict() == "0 lost, 0 duplicated"
    # the server went on publishing while we were away: replay brought them back
    assert sum(ep.replayed for ep in led.episodes) > 0
    seqs = [e.seq for e in events if e.direction == "in" and e.seq is not None]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    closes = [e.meta["code"] for e in events if e.kind == "close"]
    assert closes.count(1006) == DROPS and closes.count(1012) == RESTARTS


async def test_resume_point_out_of_history_is_a_declared_gap():
    # a slow reconnect, so the eviction surely lands while the client is away
    async with lab_and_client(1.5) as (lab, client, events):
        led = client.ledger
        await wait_until(lambda: led.received >= 10, 10, "first messages")
        await post_fault(lab.url, lab.token, {"action": "close_websockets", "code": 1012, "reason": "x"})
        await wait_until(lambda: not client.connected, 5, "the close")
        # let the feed run on while we are away, then forget it: those messages are gone
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                async with http.get(lab.url + "/") as resp:
                    if (await resp.json())["last_seq"] > led.high + 5:
                        break
        await post_fault(lab.url, lab.token, {"action": "evict_history"})
        try:
            await wait_until(lambda: led.episodes and led.episodes[-1].recovered and led.lost > 0, 10, "the gap")
        except AssertionError:
            raise AssertionError(f"{led.summary()} {[str(e) for e in events if e.direction != 'in']}")
    gaps = [e for e in events if e.kind == "gap"]
    assert len(gaps) == 1 and "messages lost" in gaps[0].meta["sentence"]
    assert led.gap_declared == led.lost > 0 and led.duplicated == 0
    assert "server-declared" in led.verdict()
