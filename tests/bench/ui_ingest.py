"""UI ingest, storage and filtering of the timeline (a child process, offscreen Qt).

``python -m tests.bench.ui_ingest`` prints one JSON object:
- ``ingest``: the highest rate (rows/s) a shown timeline takes through the
  bridge (33 ms batches) with the Qt event loop's lag p99 under 50 ms; the
  producer runs on the same loop, as the clients do. Rates are stepped up,
  2 s each; ``ingest_full`` is the same at 100 000 rows/s with 1 000 000
  rows already stored.
- ``raw``: the rate of the same producer into a plain list (the baseline).
- ``bytes_per_row``: resident memory per stored row for 1 000 000 rows with
  64-byte payloads, built as the WebSocket client builds them.
- ``filter_s``: one filter change over the 1 000 000 rows.
Bounded: every step has a fixed length; the whole run takes well under a minute.
"""

from __future__ import annotations

import json
import sys
import time

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from tests.bench.qt_bench import LagProbe
from transport.events import Event
from transport.server.stats import rss_bytes
from ui.bridge import EventBridge
from ui.widgets.timeline import TimelineWidget

RATES = (25_000, 50_000, 100_000, 200_000, 300_000, 500_000)
STEP_S = 2.0
TICK_MS = 5
LAG_LIMIT_MS = 50.0
ROWS = 1_000_000
PAYLOAD = '{"seq":%d,"ts":1234567890123,"topic":"price","body":{"p":%03d}}'


def make_rows(n: int, start: int = 0) -> list[Event]:
    return [Event("websocket", "in", "message", 0, 1, i, 64, 66, 1.25, (PAYLOAD % (i, i % 1000)).ljust(64), {})
            for i in range(start, start + n)]


def run_for(app: QApplication, seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def measure_rate(app: QApplication, timeline: TimelineWidget, bridge: EventBridge, rate: int,
                 pool: list[Event]) -> tuple[float, float]:
    """Push ``rate`` rows/s for STEP_S; returns (rows/s that reached the model, lag p99 ms)."""
    per_tick = max(1, rate * TICK_MS // 1000)
    i = [0]

    def produce() -> None:
        for _ in range(per_tick):
            bridge.push(pool[i[0] % len(pool)])
            i[0] += 1

    producer, probe = QTimer(), LagProbe()
    producer.setInterval(TICK_MS)
    producer.timeout.connect(produce)
    before = timeline.model.captured
    t0 = time.perf_counter()
    producer.start()
    probe.start()
    run_for(app, STEP_S)
    producer.stop()
    p99 = probe.stop()
    bridge.flush()
    app.processEvents()
    elapsed = time.perf_counter() - t0
    return (timeline.model.captured - before) / elapsed, p99


def main() -> int:
    app = QApplication.instance() or QApplication([])
    pool = make_rows(50_000, 10_000_000)
    # the baseline: the same producer, into a list
    sink: list[Event] = []
    t0 = time.perf_counter()
    for k in range(2_000_000):
        sink.append(pool[k % len(pool)])
    raw = 2_000_000 / (time.perf_counter() - t0)
    sink.clear()

    timeline = TimelineWidget(ROWS)
    timeline.resize(1000, 600)
    timeline.show()
    bridge = EventBridge()
    bridge.events.connect(timeline.append_events)
    best, steps = 0.0, []
    for rate in RATES:
        got, p99 = measure_rate(app, timeline, bridge, rate, pool)
        steps.append({"rate": rate, "got": round(got), "lag_p99_ms": round(p99, 1)})
        if p99 >= LAG_LIMIT_MS:
            break
        best = max(best, got)
    timeline.model.clear()
    app.processEvents()

    rss0 = rss_bytes()
    for k in range(0, ROWS, 10_000):  # as the bridge would: batches of new events, which then die
        timeline.append_events(make_rows(10_000, k))
    app.processEvents()
    per_row = (rss_bytes() - rss0) / ROWS
    top = max((s for s in steps if s["lag_p99_ms"] < LAG_LIMIT_MS), key=lambda s: s["got"], default=None)
    full, full_p99 = measure_rate(app, timeline, bridge, top["rate"] if top else 100_000, pool)
    t0 = time.perf_counter()
    timeline.model.set_filter('"p":042')
    filter_s = time.perf_counter() - t0
    shown = timeline.model.rowCount()
    print(json.dumps({"ingest": best, "steps": steps, "raw": raw, "bytes_per_row": per_row,
                      "rows": timeline.model.stored, "ingest_full": full, "ingest_full_lag_p99_ms": full_p99,
                      "filter_s": filter_s, "filter_shown": shown}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
