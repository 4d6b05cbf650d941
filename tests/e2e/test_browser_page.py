"""A page of the suite's own, on a server that is not the lab (tests/data/browser_page/), in the real
Chromium: what the page logs of itself, compared row by row with what Duplex recorded — cookies set by
the server and by script and sent back, an NDJSON fetch stream, a WebSocket closed with a code and a
reason, the official socket.io browser bundle over polling then WebSocket, a reload, time offline, and
a second tab."""

from __future__ import annotations

import asyncio
import json
import os
import shutil

import pytest

from tests.helpers import CHROMIUM_GROUP, ROOT, wait_until, wait_until_answered
from transport.browser.chromium import find_chromium
from transport.browser.chromium_watch import WatchedBrowser

PAGE_SERVER = ROOT / "tests" / "data" / "browser_page" / "server.js"
SIO = ROOT / "tests" / "data" / "socketio_recovery" / "node_modules" / "socket.io"

pytestmark = [
    pytest.mark.skipif(find_chromium() is None and not os.environ.get("CI"),
                       reason="no Chromium on this machine (CI installs it and never skips)"),
    pytest.mark.skipif(shutil.which("node") is None or not SIO.is_dir(),
                       reason="node and the npm packages of tests/data/socketio_recovery (.ci/run installs them)"),
    CHROMIUM_GROUP,
]


class PageServer:
    async def __aenter__(self) -> "PageServer":
        self.proc = await asyncio.create_subprocess_exec("node", str(PAGE_SERVER), stdin=asyncio.subprocess.PIPE,
                                                         stdout=asyncio.subprocess.PIPE)
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 10)
        self.url = f"http://127.0.0.1:{json.loads(line)['port']}/"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()


def of(events, transport, kind=None, direction=None, conn=1):
    return [e for e in events if e.transport == transport and (kind is None or e.kind == kind)
            and (direction is None or e.direction == direction) and e.conn == conn]


async def test_duplex_records_what_the_page_did_row_by_row():
    events: list = []
    async with PageServer() as server:
        browser = WatchedBrowser(events.append)
        watch = await browser.start()
        try:
            tab = await watch.open_tab(server.url)
            said = await _until_over(watch, tab)
            await wait_until(lambda: any(e.meta.get("event") == "over" for e in of(events, "socketio", "message")), 5,
                             "Duplex's row of the event the page got last")
            await wait_until(lambda: any("code" in e.meta for e in of(events, "websocket", "close")), 5,
                             "the WebSocket's close row with its code")

            # cookies: as set (by the server, with its attributes; by a script) and as sent
            cookies = {e.meta["cookie"]["name"]: e for e in of(events, "browser", "cookie") if "cookie" in e.meta}
            assert cookies["srv"].meta["cookie"]["value"] == "abc" and cookies["srv"].meta["cookie"]["httpOnly"]
            assert cookies["srv"].meta["cookie"]["sameSite"] == "Lax" and "the server (/login)" in cookies["srv"].data
            assert cookies["js"].meta["cookie"]["value"] == "1" and "a script" in cookies["js"].data
            page_sent = next(x["cookie"] for x in said if x["what"] == "sent")
            sent = [e for e in of(events, "browser", "cookie") if "cookies" in e.meta]
            assert {f"{c['name']}={c['value']}" for c in sent[-1].meta["cookies"]} == set(page_sent.split("; "))
            assert any(c["name"] == "srv" and c["httpOnly"] for c in sent[-1].meta["cookies"])

            # the NDJSON fetch stream, on a URL that is not the lab's: its 5 lines, each as it came
            lines = [x["line"] for x in said if x["what"] == "ndjson"]
            streamed = [e for e in of(events, "stream", "message", "in") if "type" not in e.meta]
            assert [e.data for e in streamed] == lines and len(lines) == 5
            assert len({e.t for e in streamed}) >= 3, "the 5 chunks came 60 ms apart: not all at once"

            # an event stream read by fetch (POST, as SDKs do): its events, each with its type and id
            page_sse = [(x["type"], x["id"], x["data"]) for x in said if x["what"] == "sse"]
            got_sse = [(e.meta["type"], e.meta["last_event_id"], e.data) for e in streamed_sse(events)]
            assert got_sse == page_sse and len(page_sse) == 3

            # the WebSocket's close: the code and reason the page saw
            page_close = next(x for x in said if x["what"] == "ws_close")
            close = next(e for e in of(events, "websocket", "close") if "/ws" in e.data and "code" in e.meta)
            assert (close.meta["code"], close.meta["reason"]) == (page_close["code"], page_close["reason"])
            assert '4000 "done by server"' in close.data

            # Socket.IO: the events over polling are decoded as those over WebSocket, in the page's order
            page_events = [(x["event"], x["args"]) for x in said if x["what"] == "sio"]
            sio = of(events, "socketio")
            got = [(e.meta["event"], json.loads(e.data)) for e in sio if e.kind == "message"]
            assert got == page_events
            assert [x["via"] for x in said if x["what"] == "sio"][:6] == ["polling"] * 6  # the polling-only client
            kinds = [e.kind for e in sio]
            # in the order the page lived it: the ticks over polling before the upgrade, "over" after it
            over = next(i for i, e in enumerate(sio) if e.meta.get("event") == "over")
            assert kinds.index("handshake") < kinds.index("open") < kinds.index("message") < kinds.index("upgrade") \
                < over, kinds
            ack = next(e for e in sio if e.kind == "ack" and e.direction == "in")
            assert json.loads(ack.data) == next(x["args"] for x in said if x["what"] == "sio_ack")
            hello = next(e for e in sio if e.kind == "emit" and e.meta["event"] == "hello")
            assert json.loads(hello.data) == ["page"] and hello.meta["ack"] == ack.meta["ack"]

            # a reload: the old document's Socket.IO WebSocket closes, an episode in its ledger; the page
            # comes back and connects again
            ledger = tab.receivers["socketio"].ledger
            await watch.reload(tab)
            await wait_until(lambda: any("reloaded" in e.data for e in of(events, "websocket", "close")), 10,
                             "the reload's close row")
            assert ledger.episodes, ledger.counts()
            await _until_over(watch, tab)
            await wait_until(lambda: ledger.episodes[-1].recovered, 10, "the new session delivering")

            # offline: every connection lost (close rows, a new episode), online: the page reconnects
            before = len(ledger.episodes)
            connects = len(of(events, "socketio", "open"))
            closes = len(of(events, "websocket", "close"))
            await watch.set_network(tab, True)
            # the page's Socket.IO WebSocket closes with the code the page saw (Chromium gives 1005)
            await wait_until(lambda: len(ledger.episodes) > before and any(
                "code" in e.meta for e in of(events, "websocket", "close")[closes:]), 10, "the offline close row")
            await asyncio.sleep(3)  # the scenario: three seconds without network (the page retries meanwhile)
            await watch.set_network(tab, False)
            await wait_until(lambda: len(of(events, "socketio", "open")) > connects, 20, "the page reconnecting")
            await wait_until(lambda: ledger.episodes[-1].recovered, 10, "the episode recovered")
            online = [e.data for e in of(events, "browser", "network")]
            assert "every connection of the tab is lost" in online[-2] and "s offline" in online[-1]
            said = json.loads(await watch.evaluate(tab, "JSON.stringify(window.pageLog)"))
            assert any(x["what"] == "sio_disconnect" for x in said)  # the page saw the drop Duplex recorded

            # a second tab: its rows say so (conn 2), the first tab's ledgers are its own
            second = await watch.open_tab(server.url)
            await _until_over(watch, second)
            assert of(events, "socketio", "message", conn=2) and second.receivers["socketio"] is not \
                tab.receivers["socketio"]

            # the page can call Duplex's binding itself: nonsense is ignored, nothing breaks
            rows_before = len(events)
            await watch.evaluate(second, "for (const junk of ['x'.repeat(1 << 20), '{\"k\":\"ws_close\"}', '[]', "
                                         "'{\"k\":\"cookie\",\"text\":5}']) __duplexSaw(junk); 1")
            await watch.evaluate(second, "document.cookie = 'late=2'; 1")
            await wait_until(lambda: any("late=2" in e.data for e in of(events, "browser", "cookie", conn=2)), 5,
                             "the cookie set after the junk")
            assert not [e for e in events[rows_before:] if e.kind == "close"]
        finally:
            await browser.stop()


def streamed_sse(events):
    return [e for e in of(events, "stream", "message", "in") if "type" in e.meta]


async def _until_over(watch, tab) -> list[dict]:
    """The page's log once its Socket.IO got the event sent after the upgrade."""
    async def read() -> list[dict]:
        return json.loads(await watch.evaluate(tab, "JSON.stringify(window.pageLog || [])"))

    return await wait_until_answered(read, lambda said: any(x.get("event") == "over" for x in said), 20,
                                     "the page's Socket.IO to get 'over'", every=0.05)
