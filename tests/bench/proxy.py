"""The fault proxy's cost: lab messages per second through it as a byte pipe and with a ``message`` toxic
that reads every message (and acts on none: ``match`` never matches), against no proxy at all.

The proxy is the lab's own (made through ``/_admin/proxies``, living in the lab process, as users run it);
the lab publishes a burst of BURST messages and a bare client (websockets' ``recv()``, aiohttp's stream
for SSE) reads them through each path. Medians of ROUNDS bursts, alternating the paths round by round.
``python -m tests.bench.proxy`` prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import aiohttp
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.helpers import start_lab  # noqa: E402
from transport.clients.lab_admin import admin_call, post_fault  # noqa: E402

BURST = 20_000
ROUNDS = 5
TIMEOUT = 60.0
PATHS = ("direct", "byte pipe", "message toxic")


async def ws_burst(url: str, lab) -> float:
    async with connect(url, compression=None, max_size=1 << 20, proxy=None) as ws:
        await asyncio.wait_for(ws.recv(), 10)  # the live marker: connected
        t0 = time.perf_counter()
        await post_fault(lab.url, lab.token, {"action": "burst", "count": BURST})
        got = 0
        async with asyncio.timeout(TIMEOUT):
            while got < BURST:
                text = await ws.recv()
                got += text.startswith('{"seq"')
        return BURST / (time.perf_counter() - t0)


async def sse_burst(url: str, lab) -> float:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        await asyncio.wait_for(resp.content.readline(), 10)
        t0 = time.perf_counter()
        await post_fault(lab.url, lab.token, {"action": "burst", "count": BURST})
        got = 0
        async with asyncio.timeout(TIMEOUT):
            async for line in resp.content:
                if line.startswith(b'data: {"seq"'):
                    got += 1
                    if got >= BURST:
                        break
        return BURST / (time.perf_counter() - t0)


async def measure() -> dict[str, dict[str, float]]:
    lab = start_lab(rate=0)
    try:
        call = lambda method, path, body=None: admin_call(lab.url, lab.token, method, path, body)  # noqa: E731
        port = lab.url.rsplit(":", 1)[1]
        addresses = {}
        for name, toxic in (("pipe", None), ("messages", {"type": "message", "name": "read_all",
                                                           "attributes": {"action": "drop", "match": "^NEVER$"}})):
            status, answer = await call("POST", "/proxies", {"name": name, "upstream": f"127.0.0.1:{port}"})
            assert status == 201, answer
            if toxic:
                await call("POST", f"/proxies/{name}/toxics", toxic)
            addresses[name] = answer["listen"]
        bases = {"direct": f"127.0.0.1:{port}", "byte pipe": addresses["pipe"], "message toxic": addresses["messages"]}
        out: dict[str, dict[str, float]] = {}
        for kind, burst, path in (("ws", ws_burst, "/ws"), ("sse", sse_burst, "/sse")):
            rates: dict[str, list[float]] = {p: [] for p in PATHS}
            for _ in range(ROUNDS):
                for p in PATHS:
                    scheme = "ws" if kind == "ws" else "http"
                    rates[p].append(await burst(f"{scheme}://{bases[p]}{path}", lab))
            out[kind] = {p: statistics.median(r) for p, r in rates.items()}
        return out
    finally:
        lab.stop()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure())))
