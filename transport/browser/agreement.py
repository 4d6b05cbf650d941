"""Virtual against real: one scenario on Duplex's virtual browser and on Chromium, and where they agree.

Against a Duplex lab (its URL and admin token), both browsers: log in (the session cookie and its
flags; what a page's script sees of it), keep ``sessionStorage`` across a reload, start a new tab
empty and lose a closed tab's, come back after a server restart (the EventSource by itself with
``Last-Event-ID``, the WebSocket with ``?after=``, nothing lost or duplicated), and meet the session's
server-side expiry. Each aspect is observed on each side, never written down: :func:`compare` runs
both and returns one row per aspect.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from transport.clients.virtual_browser import VirtualBrowser
from transport.browser.chromium_watch import WatchedBrowser
from transport.clients.session_api import session_request
from transport.clients.sse import SSEClient, SSEOptions
from transport.clients.websocket import WebSocketClient, WebSocketOptions
from transport.core.errors import BadStatus, DuplexError
from transport.core.events import Event
from transport.clients.lab_admin import lab_sessions, post_fault, post_settings
from transport.core.wire import SESSION_COOKIE

ASPECTS = (
    ("cookie_httponly", "login: the session cookie is HttpOnly"),
    ("cookie_samesite", "login: its SameSite"),
    ("cookie_path", "login: its Path"),
    ("script_sees_cookie", "document.cookie shows the session cookie"),
    ("storage_after_reload", "sessionStorage kept across a reload"),
    ("new_tab_storage", "a new tab's sessionStorage starts empty"),
    ("closed_tab_storage", "a closed tab's sessionStorage is gone"),
    ("sse_last_event_id", "EventSource after a server restart: sends Last-Event-ID"),
    ("sse_loss", "EventSource across the restart: lost / duplicated"),
    ("ws_resume", "WebSocket after a reload / reconnect: asks ?after="),
    ("ws_loss", "WebSocket across the restart: lost / duplicated"),
    ("expired_me", "after the session's absolute expiry: /session/me answers"),
)
RESTART_DOWN_S = 1.0
EXPIRY_S = 3


@dataclass
class Row:
    key: str
    aspect: str
    virtual: str
    real: str

    @property
    def agree(self) -> bool:
        return self.virtual == self.real

    def to_json(self) -> dict[str, Any]:
        return {"aspect": self.aspect, "virtual": self.virtual, "real": self.real, "agree": self.agree}


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise DuplexError(f"The comparison waited {timeout:g} s for {what}.")
        await asyncio.sleep(0.05)


async def compare(lab_url: str, token: str, say: Callable[[str], None] = lambda _s: None) -> list[Row]:
    """Run the scenario on both browsers (virtual first) and compare what each showed."""
    say("virtual browser: running the scenario…")
    virtual = await run_virtual(lab_url, token)
    say("Chromium: running the scenario…")
    real = await run_real(lab_url, token)
    return [Row(key, aspect, virtual.get(key, "—"), real.get(key, "—")) for key, aspect in ASPECTS]


def _cookie_facts(httponly: bool, samesite: str, path: str) -> dict[str, str]:
    return {"cookie_httponly": "yes" if httponly else "no", "cookie_samesite": samesite.capitalize() or "(none)",
            "cookie_path": path or "/"}


async def run_virtual(lab_url: str, token: str) -> dict[str, str]:
    found: dict[str, str] = {}
    browser = VirtualBrowser("comparison")
    tab = browser.new_tab()
    page = lab_url + "/demo"
    await session_request(browser, lab_url + "/session/login", {"user": "ana"})
    cookie = next(c for c in browser.cookies() if c.name == SESSION_COOKIE)
    found.update(_cookie_facts(cookie.httponly, cookie.samesite, cookie.path))
    found["script_sees_cookie"] = "yes" if SESSION_COOKIE in browser.script_cookies(page) else "no"
    # the page's visit counter, kept as the demo page keeps it
    storage = tab.session_storage(page)
    storage["visits"] = "1"
    tab.reload()
    found["storage_after_reload"] = "yes" if tab.session_storage(page).get("visits") == "1" else "no"
    other = browser.new_tab()
    found["new_tab_storage"] = "empty" if not other.session_storage(page) else "not empty"
    tab.close()
    found["closed_tab_storage"] = "gone" if not tab.storage_items() else "kept"
    # a server restart under an EventSource and a WebSocket
    events: list[Event] = []
    sse = SSEClient(SSEOptions(lab_url + "/sse", browser=browser), events.append)
    ws = WebSocketClient(WebSocketOptions(lab_url.replace("http", "ws", 1) + "/ws", browser=browser),
                         events.append)
    runs = [asyncio.ensure_future(sse.run()), asyncio.ensure_future(ws.run())]
    try:
        await until(lambda: sse.ledger.received >= 10 and ws.ledger.received >= 10, 20, "the virtual feeds")
        await post_fault(lab_url, token, {"action": "restart", "down_s": RESTART_DOWN_S})
        await until(lambda: all(c.ledger.episodes and c.ledger.episodes[-1].recovered for c in (sse, ws)), 30,
                    "the virtual browser's recovery")
        target = (sse.ledger.received + 10, ws.ledger.received + 10)
        await until(lambda: sse.ledger.received >= target[0] and ws.ledger.received >= target[1], 20,
                    "messages after the restart")
    finally:
        await sse.close()
        await ws.close()
        await asyncio.gather(*runs, return_exceptions=True)
    resumed = [e for e in events if e.transport == "sse" and e.kind == "request"][1:]
    found["sse_last_event_id"] = "yes" if any(e.meta.get("last_event_id") for e in resumed) else "no"
    found["sse_loss"] = f"{sse.ledger.lost} / {sse.ledger.duplicated}"
    opened = [e for e in events if e.transport == "websocket" and e.kind == "open"][1:]
    found["ws_resume"] = "yes" if any("after=" in (e.data or "") for e in opened) else "no"
    found["ws_loss"] = f"{ws.ledger.lost} / {ws.ledger.duplicated}"
    found["expired_me"] = await _expiry(lab_url, token, lambda: _virtual_me(browser, lab_url))
    return found


async def _virtual_me(browser: VirtualBrowser, lab_url: str) -> str:
    async with aiohttp.ClientSession(cookie_jar=browser.jar) as http:
        async with http.get(lab_url + "/session/me") as resp:
            return str(resp.status)


async def _expiry(lab_url: str, token: str, me: Callable[[], Any]) -> str:
    """Shorten the sessions' absolute lifetime, wait it out, ask /session/me, and put the lab's back."""
    before = (await lab_sessions(lab_url, token)).get("absolute")
    await post_settings(lab_url, token, {"absolute": EXPIRY_S})
    try:
        await asyncio.sleep(EXPIRY_S + 0.5)  # the server's clock must pass the session's absolute end
        return str(await me())
    finally:
        if isinstance(before, (int, float)) and before > 0:
            await post_settings(lab_url, token, {"absolute": before})


async def run_real(lab_url: str, token: str) -> dict[str, str]:
    found: dict[str, str] = {}
    events: list[Event] = []
    async with WatchedBrowser(events.append) as watch:
        page = lab_url + "/demo?apis=ws,sse"
        tab = await watch.open_tab(page)
        await until(lambda: tab.storage.get("visits") == "1", 15, "the page's first visit")
        status = await watch.evaluate(tab, "fetch('/session/login', {method: 'POST', headers: {'Content-Type': "
                                           "'application/json'}, body: JSON.stringify({user: 'ana'})})"
                                           ".then(r => r.status)")
        if status != 200:
            raise BadStatus(f"Chromium's login answered HTTP {status}.", int(status or 0))
        cookie = next(c for c in await watch.cookies(tab) if c["name"] == SESSION_COOKIE)
        found.update(_cookie_facts(bool(cookie.get("httpOnly")), str(cookie.get("sameSite", "")),
                                   str(cookie.get("path", "/"))))
        found["script_sees_cookie"] = "yes" if SESSION_COOKIE in (await watch.evaluate(tab, "document.cookie")) \
            else "no"
        await watch.reload(tab)
        await until(lambda: tab.storage.get("visits") == "2", 15, "the reload's visit")
        found["storage_after_reload"] = "yes"
        other = await watch.open_tab(page)
        await until(lambda: "visits" in other.storage, 15, "the new tab's first visit")
        found["new_tab_storage"] = "empty" if other.storage.get("visits") == "1" else "not empty"
        await watch.close_tab(tab)
        found["closed_tab_storage"] = "gone" if tab.closed else "kept"
        # the restart, on the second tab
        await until(lambda: all(a in other.receivers and other.receivers[a].ledger.received >= 10
                                for a in ("websocket", "sse")), 20, "Chromium's feeds")
        await post_fault(lab_url, token, {"action": "restart", "down_s": RESTART_DOWN_S})
        await until(lambda: all(other.receivers[a].ledger.episodes and other.receivers[a].ledger.episodes[-1].recovered
                                for a in ("websocket", "sse")), 30, "Chromium's recovery")
        target = {a: other.receivers[a].ledger.received + 10 for a in ("websocket", "sse")}
        await until(lambda: all(other.receivers[a].ledger.received >= n for a, n in target.items()), 20,
                    "messages after the restart")
        mine = [e for e in events if e.conn == other.number]
        found["sse_last_event_id"] = "yes" if any(e.transport == "sse" and e.kind == "resume" for e in mine) else "no"
        sse, ws = other.receivers["sse"].ledger, other.receivers["websocket"].ledger
        found["sse_loss"] = f"{sse.lost} / {sse.duplicated}"
        reopened = [e for e in mine if e.transport == "websocket" and e.kind == "connecting"][1:]
        found["ws_resume"] = "yes" if any("after=" in (e.data or "") for e in reopened) else "no"
        found["ws_loss"] = f"{ws.lost} / {ws.duplicated}"
        found["expired_me"] = await _expiry(lab_url, token, lambda: watch.evaluate(
            other, "fetch('/session/me').then(r => String(r.status))"))
    return found
