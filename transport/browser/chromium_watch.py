"""A real browser's traffic as Duplex events: Chromium watched through the DevTools protocol.

:class:`BrowserWatch` attaches to Chromium's pages (each tab is a connection: ``conn`` is its number)
and turns what the page does into the events every other client emits:

- ``websocket``: the handshake (request / response), every frame sent and received, the close
  (``Network.webSocket*``); frames received go through a :class:`FeedReceiver`, so a lab feed has a
  ledger across the page's reconnects and reloads;
- ``sse``: each ``EventSource`` message (``Network.eventSourceMessageReceived``), with its type and id;
- ``http``: each HTTP exchange (request; response at its end, ``wire`` = ``encodedDataLength``); the
  bodies of the lab's poll answers (``Network.getResponseBody``) feed the ``short_poll`` / ``long_poll``
  ledgers, and any ``fetch`` / XHR answer of NDJSON or ``text/event-stream`` is read as it arrives
  (``Network.streamResourceContent``), message by message, into the ``stream`` ledger, on any URL;
- ``socketio``: a page's Socket.IO, decoded alike over polling (GET and POST bodies) and WebSocket frames
  (chromium_sio.py);
- ``browser``: what happens to the tab itself (opened, navigated, reloaded, closed, offline, its
  ``sessionStorage`` changing: ``DOMStorage``) and its cookies as set (by the server's ``Set-Cookie``, by
  a script) and as sent.

What CDP does not say (a WebSocket's close code and reason, cookies set by script) an init script reports
from inside the page (chromium_hooks.py). A reload or a navigation ends the old document's connections
(close rows, an episode in each ledger), and so does going offline.

Only I/O lives here (the protocol calls); the feed's meaning is the shared receiver's.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from transport.browser.cdp import CDPConnection, CDPError
from transport.core.envelope import split_json_list
from transport.core.wsframes import frame_overhead
from transport.clients.sse import CONTROL_TYPES
from transport.core.events import Event, EventSink, Outbox, now_ns
from transport.core.receiver import FeedReceiver
from transport.core.sse import EventStreamParser, ServerSentEvent
from transport.core.urls import is_loopback
from transport.core.wire import LONGPOLL_PATH, POLL_PATH, SSE_PATH, STREAM_PATH, WS_PATH
from transport.browser.chromium_hooks import (BINDING, INIT_SCRIPT, cookie_text, page_report, parse_set_cookie, sent_cookies,
                             set_cookie_lines)
from transport.browser.chromium_sio import MAX_SESSIONS, PageSession, engineio_sid, engineio_transport

log = logging.getLogger("duplex.clients.chromium")

FEED_OF_PATH = {POLL_PATH: "short_poll", LONGPOLL_PATH: "long_poll", STREAM_PATH: "stream"}
SESSION_ME = "/session/me"  # the lab's "who am I": the page asks it every 2 s
MAX_BODY = 16 << 20  # a response body read for the ledger: larger ones are not asked for
OPCODE_TEXT, OPCODE_BINARY = 1, 2
STREAM_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-seq", "application/stream+json",
                "application/jsonlines", "text/event-stream")  # a fetch / XHR body read message by message
CLOSE_WAIT_S = 0.5  # how long a WebSocket's close row waits for the page's report of its code and reason
MAX_WAITING = 256  # close reports, headers and streams waiting for their other half, per tab
MAX_LANE = 10_000  # Engine.IO steps waiting behind a polling answer's body, per tab
OFFLINE_ERROR = "net::ERR_INTERNET_DISCONNECTED"


@dataclass
class PageTab:
    """One browser tab Duplex watches."""

    number: int
    target: str
    session: str
    url: str = ""
    page: str = ""  # the page it was opened on, as the user named it (before a fault proxy's address)
    closed: bool = False
    offline: bool = False
    receivers: dict[str, FeedReceiver] = field(default_factory=dict)  # per API: websocket, sse, …
    sockets: dict[str, str] = field(default_factory=dict)  # a WebSocket's request id → its URL
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)  # request id → what is known of it
    streaming: dict[str, bytearray] = field(default_factory=dict)  # NDJSON request id → an unfinished line
    extra: dict[str, dict[str, str]] = field(default_factory=dict)  # headers sent, when they come first
    extra_in: dict[str, dict[str, Any]] = field(default_factory=dict)  # raw response heads that came first
    handshakes: dict[str, dict[str, str]] = field(default_factory=dict)  # a WebSocket's request headers
    storage: dict[str, str] = field(default_factory=dict)  # its sessionStorage (the page's origin)
    frames_in: int = 0
    sse_in: int = 0
    session_status: int | None = None  # what the page's last /session/me was answered
    wire: dict[str, int] = field(default_factory=dict)  # per API: bytes received for it (frames, bodies, heads)
    hooked: bool = False  # the init script reports close codes and script cookies in this tab
    loader: str = ""  # the document's loader id: requests of an older one ended with it
    sio: dict[str, PageSession] = field(default_factory=dict)  # Engine.IO sid → the page's session
    sio_sockets: dict[str, PageSession | None] = field(default_factory=dict)  # Engine.IO WebSocket → session
    sio_lane: deque[list[Any]] = field(default_factory=deque)  # [ready, step]: Engine.IO in CDP's order
    sse_bodies: dict[str, EventStreamParser] = field(default_factory=dict)  # text/event-stream fetch → parser
    closes_told: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # URL → the page's close reports
    closes_waiting: dict[str, tuple[str, asyncio.TimerHandle]] = field(default_factory=dict)  # socket → (URL, timer)
    cookies_sent: dict[str, tuple[str, ...]] = field(default_factory=dict)  # origin → the cookies last sent
    offline_since: int | None = None  # when the tab went offline (now_ns), None while online
    offline_failures: int = 0  # requests that failed while offline


class BrowserWatch:
    def __init__(self, cdp: CDPConnection, sink: EventSink, *, one_way: bool | None = None) -> None:
        self.cdp = cdp
        self._out = Outbox(sink)
        self._one_way = one_way
        self.tabs: dict[int, PageTab] = {}
        self._by_session: dict[str, PageTab] = {}
        self._numbers = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        cdp.listen(self._on_event)

    # -- tabs ------------------------------------------------------------------------------------
    async def open_tab(self, url: str) -> PageTab:
        """A new tab (target) on ``url``, watched from its first request."""
        created = await self.cdp.send("Target.createTarget", {"url": "about:blank"})
        tab = await self.attach(created["targetId"])
        await self.navigate(tab, url)
        return tab

    async def attach(self, target: str, url: str = "") -> PageTab:
        """Watch an existing tab (a page target)."""
        attached = await self.cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        self._numbers += 1
        tab = PageTab(self._numbers, target, attached["sessionId"], url)
        self.tabs[tab.number] = tab
        self._by_session[tab.session] = tab
        s = tab.session
        await self.cdp.send("Network.enable", {"maxTotalBufferSize": 64 << 20, "maxResourceBufferSize": MAX_BODY},
                            session=s)
        await self.cdp.send("Page.enable", session=s)
        await self.cdp.send("DOMStorage.enable", session=s)
        await self._hook(tab)
        self.note(tab, "tab", f"tab {tab.number} watched" + (f" on {url}" if url else ""))
        return tab

    async def _hook(self, tab: PageTab) -> None:
        """The init script in every document the tab opens from now on (and in the one it shows: its
        sockets opened later report their close too)."""
        s = tab.session
        try:
            await self.cdp.send("Runtime.enable", session=s)  # Runtime.bindingCalled comes only with it
            await self.cdp.send("Runtime.addBinding", {"name": BINDING}, session=s)
            await self.cdp.send("Page.addScriptToEvaluateOnNewDocument", {"source": INIT_SCRIPT}, session=s)
            await self.cdp.send("Runtime.evaluate", {"expression": INIT_SCRIPT}, session=s)
        except CDPError as err:
            log.info("the page's init script could not be installed: %s", err.sentence)
            return
        tab.hooked = True

    async def attach_pages(self) -> list[PageTab]:
        """Watch every page the browser has open (attaching to a browser the user started)."""
        found = await self.cdp.send("Target.getTargets")
        tabs = []
        for info in found.get("targetInfos", []):
            if info.get("type") == "page" and not info.get("attached"):
                tabs.append(await self.attach(info["targetId"], info.get("url", "")))
        return tabs

    async def navigate(self, tab: PageTab, url: str) -> None:
        tab.url = url
        self.note(tab, "navigate", f"navigate to {url}")
        answer = await self.cdp.send("Page.navigate", {"url": url}, session=tab.session)
        if answer.get("errorText"):
            raise CDPError(f"Chromium could not open {url}: {answer['errorText']}.")

    async def reload(self, tab: PageTab) -> None:
        """Reload: the page's WebSocket closes and a new one opens; sessionStorage stays."""
        self.note(tab, "reload", "reload (sessionStorage stays; the page's connections start again)")
        await self.cdp.send("Page.reload", {"ignoreCache": True}, session=tab.session)

    async def close_tab(self, tab: PageTab) -> None:
        """Close the tab: its sessionStorage is gone with it."""
        await self.cdp.send("Target.closeTarget", {"targetId": tab.target})
        self._closed(tab, "closed by Duplex")

    async def set_network(self, tab: PageTab, offline: bool, latency_ms: float = 0, down_kbps: float = -1,
                          up_kbps: float = -1) -> None:
        """Offline / online and throttling (``Network.emulateNetworkConditions``; -1: no limit)."""
        await self.cdp.send("Network.emulateNetworkConditions", {
            "offline": offline, "latency": latency_ms,
            "downloadThroughput": down_kbps * 1024 / 8 if down_kbps > 0 else -1,
            "uploadThroughput": up_kbps * 1024 / 8 if up_kbps > 0 else -1}, session=tab.session)
        tab.offline = offline
        what = "offline" if offline else "online"
        if latency_ms or down_kbps > 0 or up_kbps > 0:
            what += f", {latency_ms:g} ms latency, {down_kbps:g}/{up_kbps:g} kbit/s down/up"
        if offline:
            self._offline(tab, what)
        else:
            self._online(tab, what)

    def _offline(self, tab: PageTab, what: str) -> None:
        """The tab lost the network: every connection of it is gone (an episode in each ledger)."""
        if tab.offline_since is not None:
            return
        tab.offline_since = now_ns()
        tab.offline_failures = 0
        self.note(tab, "network", what + ": every connection of the tab is lost")
        self._all_lost(tab, "the tab went offline")

    def _online(self, tab: PageTab, what: str) -> None:
        since, tab.offline_since = tab.offline_since, None
        if since is not None:
            what += f" after {(now_ns() - since) / 1e9:.1f} s offline ({tab.offline_failures} requests failed meanwhile)"
        self.note(tab, "network", what)

    def _all_lost(self, tab: PageTab, why: str) -> None:
        for receiver in tab.receivers.values():
            receiver.connection_lost()
        t = now_ns()
        for session in tab.sio.values():
            session.lost(f"{why}: the Socket.IO session's connection is gone", t)

    async def evaluate(self, tab: PageTab, expression: str, await_promise: bool = True) -> Any:
        """The value of a JavaScript expression in the page (JSON-able values)."""
        answer = await self.cdp.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                          "awaitPromise": await_promise}, session=tab.session)
        if "exceptionDetails" in answer:
            text = answer["exceptionDetails"].get("exception", {}).get("description") or answer["exceptionDetails"]
            raise CDPError(f"The page's script failed: {str(text)[:200]}")
        return answer.get("result", {}).get("value")

    async def cookies(self, tab: PageTab) -> list[dict[str, Any]]:
        """The browser's cookies for the tab's page (``Network.getCookies``: HttpOnly ones included)."""
        answer = await self.cdp.send("Network.getCookies", {"urls": [tab.url]} if tab.url else {},
                                     session=tab.session)
        return list(answer.get("cookies", []))

    async def session_storage(self, tab: PageTab) -> dict[str, str]:
        """The tab's sessionStorage as the page sees it."""
        value = await self.evaluate(tab, "JSON.stringify(Object.fromEntries(Object.entries(sessionStorage)))")
        return json.loads(value) if isinstance(value, str) else {}

    def receiver(self, tab: PageTab, api: str, url: str) -> FeedReceiver:
        """The tab's feed receiver for one API (its ledger spans the page's reconnects and reloads)."""
        got = tab.receivers.get(api)
        if got is None:
            host = urlsplit(url).hostname
            got = tab.receivers[api] = FeedReceiver(api, self._out, one_way=self._one_way,
                                                    same_machine=is_loopback(host))
            got.conn = tab.number
        return got

    async def close(self) -> None:
        for tab in self.tabs.values():
            for _url, timer in tab.closes_waiting.values():
                timer.cancel()
            tab.closes_waiting.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- events ----------------------------------------------------------------------------------
    def note(self, tab: PageTab, kind: str, text: str, meta: dict[str, Any] | None = None,
               transport: str = "browser") -> None:
        self._out(Event(transport, "state", kind, now_ns(), tab.number, data=text, meta=meta or {}))

    def _emit(self, tab: PageTab, transport: str, direction: str, kind: str, **fields: Any) -> None:
        fields.setdefault("t", now_ns())
        self._out(Event(transport, direction, kind, conn=tab.number, **fields))

    def _closed(self, tab: PageTab, why: str) -> None:
        if tab.closed:
            return
        tab.closed = True
        for receiver in tab.receivers.values():
            receiver.connection_lost()
        self.note(tab, "close", f"tab {tab.number} {why}: its sessionStorage is gone")
        self._by_session.pop(tab.session, None)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.info("a DevTools follow-up failed: %s", getattr(exc, "sentence", exc))

    def _on_event(self, method: str, p: dict[str, Any], session: str | None) -> None:
        if method == "Target.detachedFromTarget":
            tab = self._by_session.get(p.get("sessionId", ""))
            if tab is not None:
                self._closed(tab, "closed")
            return
        tab = self._by_session.get(session or "")
        if tab is None:
            return
        handler = _HANDLERS.get(method)
        if handler is not None:
            handler(self, tab, p)

    # WebSocket
    def _ws_created(self, tab: PageTab, p: dict[str, Any]) -> None:
        url = p.get("url", "")
        rid = p["requestId"]
        tab.sockets[rid] = url
        if engineio_transport(url) == "websocket":  # a Socket.IO client's WebSocket: decoded as Socket.IO
            sid = engineio_sid(url)
            tab.sio_sockets[rid] = tab.sio.get(sid) if sid else None
            if len(tab.sio_sockets) > MAX_WAITING:
                tab.sio_sockets.pop(next(iter(tab.sio_sockets)))
        else:
            receiver = self.receiver(tab, "websocket", url)
            if receiver.ledger.received or receiver.ledger.episodes:
                receiver.resume_started()  # a new socket of the same page: what comes before live is a replay
        self._emit(tab, "websocket", "state", "connecting", data=url, meta={"socket": rid})

    def _ws_request(self, tab: PageTab, p: dict[str, Any]) -> None:
        tab.handshakes[p["requestId"]] = p.get("request", {}).get("headers", {})

    def _ws_response(self, tab: PageTab, p: dict[str, Any]) -> None:
        """The handshake's answer: the socket is open (one row, with both sides' headers, as the WebSocket
        client writes it and HAR's ``_webSocketMessages`` entry reads it)."""
        response = p.get("response", {})
        headers = response.get("headers", {})
        rid = p["requestId"]
        url = tab.sockets.get(rid, "")
        api = "socketio" if rid in tab.sio_sockets else "websocket"
        receiver = self.receiver(tab, api, url)
        receiver.note_epoch({k.lower(): v for k, v in headers.items()} | headers)
        status = response.get("status")
        # RFC 8441: over HTTP/2 the handshake is an extended CONNECT answered 200; over HTTP/1.1 a 101
        protocol = "h2 (RFC 8441)" if status == 200 else "http/1.1" if status == 101 else None
        self._emit(tab, "websocket", "state", "open", data=url + (f" · {protocol}" if protocol else ""), meta={
            "status": status, "request_headers": tab.handshakes.pop(rid, {}),
            "response_headers": headers, "socket": rid, "protocol": protocol})

    def _ws_frame_in(self, tab: PageTab, p: dict[str, Any]) -> None:
        frame = p.get("response", {})
        rid = p["requestId"]
        data = frame.get("payloadData", "")
        t = now_ns()
        tab.frames_in += 1
        payload: str | bytes = base64.b64decode(data) if frame.get("opcode") == OPCODE_BINARY else data
        size = len(payload) if isinstance(payload, bytes) else len(payload.encode())
        wire = size + frame_overhead(size, masked=False)
        if rid in tab.sio_sockets:
            tab.wire["socketio"] = tab.wire.get("socketio", 0) + wire
            self._sio_step(tab, lambda: self._sio_socket(tab, rid).frame_in(payload, t, wire))
            return
        receiver = self.receiver(tab, "websocket", tab.sockets.get(rid, ""))
        if isinstance(payload, bytes):
            receiver.binary(payload, t, wire)
        else:
            receiver.text(payload, t, wire, size=size)
        tab.wire["websocket"] = tab.wire.get("websocket", 0) + wire

    def _ws_frame_out(self, tab: PageTab, p: dict[str, Any]) -> None:
        frame = p.get("response", {})
        data = frame.get("payloadData", "")
        payload: str | bytes = base64.b64decode(data) if frame.get("opcode") == OPCODE_BINARY else data
        rid = p["requestId"]
        if rid in tab.sio_sockets:
            t = now_ns()
            self._sio_step(tab, lambda: self._sio_socket(tab, rid).frame_out(payload, t))
            return
        size = len(payload) if isinstance(payload, bytes) else len(payload.encode())
        self._emit(tab, "websocket", "out", "message", size=size, wire=size + frame_overhead(size, masked=True), data=payload)

    def _sio_step(self, tab: PageTab, step: Callable[[], None] | None, ready: bool = True) -> list[Any]:
        """One step of the page's Socket.IO, taken in the order Chromium reported it: a polling answer's
        body is read after the answer ended, and what came after it waits for it (bounded)."""
        entry = [ready, step]
        if len(tab.sio_lane) >= MAX_LANE:  # a body that never comes: what waits behind it goes on
            self._sio_release(tab, tab.sio_lane[0], None)
        tab.sio_lane.append(entry)
        self._sio_drain(tab)
        return entry

    def _sio_release(self, tab: PageTab, entry: list[Any], step: Callable[[], None] | None) -> None:
        entry[0], entry[1] = True, step
        self._sio_drain(tab)

    def _sio_drain(self, tab: PageTab) -> None:
        lane = tab.sio_lane
        while lane and lane[0][0]:
            step = lane.popleft()[1]
            if step is not None:
                step()

    def _sio_socket(self, tab: PageTab, rid: str) -> PageSession:
        """The Engine.IO session a WebSocket carries (a WebSocket-only client's is born on it)."""
        session = tab.sio_sockets.get(rid)
        if session is None:
            url = tab.sockets.get(rid, "")
            session = self._sio_session(tab, engineio_sid(url), url)
            session.via = "websocket"
            tab.sio_sockets[rid] = session
        return session

    def _sio_session(self, tab: PageTab, sid: str | None, url: str) -> PageSession:
        found = tab.sio.get(sid) if sid else None
        if found is not None:
            return found
        receiver = self.receiver(tab, "socketio", url)
        if receiver.ledger.received or receiver.ledger.episodes:
            receiver.resume_started()
        session = PageSession(receiver, lambda d, k, **f: self._emit(tab, "socketio", d, k, **f), sid)
        if sid:
            tab.sio[sid] = session
        else:  # the handshake's sid is in the body: kept once it is read
            tab.sio[f"new:{id(session)}"] = session
        while len(tab.sio) > MAX_SESSIONS:
            tab.sio.pop(next(iter(tab.sio)))
        return session

    def _ws_closed(self, tab: PageTab, p: dict[str, Any]) -> None:
        """A WebSocket closed: its row waits (briefly) for the page's report of the code and reason."""
        rid = p["requestId"]
        url = tab.sockets.pop(rid, None)
        if url is None:  # already ended with its document (a reload, a navigation)
            return
        if rid in tab.sio_sockets:
            t = now_ns()

            def closed() -> None:
                session = tab.sio_sockets.pop(rid, None)
                if session is not None and session.via == "websocket":
                    session.lost("the page's Socket.IO WebSocket closed", t)
            self._sio_step(tab, closed)
        elif engineio_transport(url) is None:
            receiver = tab.receivers.get("websocket")
            if receiver is not None:
                receiver.connection_lost()
        told = tab.closes_told.get(url)
        if told:
            self._close_row(tab, rid, url, told.pop(0))
        elif tab.hooked and len(tab.closes_waiting) < MAX_WAITING:
            timer = asyncio.get_running_loop().call_later(CLOSE_WAIT_S, self._close_untold, tab, rid)
            tab.closes_waiting[rid] = (url, timer)
        else:
            self._close_row(tab, rid, url, None)

    def _close_untold(self, tab: PageTab, rid: str) -> None:
        waiting = tab.closes_waiting.pop(rid, None)
        if waiting is not None:
            self._close_row(tab, rid, waiting[0], None)

    def _close_row(self, tab: PageTab, rid: str, url: str, told: dict[str, Any] | None, by: str = "") -> None:
        meta: dict[str, Any] = {"socket": rid}
        text = f"closed {url}"
        if told is not None:
            code, reason = told.get("code"), str(told.get("reason", ""))[:200]
            meta.update(code=code, reason=reason, clean=bool(told.get("clean")))
            text += f": code {code}" + (f" \"{reason}\"" if reason else "") \
                + ("" if told.get("clean") else " (not clean)")
        elif by:
            text += f": {by}"
        if by:
            meta["by"] = by
        self._emit(tab, "websocket", "state", "close", data=text, meta=meta)

    def _page_report(self, tab: PageTab, p: dict[str, Any]) -> None:
        """What the init script saw in the page (Runtime.bindingCalled)."""
        if p.get("name") != BINDING:
            return
        report = page_report(p.get("payload"))
        if report is None:
            return
        if report["k"] == "ws_close":
            url = str(report.get("url", ""))[:2000]
            rid = next((r for r, (u, _timer) in tab.closes_waiting.items() if u == url), None)
            if rid is None and len(tab.closes_waiting) == 1:  # one socket waits: its URL was spelt otherwise
                rid = next(iter(tab.closes_waiting))
            if rid is not None:
                waited_url, timer = tab.closes_waiting.pop(rid)
                timer.cancel()
                self._close_row(tab, rid, waited_url, report)
            elif len(tab.closes_told) < MAX_WAITING and len(tab.closes_told.get(url, ())) < 16:
                tab.closes_told.setdefault(url, []).append(report)
        elif report["k"] == "cookie":
            cookie = parse_set_cookie(str(report.get("text", "")))
            if cookie is not None:
                self._cookie_set(tab, cookie, "a script (document.cookie)", tab.url)
        else:
            cookie = {k: str(report.get(k, ""))[:4096] for k in ("name", "value", "path", "domain")}
            self._cookie_set(tab, cookie, "a script (cookieStore.set)", tab.url)

    def _cookie_set(self, tab: PageTab, cookie: dict[str, Any], by: str, url: str) -> None:
        self.note(tab, "cookie", f"cookie set by {by}: {cookie_text(cookie)}",
                  {"cookie": cookie, "by": by, "url": url})

    def _ws_error(self, tab: PageTab, p: dict[str, Any]) -> None:
        self._emit(tab, "websocket", "state", "error", data=p.get("errorMessage", "WebSocket error"))

    # EventSource
    def _sse_message(self, tab: PageTab, p: dict[str, Any]) -> None:
        info = tab.requests.get(p.get("requestId", ""), {})
        receiver = self.receiver(tab, "sse", info.get("url", tab.url))
        tab.sse_in += 1
        data = p.get("data", "")
        kind = p.get("eventName") or "message"
        meta = {"type": kind, "last_event_id": p.get("eventId", "")}
        size = len(data.encode())
        receiver.text(data, now_ns(), None, meta, size=size, control=kind if kind in CONTROL_TYPES else None)

    # HTTP
    def _request(self, tab: PageTab, p: dict[str, Any]) -> None:
        request = p.get("request", {})
        url = request.get("url", "")
        kind = p.get("type", "")
        rid = p["requestId"]
        if kind == "WebSocket" or url.startswith(("data:", "blob:")):
            return
        path = urlsplit(url).path
        method = request.get("method", "GET")
        info: dict[str, Any] = {"url": url, "type": kind, "path": path, "loader": p.get("loaderId", ""),
                                "method": method}
        tab.requests[rid] = info
        headers = request.get("headers", {})
        if kind == "EventSource":
            receiver = self.receiver(tab, "sse", url)
            if receiver.ledger.received or receiver.ledger.episodes:
                receiver.resume_started()
        self._emit(tab, "http", "out", "request", data=f"{method} {url}",
                   meta={"type": kind, "headers": headers, "request_id": rid})
        if engineio_transport(url) == "polling":
            info["eio"] = engineio_sid(url) or ""
            if method == "POST":
                body = _post_data(request)
                sid, t = info["eio"] or None, now_ns()
                if body is not None:
                    self._sio_step(tab, lambda: self._sio_session(tab, sid, url).payload_out(body, t))
                elif request.get("hasPostData"):
                    entry = self._sio_step(tab, None, ready=False)
                    self._spawn(self._post_body(tab, rid, entry, sid, url, t))
        sent = tab.extra.pop(rid, None)
        if sent is not None:
            self._sent_headers(tab, rid, sent)
        head = tab.extra_in.pop(rid, None)
        if head is not None:
            self._response_extra(tab, head)

    async def _post_body(self, tab: PageTab, rid: str, entry: list[Any], sid: str | None, url: str, t: int) -> None:
        step = None
        try:
            answer = await self.cdp.send("Network.getRequestPostData", {"requestId": rid}, session=tab.session)
            body = answer.get("postData")
            if isinstance(body, str):
                step = lambda: self._sio_session(tab, sid, url).payload_out(body, t)  # noqa: E731
        finally:
            self._sio_release(tab, entry, step)

    def _request_extra(self, tab: PageTab, p: dict[str, Any]) -> None:
        """The headers and cookies the request really carried (cookies, Last-Event-ID): they may come
        before the request's own event, or after it."""
        rid = p["requestId"]
        headers = dict(p.get("headers", {}))
        if p.get("associatedCookies"):
            headers[":cookies"] = p["associatedCookies"]  # kept with the headers until the request is known
        if rid in tab.requests:
            self._sent_headers(tab, rid, headers)
        elif len(tab.extra) < 1000:
            tab.extra[rid] = headers

    def _sent_headers(self, tab: PageTab, rid: str, headers: dict[str, Any]) -> None:
        info = tab.requests[rid]
        associated = headers.pop(":cookies", None)
        info["sent_headers"] = headers
        last_id = next((v for k, v in headers.items() if k.lower() == "last-event-id"), None)
        if info["type"] == "EventSource" and last_id is not None:
            self._emit(tab, "sse", "out", "resume", data=f"Last-Event-ID: {last_id}",
                       meta={"last_event_id": last_id, "url": info["url"]})
        if associated is not None:
            self._cookies_sent(tab, info, associated)

    def _cookies_sent(self, tab: PageTab, info: dict[str, Any], associated: object) -> None:
        """The cookies a request carried: in its response's row, and a row whenever what the page sends
        to an origin changes (the first time, after a login, after an expiry)."""
        sent, blocked = sent_cookies(associated)
        info["cookies_sent"] = sent
        if blocked:
            info["cookies_blocked"] = blocked
        parts = urlsplit(info["url"])
        origin = f"{parts.scheme}://{parts.netloc}"
        names = tuple(sorted(f"{c.get('name')}={c.get('value')}" for c in sent))
        if tab.cookies_sent.get(origin) == names and not blocked:
            return
        if len(tab.cookies_sent) < MAX_WAITING or origin in tab.cookies_sent:
            tab.cookies_sent[origin] = names
        text = f"cookies sent to {origin}: " + ("; ".join(names) if names else "none")
        if blocked:
            text += " · blocked: " + "; ".join(blocked)
        self.note(tab, "cookie", text, {"cookies": sent, "blocked": blocked, "url": info["url"]})

    def _response_extra(self, tab: PageTab, p: dict[str, Any]) -> None:
        """The response's raw headers: the cookies it set (and those the browser refused). They may come
        before the request's own event."""
        rid = p.get("requestId", "")
        info = tab.requests.get(rid)
        if info is None:
            if len(tab.extra_in) < 1000:
                tab.extra_in[rid] = p
            return
        url = info["url"]
        for line in set_cookie_lines(p.get("headers", {})):
            cookie = parse_set_cookie(line)
            if cookie is not None:
                self._cookie_set(tab, cookie, f"the server ({urlsplit(url).path or '/'})", url)
        for entry in (p.get("blockedCookies") or [])[:50]:
            if isinstance(entry, dict):
                reasons = ", ".join(map(str, entry.get("blockedReasons") or []))
                line = str(entry.get("cookieLine", ""))[:500]
                self.note(tab, "cookie", f"cookie refused by the browser ({reasons}): {line}",
                          {"blocked": reasons, "line": line, "url": url})

    def _response(self, tab: PageTab, p: dict[str, Any]) -> None:
        rid = p["requestId"]
        info = tab.requests.get(rid)
        if info is None:
            return
        response = p.get("response", {})
        info["status"] = response.get("status")
        info["status_text"] = response.get("statusText", "")
        info["headers"] = response.get("headers", {})
        info["protocol"] = response.get("protocol")  # h2, http/1.1 …: what the connection negotiated
        info["connection"] = response.get("connectionId")  # which of the browser's connections carried it
        status = info["status"]
        ok = isinstance(status, int) and status < 400
        api = "sse" if info["type"] == "EventSource" else FEED_OF_PATH.get(info["path"])
        if "eio" in info:
            api = "socketio"
        headers = info["headers"]
        if api is not None:
            self.receiver(tab, api, info["url"]).note_epoch({k.lower(): v for k, v in headers.items()} | headers,
                                                            ok=ok)
        mime = str(response.get("mimeType") or "").lower()
        if info["type"] == "EventSource" or (ok and mime in STREAM_TYPES):  # a stream: open now, it ends late
            self._emit(tab, "http", "state", "open", data=f"{info['status']} {info['url']}" + _on_connection(info),
                       meta={"status": info["status"], "type": info["type"], "request_id": rid,
                             "protocol": info["protocol"], "connection": info["connection"]})
        if info["type"] in ("Fetch", "XHR") and ok and "eio" not in info \
                and (mime in STREAM_TYPES or info["path"] == STREAM_PATH):
            tab.streaming[rid] = bytearray()
            if mime == "text/event-stream":
                tab.sse_bodies[rid] = EventStreamParser(max_size=MAX_BODY)
            info["stream"] = mime or "application/x-ndjson"
            self._spawn(self._stream_body(tab, rid))

    async def _stream_body(self, tab: PageTab, rid: str) -> None:
        """Ask Chromium for the body as it comes (what came before the ask is in ``bufferedData``). A body
        that ended before the answer is finished here; one that could not be streamed is read whole."""
        try:
            answer: dict[str, Any] | None = await self.cdp.send("Network.streamResourceContent", {"requestId": rid},
                                                                session=tab.session)
        except CDPError:
            answer = None
        info = tab.requests.get(rid)
        if info is None:
            return
        info["asked"] = True
        early: list[tuple[bytes, int]] = info.pop("early", [])
        if answer is None:
            info["stream_late"] = True
            return await self._end_stream(tab, rid, info["ended_at"]) if "ended_at" in info else None
        if answer.get("bufferedData"):  # what came before the ask, then what came beside the answer
            self._stream_bytes(tab, rid, base64.b64decode(answer["bufferedData"]), now_ns())
        for chunk, t in early:
            self._stream_bytes(tab, rid, chunk, t)
        if "ended_at" in info:
            await self._end_stream(tab, rid, info["ended_at"])

    async def _end_stream(self, tab: PageTab, rid: str, t: int) -> None:
        """The stream's answer ended: its last (unterminated) message, or its whole body if it could not
        be streamed."""
        try:
            info = tab.requests.get(rid, {})
            if info.get("stream_late"):
                self._stream_bytes(tab, rid, (await self._body(tab, rid)).encode(), t, end=True)
            else:
                self._stream_bytes(tab, rid, b"", t, end=True)
        finally:
            tab.requests.pop(rid, None)
            tab.streaming.pop(rid, None)
            tab.sse_bodies.pop(rid, None)

    def _data(self, tab: PageTab, p: dict[str, Any]) -> None:
        rid = p["requestId"]
        info = tab.requests.get(rid)
        if info is not None:  # a long response's bytes as they arrive (the EventSource, a stream)
            api = "sse" if info["type"] == "EventSource" else "stream" if "stream" in info else None
            if api is not None:
                tab.wire[api] = tab.wire.get(api, 0) + int(p.get("encodedDataLength") or 0)
        data = p.get("data")
        if data and rid in tab.streaming:
            if info is not None and not info.get("asked"):  # streaming began before Chromium's answer came:
                early = info.setdefault("early", [])  # these follow the answer's buffered bytes
                if len(early) < 10_000:
                    early.append((base64.b64decode(data), now_ns()))
                return
            self._stream_bytes(tab, rid, base64.b64decode(data), now_ns())

    def _stream_bytes(self, tab: PageTab, rid: str, chunk: bytes, t: int, end: bool = False) -> None:
        """A streamed body as it arrives: NDJSON lines or SSE events to the stream's receiver, an
        unfinished one kept (bounded)."""
        pending = tab.streaming.get(rid)
        if pending is None:
            return
        info = tab.requests.get(rid, {})
        receiver = self.receiver(tab, "stream", info.get("url", tab.url))
        parser = tab.sse_bodies.get(rid)
        if parser is not None:
            try:
                items = parser.feed(chunk) + (parser.end() if end else [])
            except ValueError:  # an event larger than the bound: the rest of this body is not read
                self._stream_dropped(tab, rid, receiver)
                return
            for event in items:
                if isinstance(event, ServerSentEvent):
                    meta = {"type": event.type, "last_event_id": event.last_event_id}
                    receiver.text(event.data, t, None, meta, size=len(event.data.encode()))
            return
        pending += chunk
        cut = len(pending) if end else pending.rfind(b"\n")
        if cut < 0:
            if len(pending) > MAX_BODY:
                self._stream_dropped(tab, rid, receiver)
            return
        lines, rest = bytes(pending[:cut]), pending[cut + 1:]
        tab.streaming[rid] = bytearray(rest)
        found = [(line, len(line.encode()), None) for line in lines.decode("utf-8", "replace").split("\n")
                 if line.strip()]
        if found:
            receiver.texts(found, t)

    def _stream_dropped(self, tab: PageTab, rid: str, receiver: FeedReceiver) -> None:
        tab.streaming.pop(rid, None)
        tab.sse_bodies.pop(rid, None)
        self._emit(tab, "stream", "state", "warning",
                   data=f"a message of more than {MAX_BODY >> 20} MiB: the rest of this body is not read")

    def _finished(self, tab: PageTab, p: dict[str, Any]) -> None:
        rid = p["requestId"]
        info = tab.requests.pop(rid, None)
        if info is None:
            return
        t = now_ns()
        if rid in tab.streaming:  # kept until its last bytes are read (the ask may still be on its way)
            tab.requests[rid] = info
            info["ended_at"] = t
            if info.get("asked"):
                self._spawn(self._end_stream(tab, rid, t))
        tab.extra.pop(rid, None)
        tab.extra_in.pop(rid, None)
        wire = int(p.get("encodedDataLength") or 0)
        status = info.get("status")
        meta: dict[str, Any] = {"status": status, "type": info["type"], "headers": info.get("headers", {}),
                                "encoded_data_length": wire, "request_id": rid, "protocol": info.get("protocol"),
                                "connection": info.get("connection")}
        for key in ("cookies_sent", "cookies_blocked"):
            if key in info:
                meta[key] = info[key]
        self._emit(tab, "http", "in", "response", wire=wire,
                   data=f"{status} {info.get('status_text', '')} {info['url']}".replace("  ", " ") + _on_connection(info),
                   meta=meta)
        if info["path"] == SESSION_ME and status != tab.session_status:
            self._session_seen(tab, status)
        api = FEED_OF_PATH.get(info["path"])
        if info["type"] == "EventSource":
            receiver = tab.receivers.get("sse")
            if receiver is not None:
                receiver.connection_lost()
        elif "eio" in info:
            tab.wire["socketio"] = tab.wire.get("socketio", 0) + wire
            if status == 200 and info["type"] in ("XHR", "Fetch") and info["method"] == "GET":
                entry = self._sio_step(tab, None, ready=False)
                self._spawn(self._sio_body(tab, rid, entry, info, wire, t))
        elif api in ("short_poll", "long_poll"):
            tab.wire[api] = tab.wire.get(api, 0) + wire  # the whole exchange: heads and body
            if status == 200:
                self._spawn(self._poll_body(tab, rid, api, info["url"]))

    async def _body(self, tab: PageTab, rid: str) -> str:
        answer = await self.cdp.send("Network.getResponseBody", {"requestId": rid}, session=tab.session)
        body = answer.get("body", "")
        if answer.get("base64Encoded"):
            body = base64.b64decode(body).decode("utf-8", "replace")
        return str(body)

    async def _sio_body(self, tab: PageTab, rid: str, entry: list[Any], info: dict[str, Any], wire: int,
                        t: int) -> None:
        """A polling GET's answer: the Engine.IO packets the page's client read (in the lane's order)."""
        step = None
        try:
            body = await self._body(tab, rid)

            def read() -> None:
                self._sio_session(tab, info["eio"] or None, info["url"]).payload_in(body, t, wire)
                self._sio_keyed(tab)
            step = read if body else None
        finally:
            self._sio_release(tab, entry, step)

    def _sio_keyed(self, tab: PageTab) -> None:
        """A session born on a handshake answer is known by its sid from now on."""
        for key in [k for k in tab.sio if k.startswith("new:")]:
            session = tab.sio.pop(key)
            if session.sid:
                tab.sio[session.sid] = session
            else:
                tab.sio[key] = session

    def _session_seen(self, tab: PageTab, status: int | None) -> None:
        """The session as the page sees it changed (a login, a logout, the server-side expiry)."""
        before, tab.session_status = tab.session_status, status
        if status == 200:
            text = "the page is logged in (/session/me: 200)"
        elif before == 200:
            text = f"the page's session is over: /session/me answers {status} (logged out, or expired on the server)"
        else:
            text = f"the page has no session (/session/me: {status})"
        self.note(tab, "session", text, {"status": status})

    async def _poll_body(self, tab: PageTab, rid: str, api: str, url: str) -> None:
        body = await self._body(tab, rid)
        try:
            items = split_json_list(body)
        except ValueError:
            return
        receiver = self.receiver(tab, api, url)
        receiver.texts([(text, len(text.encode()), None) for text, _value in items], now_ns())

    def _failed(self, tab: PageTab, p: dict[str, Any]) -> None:
        rid = p["requestId"]
        info = tab.requests.pop(rid, None)
        if info is None:
            return
        tab.streaming.pop(rid, None)
        tab.sse_bodies.pop(rid, None)
        text = p.get("errorText", "failed")
        if p.get("canceled") and ("stream" in info or info["type"] == "EventSource"):
            # the page let go of it (a reader cancelled or done, EventSource.close()): Chromium says
            # ERR_ABORTED even when every byte was read. Not a lost connection.
            api = "sse" if info["type"] == "EventSource" else "stream"
            self._emit(tab, api, "state", "close", data=f"{info['url']}: the page let go of it ({text}, canceled: also what Chromium says when a reader reads to the end)",
                       meta={"type": info["type"], "canceled": True, "by": "page"})
            return
        if text == OFFLINE_ERROR:
            if tab.offline_since is None:  # offline in the user's own DevTools, or the machine's network
                self._offline(tab, f"offline ({OFFLINE_ERROR})")
            tab.offline_failures += 1
        self._emit(tab, "http", "state", "error", data=f"{info['url']}: {text}",
                   meta={"type": info["type"], "canceled": bool(p.get("canceled"))})
        if info["type"] == "EventSource" and "sse" in tab.receivers:
            tab.receivers["sse"].connection_lost()
        elif "stream" in info and "stream" in tab.receivers:
            tab.receivers["stream"].connection_lost()
        elif "eio" in info and info["type"] in ("XHR", "Fetch"):
            t = now_ns()

            def failed() -> None:
                session = tab.sio.get(info["eio"])
                if session is not None and session.via == "polling":
                    session.lost(f"the page's Socket.IO polling request failed ({text})", t)
            self._sio_step(tab, failed)

    # the page and its storage
    def _navigated(self, tab: PageTab, p: dict[str, Any]) -> None:
        frame = p.get("frame", {})
        if frame.get("parentId"):
            return
        before = tab.url
        tab.url = frame.get("url", tab.url)
        loader = frame.get("loaderId", "")
        if tab.loader and loader != tab.loader:
            self._unloaded(tab, "the page was reloaded" if tab.url == before else f"the page left for {tab.url}")
        tab.loader = loader
        self.note(tab, "page", f"page {tab.url}")

    def _unloaded(self, tab: PageTab, why: str) -> None:
        """A new document: the old one's sockets, streams and polls are gone with it (Chromium tells
        nothing of them). Close rows, and an episode in every ledger of the tab."""
        for rid, url in list(tab.sockets.items()):
            waiting = tab.closes_waiting.pop(rid, None)
            if waiting is not None:
                waiting[1].cancel()
            self._close_row(tab, rid, url, None, by=why)
        tab.sockets.clear()
        tab.sio_sockets.clear()
        for rid, info in list(tab.requests.items()):
            if info.get("loader") == tab.loader and tab.loader and info["type"] in ("EventSource", "Fetch", "XHR"):
                del tab.requests[rid]
                tab.streaming.pop(rid, None)
                tab.sse_bodies.pop(rid, None)
                if info["type"] == "EventSource" or "stream" in info or "eio" in info:
                    api = "sse" if info["type"] == "EventSource" else "socketio" if "eio" in info else "stream"
                    self._emit(tab, api, "state", "close", data=f"closed {info['url']}: {why}", meta={"by": why})
        self._all_lost(tab, why)
        tab.sio.clear()

    def _storage(self, tab: PageTab, method: str, p: dict[str, Any]) -> None:
        if p.get("storageId", {}).get("isLocalStorage"):
            return
        key = p.get("key", "")
        if method.endswith("Cleared"):
            tab.storage.clear()
            text = "sessionStorage cleared"
        elif method.endswith("Removed"):
            tab.storage.pop(key, None)
            text = f"sessionStorage {key} removed"
        else:
            tab.storage[key] = p.get("newValue", "")
            text = f"sessionStorage {key} = {p.get('newValue', '')}"
        self.note(tab, "storage", text, {"storage": dict(tab.storage)})


def _post_data(request: dict[str, Any]) -> str | None:
    """A request's body as CDP gives it inline (``postData``, or the newer ``postDataEntries``)."""
    if isinstance(request.get("postData"), str):
        return str(request["postData"])
    entries = request.get("postDataEntries")
    if isinstance(entries, list) and entries:
        try:
            return b"".join(base64.b64decode(e.get("bytes", "")) for e in entries if isinstance(e, dict)) \
                .decode("utf-8", "replace")
        except ValueError:
            return None
    return None


_HANDLERS: dict[str, Any] = {
    "Network.webSocketCreated": BrowserWatch._ws_created,
    "Network.webSocketWillSendHandshakeRequest": BrowserWatch._ws_request,
    "Network.webSocketHandshakeResponseReceived": BrowserWatch._ws_response,
    "Network.webSocketFrameReceived": BrowserWatch._ws_frame_in,
    "Network.webSocketFrameSent": BrowserWatch._ws_frame_out,
    "Network.webSocketClosed": BrowserWatch._ws_closed,
    "Network.webSocketFrameError": BrowserWatch._ws_error,
    "Network.eventSourceMessageReceived": BrowserWatch._sse_message,
    "Network.requestWillBeSent": BrowserWatch._request,
    "Network.requestWillBeSentExtraInfo": BrowserWatch._request_extra,
    "Network.responseReceivedExtraInfo": BrowserWatch._response_extra,
    "Runtime.bindingCalled": BrowserWatch._page_report,
    "Network.responseReceived": BrowserWatch._response,
    "Network.dataReceived": BrowserWatch._data,
    "Network.loadingFinished": BrowserWatch._finished,
    "Network.loadingFailed": BrowserWatch._failed,
    "Page.frameNavigated": BrowserWatch._navigated,
    "DOMStorage.domStorageItemAdded": lambda w, t, p: w._storage(t, "Added", p),
    "DOMStorage.domStorageItemUpdated": lambda w, t, p: w._storage(t, "Updated", p),
    "DOMStorage.domStorageItemRemoved": lambda w, t, p: w._storage(t, "Removed", p),
    "DOMStorage.domStorageItemsCleared": lambda w, t, p: w._storage(t, "Cleared", p),
}

def _on_connection(info: dict[str, Any]) -> str:
    """`` · h2 · connection 75`` (what a row of this exchange says of its connection), '' when unknown."""
    protocol, conn = info.get("protocol"), info.get("connection")
    said = f" · {protocol}" if protocol else ""
    return said + (f" · connection {conn}" if conn not in (None, 0) else "")


__all__ = ["BrowserWatch", "PageTab", "SSE_PATH", "WS_PATH"]


class WatchedBrowser:
    """A Chromium Duplex starts (or one it attaches to) with its DevTools connection and watcher: started
    and stopped as one (``async with``, or ``start()`` / ``stop()`` when the two happen apart)."""

    def __init__(self, sink: EventSink, *, headless: bool = True, attach: str | None = None,
                 flags: tuple[str, ...] = ()) -> None:
        self.sink, self.headless, self.attach, self.flags = sink, headless, attach, flags  # flags: trust_flags()
        self.chromium: Any = None  # a chromium.Chromium when Duplex started it
        self.cdp: CDPConnection | None = None
        self.watch: BrowserWatch | None = None

    async def start(self) -> BrowserWatch:
        from transport.browser.chromium import devtools_url, launch
        try:
            if self.attach:
                self.cdp = await CDPConnection.connect(await devtools_url(self.attach))
            else:
                self.chromium = await launch(headless=self.headless, extra=self.flags)
                self.cdp = await CDPConnection.connect(self.chromium.devtools)
            self.watch = BrowserWatch(self.cdp, self.sink)
        except BaseException:
            await self.stop()
            raise
        return self.watch

    async def stop(self) -> None:
        watch, cdp, chromium = self.watch, self.cdp, self.chromium
        self.watch = self.cdp = self.chromium = None
        try:
            if watch is not None:
                await watch.close()
            if cdp is not None:
                await cdp.close()
        finally:  # the browser we started ends even when closing the connection failed or was cancelled
            if chromium is not None:
                await chromium.stop()

    async def __aenter__(self) -> BrowserWatch:
        return await self.start()

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
