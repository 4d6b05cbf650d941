"""The real lab process and the polling-family clients: drops, stream ends, restarts lose nothing."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import start_lab, wait_until
from transport.core.backoff import Policy
from transport.clients.feed_http import FeedOptions
from transport.clients.polling import LongPollClient, ShortPollClient
from transport.clients.stream import StreamClient
from transport.clients.lab_admin import post_fault

PATHS = {"short_poll": "/api/poll", "long_poll": "/api/longpoll", "stream": "/api/stream"}


@pytest.mark.parametrize("transport", list(PATHS))
async def test_drops_ends_and_restarts_give_0_lost_0_duplicated(transport):
    lab = start_lab("--sse-heartbeat", "0.5", rate=100)
    events: list = []
    options = FeedOptions(lab.url + PATHS[transport], policy=Policy("fixed", 0.1), interval=0.1, hold=10)
    client = (StreamClient(options, events.append) if transport == "stream"
              else (LongPollClient if transport == "long_poll" else ShortPollClient)(options, events.append))
    run = asyncio.ensure_future(client.run())
    led = client.ledger
    try:
        def idle_drops() -> int:  # a short poll dropped between polls: a row, not a loss episode
            return sum(1 for e in events if e.kind == "fault" and e.meta.get("in_flight") is False)

        async def cut(fault) -> None:
            target = led.received + 20
            before, idle = len(led.episodes), idle_drops()
            await wait_until(lambda: led.received >= target and client.connected, 15, "messages before the fault")
            await fault()
            await wait_until(lambda: len(led.episodes) > before or idle_drops() > idle, 10, "the cut")

        async def drop() -> None:
            assert client.drop()

        for _ in range(2):
            await cut(drop)
        await cut(lambda: post_fault(lab.url, lab.token, {"action": "restart", "down_s": 0.5}))
        target = led.received + 20
        await wait_until(lambda: led.received >= target and led.episodes[-1].recovered, 20, "recovery")
        await client.close()
        assert await asyncio.wait_for(run, 10) is None
    finally:
        run.cancel()
        lab.stop()
    assert len(led.episodes) + idle_drops() >= 3
    assert all(ep.recovered and ep.lost == 0 and ep.duplicated == 0 for ep in led.episodes), led.summary()
    seqs = [e.seq for e in events if e.kind == "message"]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
