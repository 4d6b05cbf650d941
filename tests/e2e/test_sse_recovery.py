"""The real lab process, Duplex's SSE client: drops, stream ends and restarts lose nothing."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.helpers import start_lab, wait_until
from transport.clients.sse import SSEClient, SSEOptions
from transport.clients.lab_admin import post_fault

DROPS = 3
ENDS = 2
RESTARTS = 2


async def server_state(url: str) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/") as resp:
            return await resp.json()


async def test_drops_stream_ends_and_restarts_give_0_lost_0_duplicated():
    lab = start_lab("--sse-retry", "100", "--sse-heartbeat", "0.5", rate=100)
    events: list = []
    client = SSEClient(SSEOptions(lab.url + "/sse"), events.append)
    run = asyncio.ensure_future(client.run())
    led = client.ledger
    sent_ids: list[tuple[int, str]] = []  # (events so far, the client's last event id) at each cut
    try:
        async def cut(fault) -> None:
            target = led.received + 20
            await wait_until(lambda: led.received >= target and client.connected, 15, "messages before the fault")
            await fault()
            sent_ids.append((len(events), client.parser.last_event_id))
            await wait_until(lambda: not client.connected or len(led.episodes) > len(sent_ids) - 1, 10, "the cut")

        for _ in range(DROPS):
            async def drop() -> None:
                assert client.drop()
            await cut(drop)
        for _ in range(ENDS):
            await cut(lambda: post_fault(lab.url, lab.token, {"action": "end_streams"}))
        for _ in range(RESTARTS):
            await cut(lambda: post_fault(lab.url, lab.token, {"action": "restart", "down_s": 0.5}))
        target = led.received + 20
        await wait_until(lambda: led.received >= target and len(led.episodes) == DROPS + ENDS + RESTARTS
                         and led.episodes[-1].recovered, 20, "recovery")
        state = await server_state(lab.url)
        await client.close()
        assert await asyncio.wait_for(run, 10) is None
    finally:
        run.cancel()
        lab.stop()
    assert all(ep.recovered and ep.lost == 0 and ep.duplicated == 0 for ep in led.episodes), led.summary()
    assert led.lost == 0 and led.duplicated == 0 and led.verdict() == "0 lost, 0 duplicated"
    assert sum(ep.replayed for ep in led.episodes) > 0
    seqs = [e.seq for e in events if e.kind == "message" and e.seq is not None]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    # server side: each reconnect carried Last-Event-ID; the server saw every one of them
    received = [x for x in state["sse"]["last_event_ids"] if x is not None]
    requests = [e.meta["last_event_id"] for e in events if e.kind == "request" and e.meta["last_event_id"]]
    # (refused attempts during a restart never reached it, so: in order, a subsequence)
    it = iter(requests)
    assert len(received) >= DROPS + ENDS + RESTARTS and all(x in it for x in received)
    # …and after each cut it resumed from at least the id held at the cut (bytes already
    # buffered before a TCP abort may still be read, so it can be a little later)
    for at, held in sent_ids:
        resumed = next(e.meta["last_event_id"] for e in events[at:] if e.kind == "request")
        assert int(resumed) >= int(held) and resumed in received
    assert all(int(x) > 0 for x in received)
