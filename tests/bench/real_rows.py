"""The timeline with real rows: ``python -m tests.bench.real_rows --rows N``.

A real lab process publishes (its ticker: the demo topics ``price``, ``likes``, ``chat``), the real
WebSocket client — built through the registry and wired as the app wires it: client → bridge → tab
controller → timeline model — fills the real timeline model; no pooled or prebuilt events. Each run is
a fresh process; the parent prints one JSON line with the medians of ``--runs`` runs:

- ``rss_mb``, ``bytes_per_row``: resident memory the rows added (after a collection);
- ``filter_s``: a text filter (``likes``) over all rows, case-insensitive, as the model applies it
  (every row kept in the filter's list); ``filter_floor_s``: one ``bytes.count`` of the needle over
  the same bytes, timed in the same run (the memory's speed: the floor); ``filter_topic_s`` and
  ``filter_event_s``: ``topic:likes`` and ``event:likes``; ``filter_regex_s``: ``/lik.s/`` (reported);
  each also ``_burning``: with a second process burning one core (tests/bench/burn.py);
- ``filter_incremental_ms``: with that filter on, the cost per bridge flush of keeping it current while
  20 000 msg/s arrive (batches of 660 rows built by the client's own receiver from lab envelopes).
Bounded: the feed stops at N rows or after 300 s.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.burn import burning  # noqa: E402
FLUSH_ROWS = 660  # 20 000 msg/s in one 33 ms bridge flush
FEED_RATE = 60_000


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


async def one(rows: int) -> dict:
    from tests.helpers import start_lab, wait_until
    from transport.clients.lab_admin import post_fault
    from transport.core.receiver import FeedReceiver
    from transport.clients.registry import TRANSPORTS
    from transport.server.feed import TOPICS, demo_body
    from ui.bridge import EventBridge
    from ui.controllers.tab import TabController
    from ui.heap import map_big_buffers

    map_big_buffers()  # as ui.app.run does at startup
    lab = start_lab(rate=0)
    try:
        bridge = EventBridge()
        controller = TabController(TRANSPORTS["websocket"], bridge, cap=rows)
        bridge.delivered.connect(lambda _t, batch: controller.take(batch))
        model = controller.model
        controller.open_client(lab.ws_url)
        await wait_until(lambda: controller.client is not None and controller.client.connected, 15, "connected")
        gc.collect()
        before = rss()
        await post_fault(lab.url, lab.token, {"action": "rate", "rate": FEED_RATE})
        await wait_until(lambda: model.captured >= rows, 300, f"{rows:,} rows")
        await post_fault(lab.url, lab.token, {"action": "rate", "rate": 0})
        bridge.flush()
        gc.collect()
        grown = rss() - before
        stored = min(model.captured, rows)  # the model keeps ``rows`` (its cap); the feed ran a little past
        filters = filter_times(model)
        with burning():
            loaded = filter_times(model)
        model.set_filter("likes")
        client = controller.client
        lost = client.ledger.lost if client is not None else None
        episodes = len(client.ledger.episodes) if client is not None else None
        batch: list = []
        receiver = FeedReceiver("websocket", batch.append, one_way=True)  # rows as the client builds them
        seq = 10**9
        flushes = []
        for _ in range(50):
            batch.clear()
            frames = []
            for _ in range(FLUSH_ROWS):
                seq += 1
                topic = TOPICS[seq % 3]
                text = json.dumps({"seq": seq, "ts": time.monotonic_ns(), "topic": topic,
                                   "body": demo_body(topic, seq)}, separators=(",", ":"))
                frames.append((text, len(text), len(text) + 2))
            receiver.texts(frames, time.monotonic_ns())  # as the WebSocket client hands a read
            t0 = time.perf_counter()
            model.append_events(list(batch))
            flushes.append(time.perf_counter() - t0)
        await controller.shutdown()
        return {"rows": stored, "rss_mb": round(grown / 1e6, 1), "bytes_per_row": round(grown / max(1, stored)),
                **{key: round(value, 4) for key, value in filters.items()},
                **{f"{key}_burning": round(value, 4) for key, value in loaded.items()},
                "filter_incremental_ms": round(statistics.median(flushes) * 1000, 2),
                "lost": lost, "drops": episodes}  # a run counts only with nothing lost and no reconnect
    finally:
        lab.stop()


FILTERS = {"filter_s": "likes", "filter_topic_s": "topic:likes", "filter_event_s": "event:likes",
           "filter_regex_s": "/lik.s/"}


def filter_times(model) -> dict[str, float]:
    """Each filter applied to every row (the median of 3), and the floor: ``bytes.count`` of the needle over
    the rows' own bytes, interleaved with the filter so noise hits both alike."""
    buf = model._rows.buf  # the bytes the rows hold (the bench reads them; the app never does)
    times: dict[str, list[float]] = {key: [] for key in (*FILTERS, "filter_floor_s")}
    for _ in range(3):
        t0 = time.perf_counter()
        buf.count(b"likes")
        times["filter_floor_s"].append(time.perf_counter() - t0)
        for key, text in FILTERS.items():
            t0 = time.perf_counter()
            model.set_filter(text)
            times[key].append(time.perf_counter() - t0)
            model.set_filter("")
    return {key: statistics.median(values) for key, values in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m tests.bench.real_rows")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--one", action="store_true", help="one run, in this process")
    args = p.parse_args()
    if args.one:
        from tests.bench.qt_bench import print_from_app_loop

        print_from_app_loop(lambda: one(args.rows))
        return
    runs = []
    for _ in range(args.runs):  # each in a fresh process: memory is not a leftover of the last run
        res = subprocess.run([sys.executable, "-m", "tests.bench.real_rows", "--one", "--rows", str(args.rows)],
                             cwd=ROOT, capture_output=True, text=True, timeout=600)
        if res.returncode != 0:
            raise SystemExit(f"real_rows: a run failed: {res.stderr.strip().splitlines()[-1:]}")
        run = json.loads(res.stdout.strip().splitlines()[-1])
        if run["lost"] or run["drops"]:
            raise SystemExit(f"real_rows: a run lost {run['lost']} messages or reconnected ({run['drops']}): "
                             "it does not count")
        runs.append(run)
    timed = (*FILTERS, "filter_floor_s")
    keys = ("rows", "rss_mb", "bytes_per_row", "filter_incremental_ms", *timed, *(f"{k}_burning" for k in timed))
    out = {key: statistics.median(r[key] for r in runs) for key in keys}
    print(json.dumps({**out, "runs": len(runs)}))


if __name__ == "__main__":
    main()
