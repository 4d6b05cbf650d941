"""Every transport on the same lab feed: throughput and bytes on the wire per message,
and long-poll round trips against a bare aiohttp client doing the same requests.

One lab process; one client at a time. Overhead is measured at the lab's
ticker rate (RATE messages/s, WINDOW messages), throughput on a burst of
BURST messages. Bytes come from the clients' rows, whose ``wire`` adds up to
what the socket carried (HTTP clients count on the socket; WebSocket frames
are counted per frame). Everything bounded by STEP_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field

import aiohttp

from tests.helpers import start_lab
from transport.apps import compare
from transport.core.backoff import Policy
from transport.clients.feed_http import FeedOptions
from transport.clients.polling import LongPollClient
from transport.clients.lab_admin import post_fault

RATE = 20
WINDOW = 60  # messages per overhead measurement (3 s at RATE)
BURST = 5_000
RT_ROUNDS, RT_PER_ROUND = 10, 500  # alternating blocks, the median: this figure is noisy on 2 cores
STEP_TIMEOUT = 60.0
TRANSPORTS = ("websocket", "sse", "short_poll", "long_poll", "stream")


@dataclass
class Tally:
    """A sink that adds up wire bytes and payload, and wakes a waiter at a message count."""

    wire: int = 0
    payload: int = 0
    messages: int = 0
    _want: int = 0
    _reached: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, event) -> None:
        self.wire += event.wire or 0
        if event.kind == "message" and event.direction == "in":
            self.messages += 1
            self.payload += event.size
            if self.messages >= self._want:
                self._reached.set()

    async def reach(self, messages: int, what: str) -> None:
        """Until ``messages`` have arrived (exactly when the last one does), bounded by STEP_TIMEOUT."""
        self._want = messages
        self._reached.clear()
        if self.messages < messages:
            try:
                await asyncio.wait_for(self._reached.wait(), STEP_TIMEOUT)
            except asyncio.TimeoutError:
                raise TimeoutError(what) from None


def make_client(transport: str, base: str, sink):
    return compare.make_client(transport, base, sink, policy=Policy("fixed", 0.1), hold=25.0)


async def measure_transport(transport: str, lab) -> dict[str, float]:
    tally = Tally()
    client = make_client(transport, lab.url, tally)
    task = asyncio.ensure_future(client.run())
    try:
        await tally.reach(3, f"{transport}: first messages")
        start = Tally(tally.wire, tally.payload, tally.messages)
        await tally.reach(start.messages + WINDOW, f"{transport}: {WINDOW} messages")
        n = tally.messages - start.messages
        overhead = (tally.wire - start.wire - (tally.payload - start.payload)) / n
        wire = (tally.wire - start.wire) / n
        if transport == "short_poll":  # from now on, poll fast to drain the burst
            client.options.interval = 0.1
        before = tally.messages
        t0 = time.perf_counter()
        await post_fault(lab.url, lab.token, {"action": "burst", "count": BURST})
        await tally.reach(before + BURST, f"{transport}: burst")
        rate = (tally.messages - before) / (time.perf_counter() - t0)
    finally:
        await client.close()
        await asyncio.wait_for(task, STEP_TIMEOUT)
    return {"overhead": overhead, "wire": wire, "rate": rate}


async def duplex_round_trips(lab, after: int) -> float:
    """Long-poll round trips per second through Duplex's client (one message per answer)."""
    done = asyncio.Event()
    got = 0

    def sink(event) -> None:
        nonlocal got
        if event.kind == "message":
            got += 1
            if got >= RT_PER_ROUND:
                done.set()

    # the same URL the bare client asks (the lab is known from its first answer; until then the client
    # asks what the user gave, as it does of any server)
    client = LongPollClient(FeedOptions(f"{lab.url}/api/longpoll?after={after}&timeout=5&limit=1", hold=5, limit=1),
                            sink)
    t0 = time.perf_counter()
    task = asyncio.ensure_future(client.run())
    try:
        await asyncio.wait_for(done.wait(), STEP_TIMEOUT)
        return client.stats.responses / (time.perf_counter() - t0)
    finally:
        await client.close()
        await asyncio.wait_for(task, STEP_TIMEOUT)


async def bare_round_trips(lab, after: int) -> float:
    """The same requests with a bare aiohttp session: get, read, json.loads."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=STEP_TIMEOUT)) as session:
        t0 = time.perf_counter()
        for i in range(RT_PER_ROUND):
            async with session.get(f"{lab.url}/api/longpoll", params={"after": after + i, "timeout": 5,
                                                                      "limit": 1}) as resp:
                items = json.loads(await resp.read())
                assert items and items[0]["seq"] == after + i + 1
        return RT_PER_ROUND / (time.perf_counter() - t0)


async def measure() -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    lab = start_lab(rate=RATE)
    try:
        for transport in TRANSPORTS:
            out[transport] = await measure_transport(transport, lab)
    finally:
        lab.stop()
    lab = start_lab(rate=0)
    try:
        await post_fault(lab.url, lab.token, {"action": "burst", "count": RT_ROUNDS * RT_PER_ROUND * 2 + 10})
        rates: dict[str, list[float]] = {"duplex": [], "bare": []}
        after = 0
        for rnd in range(RT_ROUNDS):
            for name in (("duplex", "bare") if rnd % 2 == 0 else ("bare", "duplex")):
                fn = duplex_round_trips if name == "duplex" else bare_round_trips
                rates[name].append(await fn(lab, after))
                after += RT_PER_ROUND
        out["long_poll_rt"] = {"duplex": statistics.median(rates["duplex"]), "bare": statistics.median(rates["bare"])}
    finally:
        lab.stop()
    return out
