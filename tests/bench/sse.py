"""SSE throughput: Duplex's client (parser, Event, ledger) against aiohttp-sse-client.

Both read the same bytes: a bench server in a child process
(``stream_server.py``) writes BURST lab-format events at once, so the client
is the bottleneck, not the server. The clock runs from the request to the
last dispatched event. Clients alternate round by round. Bounded: ROUNDS
rounds, STEP_TIMEOUT per step.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import time

import aiohttp
from aiohttp_sse_client.client import EventSource

from tests.helpers import ROOT, read_line, stop_child
from transport.clients.sse import SSEClient, SSEOptions

BURST = 20_000
ROUNDS = 16
STEP_TIMEOUT = 60.0


class PeerClient:
    name = "aiohttp-sse-client"

    async def read(self, url: str) -> float:
        got = 0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
            t0 = time.perf_counter()
            source = EventSource(url, session=session)
            await source.connect()
            try:
                async for _event in source:
                    got += 1
                    if got >= BURST:
                        break
                return time.perf_counter() - t0
            finally:
                await source.close()


class DuplexClient:
    name = "duplex"

    async def read(self, url: str) -> float:
        got = 0
        done = asyncio.Event()

        def sink(event) -> None:
            nonlocal got
            if event.kind == "message":
                got += 1
                if got >= BURST:
                    done.set()

        client = SSEClient(SSEOptions(url), sink)
        t0 = time.perf_counter()
        task = asyncio.ensure_future(client.run())
        try:
            await asyncio.wait_for(done.wait(), STEP_TIMEOUT)
            return time.perf_counter() - t0
        finally:
            await client.close()
            await asyncio.wait_for(task, STEP_TIMEOUT)


@contextlib.contextmanager
def stream_server():
    proc = subprocess.Popen([sys.executable, "-m", "tests.bench.stream_server"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        port = json.loads(read_line(proc.stdout, 15))["port"]
        yield f"http://127.0.0.1:{port}/sse?n={BURST}"
    finally:
        stop_child(proc)


async def measure() -> dict[str, float]:
    """Events per second for each client (median over its rounds)."""
    clients = [PeerClient(), DuplexClient()]
    rates: dict[str, list[float]] = {c.name: [] for c in clients}
    with stream_server() as url:
        for c in clients:  # warm-up: the server generates and caches the stream
            await asyncio.wait_for(c.read(url), STEP_TIMEOUT)
        for rnd in range(ROUNDS):
            c = clients[rnd % 2]
            rates[c.name].append(BURST / await asyncio.wait_for(c.read(url), STEP_TIMEOUT))
    return {name: statistics.median(r) for name, r in rates.items()}
