"""The second process of the fan-out bench: N WebSocket or SSE clients against the lab.

``python fanout_clients.py URL ws|sse N``: connects N clients (200 at a time),
prints ``{"connected": N, "connect_s": S}``; then for every line ``go`` on
stdin waits until each client has received one feed message and prints
``{"received": K, "latencies_ms": [...], "cpu_ms": C}`` (receive time − the
message's ts, one clock on one machine; C: this process's CPU time while it
waited, so the bench can tell whether the fleet, not the lab, was the limit).
Ends at stdin EOF. Bounded: 60 s per step.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp

STEP_S = 60.0
TS = b'"ts":'


def ts_of(data: bytes) -> int | None:
    i = data.find(TS)
    if i < 0:
        return None
    j = i + len(TS)
    k = j
    while k < len(data) and 48 <= data[k] <= 57:
        k += 1
    return int(data[j:k]) if k > j else None


class Fleet:
    def __init__(self, url: str, kind: str, n: int) -> None:
        self.url, self.kind, self.n = url, kind, n
        self.latencies: list[float] = []
        self.pending = 0
        self.done = asyncio.Event()
        self.ready = 0
        self.all_ready = asyncio.Event()

    def got(self, data: bytes) -> None:
        ts = ts_of(data)
        if ts is not None and self.pending:
            self.latencies.append((time.monotonic_ns() - ts) / 1e6)
            self.pending -= 1
            if not self.pending:
                self.done.set()

    async def one(self, session: aiohttp.ClientSession, gate: asyncio.Semaphore) -> None:
        async with gate:
            if self.kind == "ws":
                ws = await session.ws_connect(self.url, compress=0, autoping=True, max_msg_size=1 << 20)
                await ws.receive()  # the live marker
            else:
                resp = await session.get(self.url, headers={"Accept": "text/event-stream"})
                await resp.content.readany()  # the retry field
        self.ready += 1
        if self.ready == self.n:
            self.all_ready.set()
        if self.kind == "ws":
            async for msg in ws:
                self.got(msg.data.encode() if isinstance(msg.data, str) else msg.data)
        else:
            async for chunk in resp.content.iter_any():
                self.got(chunk)


async def main() -> None:
    url, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    fleet = Fleet(url, kind, n)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as session:
        gate = asyncio.Semaphore(200)
        t0 = time.perf_counter()
        tasks = [asyncio.ensure_future(fleet.one(session, gate)) for _ in range(n)]
        await asyncio.wait_for(fleet.all_ready.wait(), STEP_S)
        print(json.dumps({"connected": fleet.ready, "connect_s": time.perf_counter() - t0}), flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while (await reader.readline()).strip() == b"go":
            fleet.latencies, fleet.pending = [], n
            fleet.done.clear()
            print(json.dumps({"armed": True}), flush=True)
            cpu0 = time.process_time()
            try:
                await asyncio.wait_for(fleet.done.wait(), STEP_S)
            except TimeoutError:
                pass
            print(json.dumps({"received": len(fleet.latencies), "latencies_ms": fleet.latencies,
                              "cpu_ms": (time.process_time() - cpu0) * 1000}), flush=True)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main())
