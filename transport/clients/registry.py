"""The one table of transports: name → client class, options, lab path, probe name, tab title.

``probe``, Compare, the storm, the policy race and the UI all build clients
here. A new transport is a client (I/O), maybe a codec, and one row below.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable
from urllib.parse import urlsplit

from transport.clients.ajax import AjaxClient, AjaxOptions
from transport.clients.ajax import validate_url as validate_ajax_url
from transport.clients.base import Client
from transport.clients.feed_http import FeedOptions
from transport.clients.feed_http import validate_url as validate_feed_url
from transport.clients.polling import LongPollClient, ShortPollClient
from transport.clients.socketio import SocketIOClient, SocketIOOptions
from transport.clients.socketio import validate_url as validate_socketio_url
from transport.clients.sse import SSEClient, SSEOptions
from transport.clients.sse import validate_url as validate_sse_url
from transport.clients.stream import StreamClient
from transport.clients.tls import trusted_ca
from transport.clients.websocket import WebSocketClient, WebSocketOptions
from transport.clients.websocket import validate_url as validate_ws_url
from transport.core.errors import DuplexError
from transport.core.events import EventSink
from transport.core.wire import LONGPOLL_PATH, POLL_PATH, SSE_PATH, STREAM_PATH, WS_PATH


@dataclass(frozen=True)
class TransportInfo:
    name: str  # the events' transport name
    title: str  # the tab's and the reports' title
    client: Callable[[Any, EventSink], Client]  # client class: (options, sink) → client
    options: type  # its options dataclass (``url`` first)
    lab_path: str  # where the lab serves it
    probe_name: str  # ``probe --transport``
    ws_scheme: bool  # ws:// (else http://)
    reads_feed: bool  # it reads the lab's feed (a ledger to prove)
    server_retry: bool  # it can follow the server's reconnection time (SSE ``retry``) instead of a policy
    validate: Callable[[str], str]  # raises InvalidURL with a sentence
    holds_open: bool = True  # the server keeps a connection open for it (not a short poll, not AJAX)

    def lab_url(self, base: str) -> str:
        """This transport's endpoint on the lab (or a lab-shaped server) at ``base`` (``http://host:port``)."""
        parts = urlsplit(base)
        scheme = parts.scheme or "http"
        if self.ws_scheme:
            scheme = "wss" if scheme in ("https", "wss") else "ws"
        else:
            scheme = "https" if scheme in ("https", "wss") else "http"
        return f"{scheme}://{parts.netloc}{self.lab_path}"

    def make(self, url: str, sink: EventSink, **options: Any) -> Client:
        """A client for ``url``; ``options`` that its options class does not have are left out
        (so one call can carry, say, a poll interval to every transport)."""
        known = {f.name for f in fields(self.options)}
        chosen = {k: v for k, v in options.items() if k in known}
        if "ca_file" in known and not chosen.get("ca_file") and chosen.get("verify_tls", True):
            chosen["ca_file"] = trusted_ca(url)  # the TLS lab's own CA, and nothing else, for its address
        return self.client(self.options(url, **chosen), sink)


TRANSPORTS: dict[str, TransportInfo] = {info.name: info for info in (
    TransportInfo("websocket", "WebSocket", WebSocketClient, WebSocketOptions, WS_PATH, "ws", True, True, False,
                  validate_ws_url),
    TransportInfo("sse", "SSE", SSEClient, SSEOptions, SSE_PATH, "sse", False, True, True, validate_sse_url),
    TransportInfo("short_poll", "Short polling", ShortPollClient, FeedOptions, POLL_PATH, "short_poll", False,
                  True, False, validate_feed_url, holds_open=False),
    TransportInfo("long_poll", "Long polling", LongPollClient, FeedOptions, LONGPOLL_PATH, "long_poll", False,
                  True, False, validate_feed_url),
    TransportInfo("stream", "HTTP streaming", StreamClient, FeedOptions, STREAM_PATH, "stream", False, True,
                  False, validate_feed_url),
    TransportInfo("ajax", "AJAX / postback", AjaxClient, AjaxOptions, "", "ajax", False, False, False,
                  validate_ajax_url, holds_open=False),
    # the lab serves Engine.IO at /socket.io/ below the server's address (the client adds the path)
    TransportInfo("socketio", "Socket.IO", SocketIOClient, SocketIOOptions, "", "socketio", False, True, False,
                  validate_socketio_url),
)}

HELD_OPEN: tuple[str, ...] = tuple(name for name, info in TRANSPORTS.items() if info.holds_open)
FEED_TRANSPORTS: tuple[str, ...] = tuple(name for name, info in TRANSPORTS.items() if info.reads_feed)
PROBE_NAMES: dict[str, str] = {info.probe_name: name for name, info in TRANSPORTS.items() if info.reads_feed}


def transport(name: str) -> TransportInfo:
    try:
        return TRANSPORTS[name]
    except KeyError:
        raise DuplexError(f"Unknown transport {name!r}: one of {', '.join(TRANSPORTS)}.") from None


def by_probe_name(name: str) -> TransportInfo:
    return transport(PROBE_NAMES.get(name, name))
