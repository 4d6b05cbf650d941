"""The real window under a fast feed (a child process, offscreen Qt, the app's own loop and lab).

``python -m tests.bench.window_lag [--only websocket]`` builds the MainWindow as the app does (its
lab process, its bridge, the tabs' controllers, the startup heap freeze), waits for the six feed
tabs (WebSocket, SSE, long and short polling, HTTP streaming, Socket.IO) to connect — or, with ``--only``, keeps
that one tab connected and disconnects the others, with that tab shown — and raises the lab's
rate step by step. Each step: 1 s to settle, then 3 s measured between two points of the lab's
numbering: S0 and S1, the lab's last seq when the window opens and closes.

- ``published``: what the lab published per second in the window ((S1 - S0) / its length);
- ``caught_up_ms``: how long after the window closed each client had received S1 (a short poll asks
  once a second, so it may take up to its interval);
- ``lag_p99_ms`` / ``lag_max_ms``: the Qt event loop's lateness (a 10 ms timer) in the window;
- ``lost``, ``reconnects``: what each client lost or how often it reconnected during the step.

A step passes only when the lab published at least 95 % of the nominal rate, every connected client
received every message up to S1 in time (its poll interval, if any, plus 0.5 s), lag p99 < 50 ms,
and no client lost a message, was cut or reconnected. ``best`` is the highest passing rate.
Bounded: a fixed list of steps, rising; it stops at the first step missed (``best``: the last step kept
before it). With ``--burn`` a second process burns one core the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings

from tests.bench.burn import burning
from tests.bench.qt_bench import LagProbe, print_from_app_loop
from tests.helpers import wait_until
from transport.clients.lab_admin import lab_stats, post_fault
from ui.heap import freeze_startup
from ui.main_window import MainWindow

FEED = ("websocket", "sse", "long_poll", "short_poll", "stream", "socketio")
RATES = {None: (5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 40_000),
         "websocket": (20_000, 35_000, 50_000, 65_000, 80_000, 100_000)}
LAG_LIMIT_MS = 50.0
SHARE = 0.95
SETTLE_S, STEP_S = 1.0, 3.0
CATCH_UP_S = 0.5


def snapshot(tabs) -> dict[str, tuple[int, int, int]]:
    out = {}
    for tab in tabs:
        led = tab.controller.client.ledger
        out[tab.controller.transport] = (led.received, led.lost, len(led.episodes))
    return out


async def last_seq(win) -> int:
    return (await lab_stats(win.lab.url, win.lab.token))["feed"]["last_seq"]


async def step(win, tabs, rate: int) -> dict:
    await post_fault(win.lab.url, win.lab.token, {"action": "rate", "rate": rate})
    await asyncio.sleep(SETTLE_S)  # settle at the new rate: part of the schedule, not a wait
    before, probe = snapshot(tabs), LagProbe()
    pushed, first = win.bridge.pushed, await last_seq(win)
    t0 = time.perf_counter()
    probe.start()
    await asyncio.sleep(STEP_S)  # the measurement window
    p99, worst = probe.stop(), max(probe.lags, default=0.0)
    last = await last_seq(win)
    elapsed = time.perf_counter() - t0
    events = round((win.bridge.pushed - pushed) / elapsed)
    caught: dict[str, float | None] = {tab.controller.transport: None for tab in tabs}
    closed = time.perf_counter()
    bounds = {tab.controller.transport: CATCH_UP_S + (tab.controller.client.options.interval
                                                      if tab.controller.transport == "short_poll" else 0.0)
              for tab in tabs}
    while True:  # when each client had S1 (a condition polled every 10 ms, bounded by each one's limit)
        now = time.perf_counter() - closed
        for tab in tabs:
            name = tab.controller.transport
            if caught[name] is None and (tab.controller.client.ledger.high or 0) >= last:
                caught[name] = round(now * 1000)
        if all(v is not None for v in caught.values()) or now > max(bounds.values()):
            break
        await asyncio.sleep(0.01)
    for name, bound in bounds.items():
        if caught[name] is not None and caught[name] > bound * 1000:
            caught[name] = None  # too late: it did not keep up
    after = snapshot(tabs)
    lost = {name: after[name][1] - before[name][1] for name in after}
    reconnects = {name: after[name][2] - before[name][2] for name in after}
    published = round((last - first) / elapsed)
    ok = (p99 < LAG_LIMIT_MS and published >= SHARE * rate and None not in caught.values()
          and not any(lost.values()) and not any(reconnects.values()))
    return {"rate": rate, "ok": ok, "published": published, "caught_up_ms": caught, "lag_p99_ms": p99,
            "lag_max_ms": worst, "events_per_s": events, "lost": lost, "reconnects": reconnects}


async def main(only: str | None, rates: list[int] | None = None) -> dict:
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "duplex.ini"), QSettings.Format.IniFormat)
    win = MainWindow(rate=5, settings=settings)
    win.resize(1600, 1000)
    win.show()
    freeze_startup()  # as ui.app.run does once the window shows
    try:
        feed_tabs = [t for t in win.transport_tabs if t.controller.transport in FEED]
        await wait_until(lambda: all(t.controller.client is not None and t.controller.client.connected
                                     for t in feed_tabs), 30, "the feed tabs to connect")
        if only is not None:
            for tab in feed_tabs:
                if tab.controller.transport != only:
                    tab.controller.disconnect_client()
            feed_tabs = [t for t in feed_tabs if t.controller.transport == only]
            win.tabs.setCurrentWidget(feed_tabs[0])
        steps = []
        for rate in rates or RATES[only]:
            steps.append(await step(win, feed_tabs, rate))
            if not steps[-1]["ok"] and (rates is None or steps[-1]["lag_p99_ms"] >= LAG_LIMIT_MS * 4):
                break  # the rate kept is the last one kept before the first miss
        await post_fault(win.lab.url, win.lab.token, {"action": "rate", "rate": 0})
        passed = [s for s in steps if s["ok"]]
        top = max(passed, key=lambda s: s["rate"], default=None)
        return {"best": top["rate"] if top else 0, "lag_p99_ms": top["lag_p99_ms"] if top else None,
                "lag_max_ms": top["lag_max_ms"] if top else None, "steps": steps}
    finally:
        await win.shutdown()


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m tests.bench.window_lag")
    p.add_argument("--only", choices=FEED, help="keep only this tab connected (and shown)")
    p.add_argument("--rates", type=lambda s: [int(r) for r in s.split(",")],
                   help="these steps only, e.g. 20000,20000 (to profile one rate)")
    p.add_argument("--burn", action="store_true", help="with a second process burning one core (tests/bench/burn.py)")
    args = p.parse_args(sys.argv[1:])
    with burning() if args.burn else contextlib.nullcontext():
        print_from_app_loop(lambda: main(args.only, args.rates))
