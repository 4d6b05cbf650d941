"""``probe URL --transport browser``: a page in headless Chromium, its traffic as JSON lines.

Opens ``URL`` in a Chromium that Duplex starts (or one it attaches to with ``--attach``), and prints
one JSON event per WebSocket frame (transport ``websocket``, ``in`` / ``out``), EventSource message
(``sse``) and HTTP exchange (``http``) of the page, with the tab's own rows (``browser``). Exits 0
after ``--count`` incoming messages (WebSocket frames received plus EventSource messages).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TextIO

from transport.browser.chromium_watch import BrowserWatch, WatchedBrowser
from transport.browser.streams_experiment import StreamsExperiment
from transport.core.errors import DuplexError
from transport.core.events import Event


async def probe_browser(args: argparse.Namespace, out: TextIO = sys.stdout) -> tuple[int, str]:
    watch: BrowserWatch | None = None
    done = asyncio.Event()

    def incoming() -> int:
        return sum(tab.frames_in + tab.sse_in for tab in watch.tabs.values()) if watch is not None else 0

    def sink(event: Event) -> None:
        out.write(event.to_json() + "\n")
        if args.count is not None and incoming() >= args.count:
            done.set()

    browser = WatchedBrowser(sink, attach=args.attach)
    try:
        watch = await browser.start()
        await watch.open_tab(args.url)
        waiting = [asyncio.ensure_future(done.wait()), asyncio.ensure_future(watch.cdp.closed.wait())]
        try:
            await asyncio.wait(waiting, timeout=args.timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiting:
                w.cancel()
        out.flush()
        if done.is_set():
            return 0, ""
        if watch.cdp.closed.is_set():
            return 1, "the browser went away"
        got = f"{incoming()} of {args.count}" if args.count else str(incoming())
        return 1, f"timeout: {args.timeout:g} s passed with {got} messages received"
    except DuplexError as err:
        return 1, err.sentence
    finally:
        out.flush()
        await browser.stop()


async def probe_streams(args: argparse.Namespace, out: TextIO = sys.stdout) -> tuple[int, str]:
    """``--experiment streams``: one JSON line per stream (when it opened, on which connection, over which
    protocol), then ``{"experiment": {"protocol", "streams", "open", "pending", "connections", …}}``."""
    try:
        async with StreamsExperiment(ca_file=args.ca, insecure=args.insecure) as experiment:
            await experiment.start([args.url])
            series = await experiment.run_series(args.url, args.streams, args.stream_kind,
                                                 timeout=args.timeout or 30.0)
    except DuplexError as err:
        return 1, err.sentence
    for row in series.rows:
        out.write(json.dumps(row.to_json(), separators=(",", ":")) + "\n")
    out.write(json.dumps({"experiment": series.summary()}, separators=(",", ":")) + "\n")
    out.flush()
    return 0, ""
