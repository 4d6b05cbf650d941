"""The browser path: a real headless Chromium on the lab's demo page, watched through DevTools.

- launch to first recorded frame: from starting Chromium to the first WebSocket message of the page in
  Duplex's events (median of LAUNCHES);
- recorded rate: a lab burst of BURST messages to the page's WebSocket, until the last is in Duplex's
  events with nothing lost and as many recorded as the page itself counted (its ``state.ws.received``),
  against Duplex's own WebSocket client on the same burst (median of ROUNDS).

``python -m tests.bench.browser`` prints the JSON the bench table reads.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

from tests.helpers import start_lab
from transport.browser.chromium_watch import WatchedBrowser
from transport.clients.websocket import WebSocketClient, WebSocketOptions
from transport.clients.lab_admin import post_fault

LAUNCHES = 5
ROUNDS = 3
BURST = 20_000
TIMEOUT = 60.0


async def until(predicate, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("browser bench: a step timed out")
        await asyncio.sleep(0.005)


async def first_frame(url: str) -> float:
    t0 = time.monotonic()
    got: list = []
    async with WatchedBrowser(got.append) as watch:
        await watch.open_tab(url + "/demo?apis=ws")
        await until(lambda: any(e.transport == "websocket" and e.kind == "message" and e.direction == "in"
                                for e in got))
        return time.monotonic() - t0


async def burst_through_browser(lab) -> float:
    async with WatchedBrowser(lambda e: None) as watch:
        tab = await watch.open_tab(lab.url + "/demo?apis=ws")
        await until(lambda: "websocket" in tab.receivers and tab.frames_in >= 1)
        led = tab.receivers["websocket"].ledger
        await post_fault(lab.url, lab.token, {"action": "rate", "rate": 0})  # the burst alone: counts compare
        await asyncio.sleep(0.3)  # a tick already sent lands (the feed's schedule, not a condition to wait on)
        start = led.received
        page_start = await watch.evaluate(tab, "state.ws.received")  # the page's own count of what it got
        t0 = time.monotonic()
        await post_fault(lab.url, lab.token, {"action": "burst", "count": BURST, "topic": "bench"})
        await until(lambda: led.received >= start + BURST)
        elapsed = time.monotonic() - t0
        page = await watch.evaluate(tab, "state.ws.received") - page_start
        if led.lost or led.duplicated or led.received - start != page:
            raise SystemExit(f"browser bench: recorded {led.received - start:,} of the page's {page:,} messages "
                             f"(lost {led.lost}, duplicated {led.duplicated})")
        await post_fault(lab.url, lab.token, {"action": "rate", "rate": 5})
    return BURST / elapsed


async def burst_through_client(lab) -> float:
    client = WebSocketClient(WebSocketOptions(lab.ws_url), lambda e: None)
    run = asyncio.ensure_future(client.run())
    try:
        await until(lambda: client.connected)
        led = client.ledger
        start = led.received
        t0 = time.monotonic()
        await post_fault(lab.url, lab.token, {"action": "burst", "count": BURST, "topic": "bench"})
        await until(lambda: led.received >= start + BURST)
        return BURST / (time.monotonic() - t0)
    finally:
        await client.close()
        await asyncio.gather(run, return_exceptions=True)


async def measure() -> dict[str, float]:
    lab = start_lab(rate=5)
    try:
        launches = [await first_frame(lab.url) for _ in range(LAUNCHES)]
        browser, own = [], []
        for _ in range(ROUNDS):
            browser.append(await burst_through_browser(lab))
            own.append(await burst_through_client(lab))
    finally:
        lab.stop()
    return {"first_frame_s": statistics.median(launches), "browser_rate": statistics.median(browser),
            "client_rate": statistics.median(own), "launches": launches, "browser_rates": browser, "client_rates": own}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure())))
