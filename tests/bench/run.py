"""``make bench``: Duplex's clients against their baselines, measured in the same run.

WebSocket: Duplex's client against a bare websockets client. SSE: Duplex's
client against aiohttp-sse-client (tests/bench/sse.py). Both clients run in the same process, on the same event loop, against the same
lab server process, interleaved in blocks so machine noise hits both alike.
Figures are reported as ratios against the bare client measured in this run.
The lab's fan-out (tests/bench/fanout.py: 1 000 and 10 000 clients from a
second process), the timeline's ingest (tests/bench/ui_ingest.py), its
memory and filter with real rows (tests/bench/real_rows.py), each in child
processes, and the launch to the first live
message (``main.py --smoke``) follow. Where nothing in the run is a peer (a
lab's memory per connection, a launch), the baseline is named in the row.
Every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import connect  # noqa: E402

from tests.bench import fanout, sse, transports  # noqa: E402
from tests.helpers import start_lab, wait_until  # noqa: E402
from transport.backoff import Policy  # noqa: E402
from transport.clients.websocket import WebSocketClient, WebSocketOptions  # noqa: E402
from transport.lab_admin import post_fault  # noqa: E402

RTT_BLOCKS, RTT_PER_BLOCK = 10, 200
BURST = 20_000
BURST_ROUNDS = 3
STEP_TIMEOUT = 30.0
RESULTS = ROOT / "tests" / "bench" / "results" / "bench.json"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Bare:
    """The baseline: websockets' own client, doing the minimum (recv, no parsing)."""

    name = "bare websockets"

    async def open(self, url: str) -> None:
        self.ws = await connect(url, compression=None, max_size=16 << 20, proxy=None)
        await self.ws.recv()  # the live marker

    async def rtt(self) -> float:
        t0 = time.perf_counter()
        await self.ws.send("x")
        await self.ws.recv()
        return time.perf_counter() - t0

    async def burst(self, lab) -> float:
        await post_fault(lab.url, lab.token, {"action": "burst", "count": BURST})
        t0 = time.perf_counter()
        for _ in range(BURST):
            await self.ws.recv()
        return BURST / (time.perf_counter() - t0)

    async def close(self) -> None:
        await self.ws.close()


class Duplex:
    """Duplex's client: parses every envelope, stamps an Event, keeps the ledger."""

    name = "duplex"

    async def open(self, url: str) -> None:
        self.got = 0
        self.want = 0
        self.done = asyncio.Event()

        def sink(event) -> None:
            if event.direction == "in":
                self.got += 1
                if self.got >= self.want:
                    self.done.set()

        self.client = WebSocketClient(WebSocketOptions(url, policy=Policy("fixed", 0.1), resume=False), sink)
        self.task = asyncio.ensure_future(self.client.run())
        await wait_until(lambda: self.client.connected, STEP_TIMEOUT, "the duplex client to connect")

    async def _expect(self, n: int) -> None:
        self.want = self.got + n
        self.done.clear()
        await asyncio.wait_for(self.done.wait(), STEP_TIMEOUT)

    async def rtt(self) -> float:
        self.want = self.got + 1
        self.done.clear()
        t0 = time.perf_counter()
        await self.client.send_text("x")
        await asyncio.wait_for(self.done.wait(), STEP_TIMEOUT)
        return time.perf_counter() - t0

    async def burst(self, lab) -> float:
        self.want = self.got + BURST
        self.done.clear()
        await post_fault(lab.url, lab.token, {"action": "burst", "count": BURST})
        t0 = time.perf_counter()
        await asyncio.wait_for(self.done.wait(), STEP_TIMEOUT)
        return BURST / (time.perf_counter() - t0)

    async def close(self) -> None:
        await self.client.close()
        await asyncio.wait_for(self.task, STEP_TIMEOUT)


async def measure(lab) -> dict[str, dict[str, float]]:
    """Alternate the two clients block by block; only one is connected at a time,
    so neither receives the other's echoes."""
    clients = [Bare(), Duplex()]
    rtts: dict[str, list[float]] = {c.name: [] for c in clients}
    rates: dict[str, list[float]] = {c.name: [] for c in clients}
    for block in range(RTT_BLOCKS):
        for c in (clients if block % 2 == 0 else clients[::-1]):
            await asyncio.wait_for(c.open(lab.ws_url), STEP_TIMEOUT)
            try:
                for _ in range(20):  # warm-up
                    await asyncio.wait_for(c.rtt(), STEP_TIMEOUT)
                for _ in range(RTT_PER_BLOCK):
                    rtts[c.name].append(await asyncio.wait_for(c.rtt(), STEP_TIMEOUT))
                if block < BURST_ROUNDS:
                    rates[c.name].append(await c.burst(lab))
            finally:
                await c.close()
    out = {}
    for c in clients:
        ms = [r * 1000 for r in rtts[c.name]]
        out[c.name] = {"p50": statistics.median(ms), "p99": pct(ms, 99), "rate": statistics.median(rates[c.name])}
    return out


LAUNCHES = 3


def launch_times() -> dict[str, float]:
    """Median seconds from starting ``main.py --smoke`` to its first live message, and the same for the
    bare pieces without Qt: the lab process started and a websockets client's first message."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    gui = []
    for _ in range(LAUNCHES):
        res = subprocess.run([sys.executable, "main.py", "--smoke"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
        gui.append(json.loads(res.stdout.strip().splitlines()[-1])["first_message_s"])
    bare = []
    for _ in range(LAUNCHES):
        t0 = time.monotonic()
        lab = start_lab(rate=5)
        try:
            asyncio.run(_first_message(lab.ws_url))
            bare.append(time.monotonic() - t0)
        finally:
            lab.stop()
    return {"gui": statistics.median(gui), "bare": statistics.median(bare)}


async def _first_message(url: str) -> None:
    async with connect(url, compression=None, proxy=None) as ws:
        while '"seq"' not in await asyncio.wait_for(ws.recv(), STEP_TIMEOUT):
            pass


def child_bench(module: str) -> dict:
    """A UI bench run as ``python -m tests.bench.<module>`` (its own process, offscreen Qt): its JSON."""
    res = subprocess.run([sys.executable, "-m", f"tests.bench.{module}"], cwd=ROOT,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, capture_output=True, text=True,
                         timeout=900)
    return json.loads(res.stdout.strip().splitlines()[-1])


def row(name, value, unit, baseline, target, higher_is_better):
    """A result with its same-run baseline; ``target`` None: reported, not judged."""
    ratio = value / baseline if baseline else float("nan")
    met = None if target is None else ratio >= target if higher_is_better else ratio <= target
    return {"name": name, "value": round(value, 4), "unit": unit, "baseline": round(baseline, 4),
            "ratio": round(ratio, 3), "target": target, "met": met, "lower": not higher_is_better}


async def main() -> int:
    rows = []
    per_loop = {}
    for loop_name in ("uvloop", "asyncio"):
        lab = start_lab("--loop", loop_name, rate=0)
        try:
            per_loop[loop_name] = await measure(lab)
        finally:
            lab.stop()
    for loop_name, res in per_loop.items():
        bare, dup = res["bare websockets"], res["duplex"]
        tag = f"lab on {loop_name}"
        rows.append(row(f"ws RTT p50, duplex vs bare ({tag})", dup["p50"], "ms", bare["p50"], 1.15, False))
        rows.append(row(f"ws RTT p99, duplex vs bare ({tag})", dup["p99"], "ms", bare["p99"], 1.15, False))
        rows.append(row(f"ws throughput, duplex vs bare ({tag})", dup["rate"], "msg/s", bare["rate"], 0.9, True))
    per_transport = await transports.measure()
    ws = per_transport["websocket"]
    for name in transports.TRANSPORTS:
        res = per_transport[name]
        rows.append(row(f"{name}: wire bytes per message (vs websocket)", res["wire"], "B", ws["wire"], None, False))
        rows.append(row(f"{name}: overhead bytes per message (vs websocket)", res["overhead"], "B",
                        ws["overhead"], None, False))
        rows.append(row(f"{name}: messages per second, {transports.BURST} burst (vs websocket)", res["rate"],
                        "msg/s", ws["rate"], None, True))
    rt = per_transport["long_poll_rt"]
    rows.append(row("long-poll round trips, duplex vs bare aiohttp", rt["duplex"], "rt/s", rt["bare"], 0.8, True))
    sse_rates = await sse.measure()
    rows.append(row("sse throughput, duplex vs aiohttp-sse-client", sse_rates["duplex"], "events/s",
                    sse_rates["aiohttp-sse-client"], 1.5, True))
    fan = await fanout.measure()
    for (kind, n), res in fan.items():
        tag = f"{'WebSocket' if kind == 'ws' else 'SSE'} fan-out, {n:,} clients"
        rows.append(row(f"{tag}: memory per connection (baseline: the 16 KB target)",
                        res["bytes_per_conn"] / 1024, "KB", 16.0, 1.0, False))
        rows.append(row(f"{tag}: broadcast delivered to all, p99 (baseline: the 500 ms target)",
                        res["p99_ms"], "ms", 500.0, 1.0, False))
        rows.append(row(f"{tag}: lab CPU to write one broadcast (baseline: the 150 ms target)", res["write_ms"], "ms",
                        150.0, 1.0, False))
        small = fan[(kind, fanout.SIZES[0])]
        rows.append(row(f"{tag}: time to connect all (vs {fanout.SIZES[0]:,}, per client)", res["connect_s"] / n * 1e3,
                        "ms/client", small["connect_s"] / fanout.SIZES[0] * 1e3, None, False))
    ui = await asyncio.to_thread(child_bench, "ui_ingest")
    rows.append(row("UI ingest at event-loop lag p99 < 50 ms, batched (baseline: the 100 000 rows/s target)",
                    ui["ingest"], "rows/s", 100_000, 1.0, True))
    rows.append(row("UI ingest with 1 000 000 rows stored (vs empty)", ui["ingest_full"], "rows/s", ui["ingest"],
                    None, True))
    real = await asyncio.to_thread(child_bench, "real_rows")  # 1 000 000 rows, the median of 3 fresh runs
    rows.append(row("timeline memory, 1 000 000 real rows (a lab's feed through the WebSocket client, as the app "
                    "wires it; baseline: the 250 MB target)", real["bytes_per_row"] * 1_000_000 / 1e6, "MB", 250.0,
                    1.0, False))
    rows.append(row("timeline filter over 1 000 000 real rows (baseline: the 0.2 s target)", real["filter_s"], "s",
                    0.2, 1.0, False))
    rows.append(row("keeping a filter current at 20 000 msg/s, per 33 ms flush (baseline: the 5 ms target)",
                    real["filter_incremental_ms"], "ms", 5.0, 1.0, False))
    stream = await asyncio.to_thread(child_bench, "ui_stream")
    rows.append(row("WebSocket feed into the shown tab at lag p99 < 50 ms (vs what the lab published)",
                    stream["best"], "msg/s", stream["baseline"], 0.98, True))
    rows.append(row("WebSocket feed into the shown tab (baseline: the 20 000 msg/s target)", stream["best"], "msg/s",
                    20_000, 1.0, True))
    window = await asyncio.to_thread(child_bench, "window_lag")
    rows.append(row("the whole window, every transport tab connected: feed rate at lag p99 < 50 ms "
                    "(vs the WebSocket tab alone)", window["best"], "msg/s", stream["best"], None, True))
    launch = await asyncio.to_thread(launch_times)
    rows.append(row("launch to first live message, main.py --smoke (vs lab + bare client, no Qt)",
                    launch["gui"], "s", launch["bare"], None, False))
    rows.append(row("launch to first live message (baseline: the 2 s target)", launch["gui"], "s", 2.0, 1.0, False))
    uv, aio = per_loop["uvloop"]["bare websockets"], per_loop["asyncio"]["bare websockets"]
    rows.append(row("lab server RTT p50, uvloop vs asyncio (bare client)", uv["p50"], "ms", aio["p50"], 1.0, False))
    rows.append(row("lab server throughput, uvloop vs asyncio (bare client)", uv["rate"], "msg/s", aio["rate"], 1.0, True))
    print(f"\nDuplex benchmarks — Python {platform.python_version()}, {platform.machine()}, "
          f"client loop: asyncio; ws: {RTT_BLOCKS * RTT_PER_BLOCK} round trips, {BURST_ROUNDS}×{BURST} burst; "
          f"sse: {sse.ROUNDS}×{sse.BURST} events\n")
    print("| benchmark | value | baseline | ratio | target | met |")
    print("| --- | ---: | ---: | ---: | ---: | :-: |")
    for r in rows:
        cmp = "≤" if r["lower"] else "≥"
        target = "—" if r["target"] is None else f"{cmp} {r['target']}"
        met = "—" if r["met"] is None else "yes" if r["met"] else "no"
        print(f"| {r['name']} | {r['value']:,.3f} {r['unit']} | {r['baseline']:,.3f} {r['unit']} | "
              f"{r['ratio']:.3f} | {target} | {met} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"python": platform.python_version(), "rows": rows}, indent=2))
    print(f"\nJSON: {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
