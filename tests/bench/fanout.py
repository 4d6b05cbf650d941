"""The lab server's fan-out: 1 000 and 10 000 WebSocket and SSE clients from a fleet of processes.

For each transport and size: the time to connect them all, the lab's
resident memory per connection (``/_admin/stats`` before and after), the
delivery of a broadcast (one message published, received by every client:
p99 of receive − publish over 3 broadcasts, over every client: a client that
did not receive it — cut as a slow consumer, say — counts as never) and the
lab's CPU time for that broadcast (its writes to every connection; median of
3). Clients are plain aiohttp in FLEET processes of their own
(tests/bench/fanout_clients.py), so the lab is measured, not Duplex's client
stack. Each row says what limited the delivery: a fleet process that was busy
for most of the time until its last delivery was the limit (``fleet``), and
such a row cannot be a measure of the lab.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

from tests.helpers import read_line, start_lab, stop_child
from transport.core.percentile import percentile
from transport.clients.lab_admin import lab_stats, post_fault

SIZES = (1_000, 10_000)
BROADCASTS = 3
FLEET = 2  # client processes (this machine has two cores: the lab's and theirs)
BUSY = 0.8  # a fleet process busy for this share of the delivery time was the limit
CLIENTS = Path(__file__).with_name("fanout_clients.py")


def lines(proc: subprocess.Popen, timeout: float) -> dict:
    return json.loads(read_line(proc.stdout, timeout))


async def arm(fleet: list[subprocess.Popen]) -> None:
    """Every fleet process waits for the next broadcast (it said so)."""
    for p in fleet:
        p.stdin.write(b"go\n")
        p.stdin.flush()
    for p in fleet:
        await asyncio.to_thread(lines, p, 30)


async def one(kind: str, n: int) -> dict[str, object]:
    lab = start_lab("--sse-heartbeat", "600", rate=0)
    fleet: list[subprocess.Popen] = []
    try:
        before = await lab_stats(lab.url, lab.token)
        url = lab.url + ("/sse" if kind == "sse" else "/ws")
        shares = [n // FLEET + (1 if i < n % FLEET else 0) for i in range(FLEET)]
        fleet = [subprocess.Popen([sys.executable, str(CLIENTS), url, kind, str(k)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE) for k in shares]
        ready = [await asyncio.to_thread(lines, p, 120) for p in fleet]
        after = await lab_stats(lab.url, lab.token)
        latencies: list[float] = []
        cpu: list[float] = []
        limit = "lab"
        busiest = 0.0
        for _ in range(BROADCASTS):
            await arm(fleet)
            cpu0 = (await lab_stats(lab.url, lab.token))["cpu_s"]
            await post_fault(lab.url, lab.token, {"action": "burst", "count": 1, "topic": "fanout"})
            got = [await asyncio.to_thread(lines, p, 90) for p in fleet]
            cpu.append((await lab_stats(lab.url, lab.token))["cpu_s"] - cpu0)  # the two admin calls included
            for share, res in zip(shares, got):
                mine = res["latencies_ms"]
                latencies += mine + [math.inf] * (share - len(mine))  # never delivered: never
                if mine:
                    busy = res["cpu_ms"] / max(mine)
                    busiest = max(busiest, busy)
                    if busy >= BUSY:
                        limit = "fleet"
        ordered = sorted(latencies)
        return {"connect_s": max(r["connect_s"] for r in ready), "connected": sum(r["connected"] for r in ready),
                "bytes_per_conn": (after["rss_bytes"] - before["rss_bytes"]) / n,
                "p99_ms": percentile(ordered, 0.99), "p50_ms": percentile(ordered, 0.5),
                "undelivered": sum(1 for v in latencies if v == math.inf) / BROADCASTS,
                "write_ms": statistics.median(cpu) * 1000, "limit": limit, "fleet_busy": round(busiest, 2)}
    finally:
        for p in fleet:
            stop_child(p, 30)
        lab.stop()


async def measure() -> dict[tuple[str, int], dict[str, object]]:
    return {(kind, n): await one(kind, n) for kind in ("ws", "sse") for n in SIZES}


if __name__ == "__main__":
    print(json.dumps({f"{k} {n}": v for (k, n), v in asyncio.run(measure()).items()}, indent=1))
