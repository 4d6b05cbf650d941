"""The lab as a cluster on this machine: ``python -m tests.bench.cluster``.

- **Broadcast capacity, 1 vs 2 workers**: the same fleet of CLIENTS WebSocket clients
  (tests/bench/fanout_clients.py, two processes) connects through HAProxy to a cluster of 1, then of 2
  workers (their feed on Redis); one message is published BROADCASTS times and the p99 of its delivery
  over every client is taken (a client that never got it counts as never), with the workers' CPU time per
  broadcast (all workers added up). Capacity is clients per p99 second.
- **The Redis hop**: one WebSocket client reads the feed at RATE msg/s for SECONDS from a one-process lab,
  and from a one-worker cluster's worker directly (its own port: no balancer), then through the balancer;
  the latency of each message (receive − the publisher's timestamp, one clock on one machine), p50 and p99.

Prints one JSON object. Every process is started and stopped here.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from tests.bench.fanout import CLIENTS, arm, lines
from tests.helpers import ROOT, read_line, start_lab, stop_child
from transport.core.percentile import percentile
from transport.clients.lab_admin import lab_stats, post_fault

N_CLIENTS = 4000
FLEET = 2
BROADCASTS = 5
RATE = 200
SECONDS = 5.0


class Cluster:
    def __init__(self, workers: int, rate: float = 0) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "transport.server", "--watch-parent", "--cluster",
                                      str(workers), "--rate", str(rate), "--log-level", "WARNING",
                                      "--sse-heartbeat", "600"], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self.info = json.loads(read_line(self.proc.stdout, 60))
        if self.info.get("event") != "listening":
            raise SystemExit(f"cluster did not start: {self.info}")
        self.url, self.token = self.info["url"], self.info["admin_token"]
        self.ports = [w["port"] for w in self.info["workers"]]

    async def cpu(self) -> float:
        return sum([(await lab_stats(f"http://127.0.0.1:{p}", self.token))["cpu_s"] for p in self.ports])

    def stop(self) -> None:
        stop_child(self.proc, 30)


async def broadcast(workers: int) -> dict:
    cluster = Cluster(workers)
    fleet: list[subprocess.Popen] = []
    try:
        shares = [N_CLIENTS // FLEET + (1 if i < N_CLIENTS % FLEET else 0) for i in range(FLEET)]
        fleet = [subprocess.Popen([sys.executable, str(CLIENTS), cluster.url + "/ws", "ws", str(k)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE) for k in shares]
        ready = [await asyncio.to_thread(lines, p, 180) for p in fleet]
        latencies: list[float] = []
        cpu: list[float] = []
        for _ in range(BROADCASTS):
            await arm(fleet)
            cpu0 = await cluster.cpu()
            await post_fault(cluster.url, cluster.token, {"action": "burst", "count": 1, "topic": "fanout"})
            got = [await asyncio.to_thread(lines, p, 90) for p in fleet]
            cpu.append(await cluster.cpu() - cpu0)
            for share, res in zip(shares, got):
                mine = res["latencies_ms"]
                latencies += mine + [math.inf] * (share - len(mine))
        ordered = sorted(latencies)
        p99 = percentile(ordered, 0.99)
        return {"workers": workers, "clients": sum(r["connected"] for r in ready), "p99_ms": p99,
                "p50_ms": percentile(ordered, 0.5), "cpu_ms_per_broadcast": statistics.median(cpu) * 1000,
                "undelivered": sum(1 for v in latencies if v == math.inf) / BROADCASTS,
                "clients_per_p99_s": N_CLIENTS / (p99 / 1000) if p99 and math.isfinite(p99) else 0.0}
    finally:
        for p in fleet:
            stop_child(p, 30)
        cluster.stop()


async def feed_latency(ws_url: str) -> dict:
    """One WebSocket client for SECONDS: each message's receive − ts (ms)."""
    got: list[float] = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url, max_msg_size=0) as ws:
            end = time.monotonic() + SECONDS
            while time.monotonic() < end:
                try:
                    msg = await ws.receive(timeout=max(0.01, end - time.monotonic()))
                except TimeoutError:
                    break
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                t = time.monotonic_ns()
                for line in (msg.data,):
                    obj = json.loads(line)
                    if isinstance(obj, dict) and isinstance(obj.get("ts"), int):
                        got.append((t - obj["ts"]) / 1e6)
    ordered = sorted(got)
    return {"messages": len(got), "p50_ms": percentile(ordered, 0.5), "p99_ms": percentile(ordered, 0.99)}


async def hop() -> dict:
    lab = start_lab(rate=RATE)
    try:
        single = await feed_latency(lab.url.replace("http", "ws") + "/ws")
    finally:
        lab.stop()
    cluster = Cluster(1, rate=RATE)
    try:
        direct = await feed_latency(f"ws://127.0.0.1:{cluster.ports[0]}/ws")
        balanced = await feed_latency(cluster.url.replace("http", "ws") + "/ws")
    finally:
        cluster.stop()
    return {"single": single, "redis": direct, "redis_haproxy": balanced}


async def main() -> dict:
    return {"broadcast": {str(w): await broadcast(w) for w in (1, 2)}, "hop": await hop()}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
