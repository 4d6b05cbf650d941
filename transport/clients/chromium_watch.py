"""A real browser's traffic as Duplex events: Chromium watched through the DevTools protocol.

:class:`BrowserWatch` attaches to Chromium's pages (each tab is a connection: ``conn`` is its number)
and turns what the page does into the events every other client emits:

- ``websocket``: the handshake (request / response), every frame sent and received, the close
  (``Network.webSocket*``); frames received go through a :class:`FeedReceiver`, so a lab feed has a
  ledger across the page's reconnects and reloads;
- ``sse``: each ``EventSource`` message (``Network.eventSourceMessageReceived``), with its type and id;
- ``http``: each HTTP exchange (request; response at its end, ``wire`` = ``encodedDataLength``); the
  bodies of the lab's poll answers (``Network.getResponseBody``) and its NDJSON stream as it arrives
  (``Network.streamResourceContent``) feed the ``short_poll`` / ``long_poll`` / ``stream`` ledgers;
- ``browser``: what happens to the tab itself (opened, navigated, reloaded, closed, offline, its
  ``sessionStorage`` changing: ``DOMStorage``).

Only I/O lives here (the protocol calls); the feed's meaning is the shared receiver's.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..cdp import CDPConnection, CDPError
from ..envelope import split_json_list
from .sse import CONTROL_TYPES
from ..events import Event, EventSink, Outbox, now_ns
from ..receiver import FeedReceiver
from ..urls import is_loopback
from ..wire import LONGPOLL_PATH, POLL_PATH, SSE_PATH, STREAM_PATH, WS_PATH

log = logging.getLogger("duplex.clients.chromium")

FEED_OF_PATH = {POLL_PATH: "short_poll", LONGPOLL_PATH: "long_poll", STREAM_PATH: "stream"}
SESSION_ME = "/session/me"  # the lab's "who am I": the page asks it every 2 s
MAX_BODY = 16 << 20  # a response body read for the ledger: larger ones are not asked for
OPCODE_TEXT, OPCODE_BINARY = 1, 2


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
    handshakes: dict[str, dict[str, str]] = field(default_factory=dict)  # a WebSocket's request headers
    storage: dict[str, str] = field(default_factory=dict)  # its sessionStorage (the page's origin)
    frames_in: int = 0
    sse_in: int = 0
    session_status: int | None = None  # what the page's last /session/me was answered
    wire: dict[str, int] = field(default_factory=dict)  # per API: bytes received for it (frames, bodies, heads)


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
        self.note(tab, "tab", f"tab {tab.number} watched" + (f" on {url}" if url else ""))
        return tab

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
        self.note(tab, "network", what)

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
        tab.sockets[p["requestId"]] = url
        receiver = self.receiver(tab, "websocket", url)
        if receiver.ledger.received or receiver.ledger.episodes:
            receiver.resume_started()  # a new socket of the same page: what comes before live is a replay
        self._emit(tab, "websocket", "state", "connecting", data=url, meta={"socket": p["requestId"]})

    def _ws_request(self, tab: PageTab, p: dict[str, Any]) -> None:
        tab.handshakes[p["requestId"]] = p.get("request", {}).get("headers", {})

    def _ws_response(self, tab: PageTab, p: dict[str, Any]) -> None:
        """The handshake's answer: the socket is open (one row, with both sides' headers, as the WebSocket
        client writes it and HAR's ``_webSocketMessages`` entry reads it)."""
        response = p.get("response", {})
        headers = response.get("headers", {})
        url = tab.sockets.get(p["requestId"], "")
        receiver = self.receiver(tab, "websocket", url)
        receiver.note_epoch({k.lower(): v for k, v in headers.items()} | headers)
        status = response.get("status")
        self._emit(tab, "websocket", "state", "open", data=url, meta={
            "status": status, "request_headers": tab.handshakes.pop(p["requestId"], {}),
            "response_headers": headers, "socket": p["requestId"]})

    def _ws_frame_in(self, tab: PageTab, p: dict[str, Any]) -> None:
        frame = p.get("response", {})
        url = tab.sockets.get(p["requestId"], "")
        receiver = self.receiver(tab, "websocket", url)
        data = frame.get("payloadData", "")
        t = now_ns()
        tab.frames_in += 1
        if frame.get("opcode") == OPCODE_BINARY:
            raw = base64.b64decode(data)
            wire = len(raw) + _frame_head(len(raw))
            receiver.binary(raw, t, wire)
        else:
            size = len(data.encode())
            wire = size + _frame_head(size)
            receiver.text(data, t, wire, size=size)
        tab.wire["websocket"] = tab.wire.get("websocket", 0) + wire

    def _ws_frame_out(self, tab: PageTab, p: dict[str, Any]) -> None:
        frame = p.get("response", {})
        data = frame.get("payloadData", "")
        payload: str | bytes = base64.b64decode(data) if frame.get("opcode") == OPCODE_BINARY else data
        size = len(payload) if isinstance(payload, bytes) else len(payload.encode())
        self._emit(tab, "websocket", "out", "message", size=size, wire=size + _frame_head(size) + 4, data=payload)

    def _ws_closed(self, tab: PageTab, p: dict[str, Any]) -> None:
        url = tab.sockets.pop(p["requestId"], "")
        receiver = tab.receivers.get("websocket")
        if receiver is not None:
            receiver.connection_lost()
        self._emit(tab, "websocket", "state", "close", data=f"closed {url}")

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
        tab.requests[rid] = {"url": url, "type": kind, "path": path}
        headers = request.get("headers", {})
        if kind == "EventSource":
            receiver = self.receiver(tab, "sse", url)
            if receiver.ledger.received or receiver.ledger.episodes:
                receiver.resume_started()
        self._emit(tab, "http", "out", "request", data=f"{request.get('method', 'GET')} {url}",
                   meta={"type": kind, "headers": headers, "request_id": rid})
        sent = tab.extra.pop(rid, None)
        if sent is not None:
            self._sent_headers(tab, rid, sent)

    def _request_extra(self, tab: PageTab, p: dict[str, Any]) -> None:
        """The headers the request really carried (cookies, Last-Event-ID): they may come before the
        request's own event, or after it."""
        rid = p["requestId"]
        headers = p.get("headers", {})
        if rid in tab.requests:
            self._sent_headers(tab, rid, headers)
        elif len(tab.extra) < 1000:
            tab.extra[rid] = headers

    def _sent_headers(self, tab: PageTab, rid: str, headers: dict[str, str]) -> None:
        info = tab.requests[rid]
        info["sent_headers"] = headers
        last_id = next((v for k, v in headers.items() if k.lower() == "last-event-id"), None)
        if info["type"] == "EventSource" and last_id is not None:
            self._emit(tab, "sse", "out", "resume", data=f"Last-Event-ID: {last_id}",
                       meta={"last_event_id": last_id, "url": info["url"]})

    def _response(self, tab: PageTab, p: dict[str, Any]) -> None:
        info = tab.requests.get(p["requestId"])
        if info is None:
            return
        response = p.get("response", {})
        info["status"] = response.get("status")
        info["status_text"] = response.get("statusText", "")
        info["headers"] = response.get("headers", {})
        api = "sse" if info["type"] == "EventSource" else FEED_OF_PATH.get(info["path"])
        if api is not None:
            headers = info["headers"]
            status = info["status"]
            self.receiver(tab, api, info["url"]).note_epoch({k.lower(): v for k, v in headers.items()} | headers,
                                                            ok=isinstance(status, int) and status < 400)
        if info["path"] == STREAM_PATH and info["type"] in ("Fetch", "XHR"):
            tab.streaming[p["requestId"]] = bytearray()
            self._spawn(self._stream_body(tab, p["requestId"]))

    async def _stream_body(self, tab: PageTab, rid: str) -> None:
        answer = await self.cdp.send("Network.streamResourceContent", {"requestId": rid}, session=tab.session)
        buffered = answer.get("bufferedData")
        if buffered:
            self._stream_bytes(tab, rid, base64.b64decode(buffered))

    def _data(self, tab: PageTab, p: dict[str, Any]) -> None:
        info = tab.requests.get(p["requestId"])
        if info is not None:  # a long response's bytes as they arrive (the EventSource, the NDJSON stream)
            api = "sse" if info["type"] == "EventSource" else FEED_OF_PATH.get(info["path"])
            if api in ("sse", "stream"):
                tab.wire[api] = tab.wire.get(api, 0) + int(p.get("encodedDataLength") or 0)
        data = p.get("data")
        if data and p["requestId"] in tab.streaming:
            self._stream_bytes(tab, p["requestId"], base64.b64decode(data))

    def _stream_bytes(self, tab: PageTab, rid: str, chunk: bytes) -> None:
        """NDJSON as it arrives: complete lines to the stream's receiver, the rest kept (bounded)."""
        pending = tab.streaming.get(rid)
        if pending is None:
            return
        pending += chunk
        cut = pending.rfind(b"\n")
        if cut < 0:
            if len(pending) > MAX_BODY:
                del tab.streaming[rid]
            return
        lines, rest = bytes(pending[:cut]), pending[cut + 1:]
        tab.streaming[rid] = bytearray(rest)
        info = tab.requests.get(rid, {})
        receiver = self.receiver(tab, "stream", info.get("url", tab.url))
        t = now_ns()
        items = [(line, len(line.encode()), None) for line in lines.decode("utf-8", "replace").split("\n") if line]
        receiver.texts(items, t)

    def _finished(self, tab: PageTab, p: dict[str, Any]) -> None:
        rid = p["requestId"]
        info = tab.requests.pop(rid, None)
        if info is None:
            return
        tab.streaming.pop(rid, None)
        tab.extra.pop(rid, None)
        wire = int(p.get("encodedDataLength") or 0)
        status = info.get("status")
        self._emit(tab, "http", "in", "response", wire=wire,
                   data=f"{status} {info.get('status_text', '')} {info['url']}".replace("  ", " "),
                   meta={"status": status, "type": info["type"], "headers": info.get("headers", {}),
                         "encoded_data_length": wire, "request_id": rid})
        if info["path"] == SESSION_ME and status != tab.session_status:
            self._session_seen(tab, status)
        api = FEED_OF_PATH.get(info["path"])
        if info["type"] == "EventSource":
            receiver = tab.receivers.get("sse")
            if receiver is not None:
                receiver.connection_lost()
        elif api in ("short_poll", "long_poll"):
            tab.wire[api] = tab.wire.get(api, 0) + wire  # the whole exchange: heads and body
            if status == 200:
                self._spawn(self._poll_body(tab, rid, api, info["url"]))

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
        answer = await self.cdp.send("Network.getResponseBody", {"requestId": rid}, session=tab.session)
        body = answer.get("body", "")
        if answer.get("base64Encoded"):
            body = base64.b64decode(body).decode("utf-8", "replace")
        try:
            items = split_json_list(body)
        except ValueError:
            return
        receiver = self.receiver(tab, api, url)
        receiver.texts([(text, len(text.encode()), None) for text, _value in items], now_ns())

    def _failed(self, tab: PageTab, p: dict[str, Any]) -> None:
        info = tab.requests.pop(p["requestId"], None)
        if info is None:
            return
        tab.streaming.pop(p["requestId"], None)
        text = p.get("errorText", "failed")
        self._emit(tab, "http", "state", "error", data=f"{info['url']}: {text}",
                   meta={"type": info["type"], "canceled": bool(p.get("canceled"))})
        api = "sse" if info["type"] == "EventSource" else FEED_OF_PATH.get(info["path"])
        if api is not None and api in tab.receivers and info["type"] == "EventSource":
            tab.receivers[api].connection_lost()

    # the page and its storage
    def _navigated(self, tab: PageTab, p: dict[str, Any]) -> None:
        frame = p.get("frame", {})
        if frame.get("parentId"):
            return
        tab.url = frame.get("url", tab.url)
        self.note(tab, "page", f"page {tab.url}")

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


def _frame_head(size: int) -> int:
    """A server frame's header bytes (unmasked) for a payload of ``size``."""
    return 2 if size < 126 else 4 if size < 65536 else 10


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

__all__ = ["BrowserWatch", "PageTab", "SSE_PATH", "WS_PATH"]


class WatchedBrowser:
    """A Chromium Duplex starts (or one it attaches to) with its DevTools connection and watcher: started
    and stopped as one (``async with``, or ``start()`` / ``stop()`` when the two happen apart)."""

    def __init__(self, sink: EventSink, *, headless: bool = True, attach: str | None = None) -> None:
        self.sink, self.headless, self.attach = sink, headless, attach
        self.chromium: Any = None  # a chromium.Chromium when Duplex started it
        self.cdp: CDPConnection | None = None
        self.watch: BrowserWatch | None = None

    async def start(self) -> BrowserWatch:
        from ..chromium import devtools_url, launch
        try:
            if self.attach:
                self.cdp = await CDPConnection.connect(await devtools_url(self.attach))
            else:
                self.chromium = await launch(headless=self.headless)
                self.cdp = await CDPConnection.connect(self.chromium.devtools)
            self.watch = BrowserWatch(self.cdp, self.sink)
        except BaseException:
            await self.stop()
            raise
        return self.watch

    async def stop(self) -> None:
        watch, cdp, chromium = self.watch, self.cdp, self.chromium
        self.watch = self.cdp = self.chromium = None
        if watch is not None:
            await watch.close()
        if cdp is not None:
            await cdp.close()
        if chromium is not None:
            await chromium.stop()

    async def __aenter__(self) -> BrowserWatch:
        return await self.start()

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
