"""The lab server's fan-out: 1 000 and 10 000 WebSocket and SSE clients in a second process.

For each transport and size: the time to connect them all, the lab's
resident memory per connection (``/_admin/stats`` before and after), the
delivery of a broadcast (one message published, received by every client:
p99 of receive − publish over 3 broadcasts) and the lab's CPU time for that
broadcast (its writes to every connection; median of 3). Clients are plain aiohttp in
their own process (tests/bench/fanout_clients.py), so the lab is measured,
not Duplex's client stack; the client process's own time to read N
messages is part of the delivery figure.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
from pathlib import Path

from tests.helpers import read_line, start_lab, stop_child
from transport.compare import percentile
from transport.lab_admin import lab_stats, post_fault

SIZES = (1_000, 10_000)
BROADCASTS = 3
CLIENTS = Path(__file__).with_name("fanout_clients.py")


async def one(kind: str, n: int) -> dict[str, float]:
    lab = start_lab("--sse-heartbeat", "600", rate=0)
    proc = None
    try:
        before = await lab_stats(lab.url, lab.token)
        url = lab.url + ("/sse" if kind == "sse" else "/ws")
        proc = subprocess.Popen([sys.executable, str(CLIENTS), url, kind, str(n)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)
        ready = json.loads(await asyncio.to_thread(read_line, proc.stdout, 120))
        after = await lab_stats(lab.url, lab.token)
        latencies: list[float] = []
        cpu: list[float] = []
        for _ in range(BROADCASTS):
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            json.loads(await asyncio.to_thread(read_line, proc.stdout, 30))  # armed
            cpu0 = (await lab_stats(lab.url, lab.token))["cpu_s"]
            await post_fault(lab.url, lab.token, {"action": "burst", "count": 1, "topic": "fanout"})
            got = json.loads(await asyncio.to_thread(read_line, proc.stdout, 90))
            cpu.append((await lab_stats(lab.url, lab.token))["cpu_s"] - cpu0)  # the two admin calls included
            latencies += got["latencies_ms"]
        return {"connect_s": ready["connect_s"], "connected": ready["connected"],
                "bytes_per_conn": (after["rss_bytes"] - before["rss_bytes"]) / n,
                "p99_ms": percentile(sorted(latencies), 0.99), "p50_ms": percentile(sorted(latencies), 0.5),
                "delivered": len(latencies) / BROADCASTS, "write_ms": statistics.median(cpu) * 1000}
    finally:
        if proc is not None:
            stop_child(proc, 30)
        lab.stop()


async def measure() -> dict[tuple[str, int], dict[str, float]]:
    return {(kind, n): await one(kind, n) for kind in ("ws", "sse") for n in SIZES}
