"""One process of the fan-out bench's fleet: N WebSocket or SSE clients against the lab.

``python fanout_clients.py URL ws|sse N``: connects N clients (200 at a time),
prints ``{"connected": N, "connect_s": S}``; then for every line ``go`` on
stdin waits until each client has received one feed message and prints
``{"received": K, "latencies_ms": [...], "cpu_ms": C}`` (receive time − the
message's ts, one clock on one machine; C: this process's CPU time while it
waited, so the bench can tell whether the fleet, not the lab, was the limit).
Ends at stdin EOF. Bounded: 60 s per step.

The clients are bare asyncio protocols: an HTTP/1.1 request (a WebSocket
upgrade, or an SSE GET), then every read is searched for the envelope's
``"ts":``. They do as little as a client can, so the figures are the lab's.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time
from urllib.parse import urlsplit

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
    def __init__(self, n: int) -> None:
        self.n = n
        self.arrivals: list[int] = []
        self.ts: int | None = None
        self.pending = 0
        self.done = asyncio.Event()
        self.ready = 0
        self.all_ready = asyncio.Event()

    def got(self, data: bytes) -> None:
        """A read with the broadcast: its arrival time (every client gets the same message, so its ``ts``
        is read once, from the first read; the fleet does as little per client as it can)."""
        if self.pending and TS in data:
            if self.ts is None:
                self.ts = ts_of(data)
            self.arrivals.append(time.monotonic_ns())
            self.pending -= 1
            if not self.pending:
                self.done.set()

    def latencies(self) -> list[float]:
        ts = self.ts
        return [] if ts is None else [(t - ts) / 1e6 for t in self.arrivals]


class Client(asyncio.Protocol):
    """Reads the response head and the first item (the live marker, or the retry field), then counts.
    A WebSocket client answers the lab's pings (its heartbeat would close it otherwise)."""

    def __init__(self, fleet: Fleet, request: bytes, ws: bool) -> None:
        self.fleet, self.request, self.ws = fleet, request, ws
        self.head = b""
        self.live = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.live.done():
            self.live.set_exception(ConnectionError("closed before it was live"))

    def data_received(self, data: bytes) -> None:
        if self.live.done():
            if self.ws and data[0] == 0x89:  # a ping (small, a frame of its own): a masked pong
                n = data[1] & 0x7F
                self.transport.write(bytes((0x8A, 0x80 | n)) + b"\0\0\0\0" + data[2:2 + n])
                data = data[2 + n:]
                if not data:
                    return
            self.fleet.got(data)
            return
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end >= 0 and len(self.head) > end + 4:  # the head, and the first item after it
            self.live.set_result(None)
            self.fleet.ready += 1
            if self.fleet.ready == self.fleet.n:
                self.fleet.all_ready.set()


def request(url: str, kind: str) -> bytes:
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port}"
    if kind == "ws":
        key = base64.b64encode(os.urandom(16)).decode()
        return (f"GET {parts.path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
    return f"GET {parts.path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()


async def main() -> None:
    url, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    parts = urlsplit(url)
    fleet = Fleet(n)
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(200)
    transports: list[asyncio.BaseTransport] = []

    async def one() -> None:
        async with gate:  # held until this client is live: the lab is not asked for more handshakes at once
            t, client = await loop.create_connection(lambda: Client(fleet, request(url, kind), kind == "ws"),
                                                     parts.hostname, parts.port)
            transports.append(t)
            await client.live

    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(n))), STEP_S)
    await asyncio.wait_for(fleet.all_ready.wait(), STEP_S)
    print(json.dumps({"connected": fleet.ready, "connect_s": time.perf_counter() - t0}), flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while (await reader.readline()).strip() == b"go":
        fleet.arrivals, fleet.ts, fleet.pending = [], None, n
        fleet.done.clear()
        print(json.dumps({"armed": True}), flush=True)
        cpu0 = time.process_time()
        try:
            await asyncio.wait_for(fleet.done.wait(), STEP_S)
        except TimeoutError:
            pass
        cpu = (time.process_time() - cpu0) * 1000
        latencies = fleet.latencies()
        print(json.dumps({"received": len(latencies), "latencies_ms": latencies, "cpu_ms": cpu}), flush=True)
    for t in transports:
        t.close()


if __name__ == "__main__":
    asyncio.run(main())
