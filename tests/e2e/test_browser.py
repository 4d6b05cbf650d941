"""A real headless Chromium on the lab's demo page, watched through the DevTools protocol."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import CHROMIUM_GROUP, ROOT, start_lab, wait_until
from transport.browser.cdp import CDPConnection
from transport.browser.chromium import find_chromium, remove_when_gone
from transport.browser.chromium_watch import BrowserWatch, WatchedBrowser
from transport.clients.lab_admin import post_fault

pytestmark = [pytest.mark.skipif(find_chromium() is None and not os.environ.get("CI"),
                                reason="no Chromium on this machine (CI installs it and never skips)"), CHROMIUM_GROUP]


class Browser:
    def __init__(self, events: list) -> None:
        self.events = events

    async def __aenter__(self) -> "Browser":
        self.browser = WatchedBrowser(self.events.append)
        self.watch = await self.browser.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.browser.stop()


def rows(events, transport, kind=None, direction=None):
    return [e for e in events if e.transport == transport and (kind is None or e.kind == kind)
            and (direction is None or e.direction == direction)]


async def test_the_pages_websocket_and_eventsource_lose_nothing_across_a_server_restart():
    lab = start_lab("--sse-retry", "200", rate=50)
    events: list = []
    try:
        async with Browser(events) as b:
            tab = await b.watch.open_tab(lab.url + "/demo?apis=ws,sse")
            await wait_until(lambda: set(tab.receivers) >= {"websocket", "sse"}
                             and all(tab.receivers[a].ledger.received >= 30 for a in ("websocket", "sse")),
                             20, "both feeds flowing")
            await post_fault(lab.url, lab.token, {"action": "restart", "down_s": 1})
            await wait_until(lambda: all(tab.receivers[a].ledger.episodes
                                         and tab.receivers[a].ledger.episodes[-1].recovered
                                         for a in ("websocket", "sse")), 30, "both recovered")
            target = {a: tab.receivers[a].ledger.received + 30 for a in ("websocket", "sse")}
            await wait_until(lambda: all(tab.receivers[a].ledger.received >= target[a] for a in target), 20,
                             "messages after the restart")
    finally:
        lab.stop()
    for api in ("websocket", "sse"):
        led = tab.receivers[api].ledger
        assert led.lost == 0 and led.duplicated == 0 and led.episodes, (api, led.summary())
    # the EventSource came back by itself, telling the lab where it was
    resumed = rows(events, "sse", "resume")
    assert resumed and int(resumed[-1].meta["last_event_id"]) > 0
    # the page's new WebSocket asked for what it missed
    assert any("after=" in e.data for e in rows(events, "websocket", "connecting")[1:])


async def test_session_storage_survives_a_reload_a_new_tab_starts_empty_and_close_clears_it():
    lab = start_lab(rate=20)
    events: list = []
    try:
        async with Browser(events) as b:
            first = await b.watch.open_tab(lab.url + "/demo?apis=ws")
            await wait_until(lambda: first.storage.get("visits") == "1", 10, "the first visit stored")
            await b.watch.reload(first)
            await wait_until(lambda: first.storage.get("visits") == "2", 10, "the reload's visit")
            assert (await b.watch.session_storage(first))["visits"] == "2"
            second = await b.watch.open_tab(lab.url + "/demo?apis=ws")
            await wait_until(lambda: second.storage.get("visits") == "1", 10, "a new tab's own storage")
            await b.watch.close_tab(first)
            assert first.closed and any("sessionStorage is gone" in e.data for e in rows(events, "browser", "close"))
            again = await b.watch.open_tab(lab.url + "/demo?apis=ws")
            await wait_until(lambda: again.storage.get("visits") == "1", 10, "no storage left by the closed tab")
    finally:
        lab.stop()


async def test_an_httponly_cookie_is_in_the_jar_and_invisible_to_the_page():
    lab = start_lab(rate=5)
    try:
        async with Browser([]) as b:
            tab = await b.watch.open_tab(lab.url + "/demo?apis=ws")
            await wait_until(lambda: tab.storage.get("visits") == "1", 10, "the page running")
            await b.watch.evaluate(tab, "fetch('/session/login', {method: 'POST', headers: {'Content-Type': "
                                        "'application/json'}, body: JSON.stringify({user: 'ana'})}).then(r => r.status)")
            cookies = {c["name"]: c for c in await b.watch.cookies(tab)}
            assert cookies["duplex_sid"]["httpOnly"] and cookies["duplex_sid"]["sameSite"] in ("Lax", "Strict")
            assert "duplex_sid" not in await b.watch.evaluate(tab, "document.cookie")
            me = await b.watch.evaluate(tab, "fetch('/session/me').then(r => r.json())")
            assert me["user"] == "ana"
            await wait_until(lambda: tab.session_status == 200, 10, "the page seeing its login")
            await post_fault(lab.url, lab.token, {"action": "session_settings", "absolute": 1})
            await wait_until(lambda: tab.session_status == 401, 10, "the page seeing the expiry")
            said = [e.data for e in b.events if e.transport == "browser" and e.kind == "session"]
            assert "session is over" in said[-1]
    finally:
        lab.stop()


async def test_bytes_received_per_response_agree_with_duplexs_own_count():
    lab = start_lab(rate=0)
    try:
        async with aiohttp.ClientSession() as http:
            for i in range(40):
                async with http.post(lab.url + "/api/messages", json={"topic": "t", "body": "x" * (50 + i)}) as r:
                    assert r.status in (200, 201)
        events: list = []
        async with Browser(events) as b:
            tab = await b.watch.open_tab(lab.url + "/demo?apis=")
            await wait_until(lambda: tab.storage.get("visits") == "1", 10, "the page")
            await b.watch.evaluate(tab, "fetch('/api/poll?after=0&limit=40').then(r => r.text())")
            await wait_until(lambda: any("/api/poll?after=0" in e.data for e in rows(events, "http", "response")),
                             10, "the poll's response")
        browser_wire = next(e.wire for e in rows(events, "http", "response") if "/api/poll?after=0" in e.data)
        own = await own_response_bytes(lab.url + "/api/poll?after=0&limit=40")
    finally:
        lab.stop()
    assert abs(browser_wire - own) <= 0.05 * own, (browser_wire, own)


async def own_response_bytes(url: str) -> int:
    """The response's bytes as Duplex's own HTTP stack counts them on the socket."""
    from transport.clients.http import WireCounter, new_session
    counter = WireCounter()
    async with new_session(counter, 10) as http:
        async with http.get(url) as resp:
            await resp.read()
    return counter.received


async def test_the_pages_websocket_at_1000_messages_a_second_is_recorded_completely():
    lab = start_lab(rate=0)
    try:
        async with Browser([]) as b:
            tab = await b.watch.open_tab(lab.url + "/demo?apis=ws")
            await wait_until(lambda: "websocket" in tab.receivers and tab.frames_in >= 1, 10, "the socket open")
            b.events.clear()
            await post_fault(lab.url, lab.token, {"action": "rate", "rate": 1000})
            await wait_until(lambda: tab.receivers["websocket"].ledger.received >= 3000, 30, "3 000 messages")
            await post_fault(lab.url, lab.token, {"action": "rate", "rate": 0})
            async with aiohttp.ClientSession() as http:
                async with http.get(lab.url + "/") as resp:
                    last = (await resp.json())["last_seq"]
            led = tab.receivers["websocket"].ledger
            await wait_until(lambda: led.high == last, 10, "every message recorded")
            seqs = [e.seq for e in b.events if e.transport == "websocket" and e.kind == "message"
                    and e.direction == "in"]
            assert led.lost == 0 and led.duplicated == 0
            assert seqs == list(range(seqs[0], last + 1)) and len(seqs) >= 3000  # every one, in order
    finally:
        lab.stop()


async def test_attaching_to_a_chromium_started_with_remote_debugging_port():
    lab = start_lab(rate=20)
    port_dir = tempfile.mkdtemp(prefix="duplex-attach-")
    chrome = subprocess.Popen([find_chromium() or "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                               "--remote-debugging-port=0", f"--user-data-dir={port_dir}", "--no-first-run",
                               "--disable-background-networking", lab.url + "/demo?apis=ws"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                              env={**os.environ, "TMPDIR": port_dir})  # its own temporary folders in there too
    try:
        marker = os.path.join(port_dir, "DevToolsActivePort")
        await wait_until(lambda: os.path.exists(marker) and open(marker).read().count("\n") >= 1, 20, "DevTools")
        port = open(marker).read().split()[0]
        from transport.browser.chromium import devtools_url
        cdp = await CDPConnection.connect(await devtools_url(f"127.0.0.1:{port}"))
        watch = BrowserWatch(cdp, [].append)
        tabs = await watch.attach_pages()
        assert len(tabs) == 1
        await watch.reload(tabs[0])  # watched from the reload on: the page's new socket
        await wait_until(lambda: "websocket" in tabs[0].receivers and tabs[0].receivers["websocket"].ledger.received
                         >= 5, 20, "the attached page's frames")
        await watch.close()
        await cdp.close()
    finally:
        os.killpg(chrome.pid, signal.SIGTERM)  # the browser and its helpers (their own session)
        chrome.wait(10)
        remove_when_gone(chrome.pid, Path(port_dir), wait_s=10.0)
        lab.stop()


def test_probe_prints_the_pages_frames_and_exits_after_count():
    lab = start_lab(rate=50)
    try:
        out = subprocess.run([sys.executable, "main.py", "probe", lab.url + "/demo?apis=ws,sse", "--transport",
                              "browser", "--count", "40", "--timeout", "30"], cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
    finally:
        lab.stop()
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    incoming = [e for e in events if e["transport"] in ("websocket", "sse") and e["direction"] == "in"
                and e["kind"] == "message"]
    assert len(incoming) >= 30 and {e["transport"] for e in incoming} == {"websocket", "sse"}
    assert any(e["transport"] == "websocket" and e["direction"] == "out" for e in events)
    assert any(e["transport"] == "http" and e["kind"] == "response" and e["wire"] for e in events)


def test_the_browser_never_outlives_a_killed_parent():
    """SIGKILL the process that started Chromium: the kernel ends the browser too (PR_SET_PDEATHSIG)."""
    code = ("import asyncio, sys\nfrom transport.browser.chromium import launch\n"
            "async def main():\n    b = await launch()\n    print(b.pid, b.profile, flush=True)\n"
            "    await asyncio.Event().wait()\n"
            "asyncio.run(main())\n")
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    profile = ""
    try:
        pid_text, profile = parent.stdout.readline().split(maxsplit=1)
        pid = int(pid_text)
        parent.kill()
        parent.wait(10)
        asyncio.run(wait_until(lambda: not alive(pid), 10, "the browser gone with its parent"))
    finally:
        parent.stdout.close()
        if profile.strip():  # a killed Duplex cannot remove its throwaway profile: the test does, once the
            # browser's helpers (its process group) are gone too — one still writing would leave files behind
            remove_when_gone(int(pid_text), Path(profile.strip()), wait_s=10.0)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_the_pages_har_has_its_websocket_frames_and_its_exchanges_in_chromes_shape():
    from transport.core.har import to_har
    lab = start_lab(rate=50)
    events: list = []
    try:
        async with Browser(events) as b:
            tab = await b.watch.open_tab(lab.url + "/demo?apis=ws,longpoll")
            await wait_until(lambda: all(a in tab.receivers and tab.receivers[a].ledger.received >= 10
                                         for a in ("websocket", "long_poll")), 20, "the page's feeds")
    finally:
        lab.stop()
    har = to_har(events)["log"]["entries"]
    sockets = [e for e in har if e["_resourceType"] == "websocket"]
    assert sockets and sockets[0]["response"]["status"] == 101
    frames = sockets[0]["_webSocketMessages"]
    assert {f["type"] for f in frames} == {"send", "receive"} and all(f["opcode"] == 1 for f in frames)
    received = [f for f in frames if f["type"] == "receive"]
    assert len(received) >= 10 and json.loads(received[-1]["data"])["seq"] > 0
    polls = [e for e in har if "/api/longpoll" in e["request"]["url"]]
    assert polls and all(p["_resourceType"] == "fetch" for p in polls)
    assert any(p["response"]["status"] == 200 for p in polls)
    document = next(e for e in har if e["request"]["url"].endswith("/demo?apis=ws,longpoll"))
    assert document["_resourceType"] == "document" and document["response"]["status"] == 200


async def test_the_bytes_split_per_api_shows_polling_paying_heads_that_push_does_not():
    lab = start_lab(rate=5)  # a few messages per poll: each answer's head is shared by few
    apis = ("websocket", "sse", "short_poll")

    def per(tab, what):
        return {a: (tab.wire.get(a, 0) if what == "wire" else tab.receivers[a].stats.payload)
                / tab.receivers[a].stats.messages for a in apis}

    try:
        async with Browser([]) as b:
            tab = await b.watch.open_tab(lab.url + "/demo?apis=ws,sse,poll")
            await wait_until(lambda: all(a in tab.receivers and tab.receivers[a].stats.messages >= 25 for a in apis),
                             30, "three feeds")
            # a stream's bytes are reported as they arrive, its events as they complete: let them meet
            await wait_until(lambda: per(tab, "wire")["sse"] > per(tab, "payload")["sse"], 10, "the SSE bytes")
            wire, payload = per(tab, "wire"), per(tab, "payload")
    finally:
        lab.stop()
    assert payload["websocket"] < wire["websocket"] <= payload["websocket"] + 4  # frame headers only
    assert wire["sse"] - payload["sse"] < 60  # "id:", "event:", "data:" lines
    assert wire["short_poll"] > wire["sse"]  # a head per poll, shared by the few messages of its answer
