"""A page's Socket.IO seen from outside: Engine.IO packets Chromium carried (polling bodies, POST bodies,
WebSocket frames, both ways) decoded into the rows Duplex's own Socket.IO client writes.

The page's official client speaks; Duplex only reads. One :class:`PageSession` per Engine.IO session (its
``sid``), whatever carries it — the polling phase and the WebSocket after the upgrade decode alike. The
tab's ``socketio`` receiver keeps one ledger across the page's sessions.
"""

from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from transport.core.receiver import FeedReceiver
from transport.core.socketio_codec import (ACK, BINARY_ACK, BINARY_EVENT, CLOSE, CONNECT, CONNECT_ERROR, DISCONNECT, EVENT,
                              MESSAGE, OPEN, PING, PONG, PROBE, UPGRADE, CodecError, EioPacket, SioDecoder,
                              SioPacket, eio_decode, lab_item, open_info, payload_decode)

Emit = Callable[..., None]  # (direction, kind, **fields): a socketio row of the tab
MAX_SESSIONS = 64  # Engine.IO sessions remembered per tab (a page reconnecting all day makes many)
TEXT_CAP = 2000  # characters of a row's payload


def engineio_transport(url: str) -> str | None:
    """``polling`` / ``websocket`` when ``url`` is an Engine.IO request (``EIO=`` and ``transport=`` in its
    query, whatever its path: servers mount it anywhere), else None."""
    query = parse_qs(urlsplit(url).query)
    if "EIO" not in query:
        return None
    via = query.get("transport", [""])[0]
    return via if via in ("polling", "websocket") else None


def engineio_sid(url: str) -> str | None:
    return parse_qs(urlsplit(url).query).get("sid", [None])[0]


class PageSession:
    """One Engine.IO session of the page: what arrives and what the page sends, as rows."""

    def __init__(self, receiver: FeedReceiver, emit: Emit, sid: str | None) -> None:
        self.receiver = receiver
        self.emit = emit
        self.sid = sid
        self.via = "polling"
        self.closed = False
        self.pid: str | None = None  # connection-state recovery: the server's private id
        self._in = SioDecoder()
        self._out = SioDecoder()

    # -- both directions, as Chromium carried them -------------------------------------------------
    def payload_in(self, text: str, t: int, wire: int | None) -> None:
        """A polling GET's body."""
        self._packets(text, t, wire, incoming=True)

    def payload_out(self, text: str, t: int) -> None:
        """A polling POST's body."""
        self._packets(text, t, None, incoming=False)

    def frame_in(self, data: str | bytes, t: int, wire: int | None) -> None:
        self._one(data, t, wire, incoming=True)

    def frame_out(self, data: str | bytes, t: int) -> None:
        self._one(data, t, None, incoming=False)

    def lost(self, why: str, t: int) -> None:
        """The session's connection is gone (closed, offline, the page unloaded)."""
        if self.closed:
            return
        self.closed = True
        self.receiver.connection_lost()
        self.emit("state", "close", t=t, data=why, meta={"sid": self.sid, "via": self.via})

    def _packets(self, text: str, t: int, wire: int | None, incoming: bool) -> None:
        try:
            packets = payload_decode(text)
        except CodecError as err:
            self.emit("state", "error", t=t, data=f"an Engine.IO payload that does not decode: {err.sentence}")
            return
        share = wire // len(packets) if wire is not None and packets else None
        for pkt in packets:
            self._packet(pkt, t, share, incoming)

    def _one(self, data: str | bytes, t: int, wire: int | None, incoming: bool) -> None:
        try:
            pkt = eio_decode(data)
        except CodecError as err:
            self.emit("state", "error", t=t, data=f"an Engine.IO frame that does not decode: {err.sentence}")
            return
        self._packet(pkt, t, wire, incoming)

    def _packet(self, pkt: EioPacket, t: int, wire: int | None, incoming: bool) -> None:
        kind = pkt.type
        if kind == OPEN and incoming:
            try:
                info = open_info(pkt)
            except CodecError as err:
                self.emit("state", "error", t=t, data=err.sentence)
                return
            self.sid = info["sid"]
            self.emit("in", "handshake", t=t, wire=wire, data=f"Engine.IO sid {self.sid} over {self.via}",
                      meta={k: info.get(k) for k in ("sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload")})
        elif kind in (PING, PONG):
            if pkt.data == PROBE:  # the upgrade's probe: the upgrade row says it
                return
            name = "ping" if kind == PING else "pong"
            self.emit("in" if incoming else "out", name, t=t, wire=wire, data=name)
        elif kind == UPGRADE and not incoming:
            self.via = "websocket"
            self.emit("state", "upgrade", t=t, data="the page's client upgraded to WebSocket", meta={"sid": self.sid})
        elif kind == CLOSE:
            self.lost("the server closed the Engine.IO session" if incoming else "the page closed the Engine.IO session",
                      t)
        elif kind == MESSAGE:
            decoder = self._in if incoming else self._out
            try:
                spkt = decoder.feed(pkt.data)
            except CodecError as err:
                self.emit("state", "error", t=t, data=err.sentence)
                return
            if spkt is not None:
                (self._socketio_in if incoming else self._socketio_out)(spkt, t, wire)

    # -- Socket.IO packets ------------------------------------------------------------------------
    def _socketio_in(self, p: SioPacket, t: int, wire: int | None) -> None:
        if p.type == CONNECT:
            data = p.data if isinstance(p.data, dict) else {}
            pid = data.get("pid")
            recovered = pid is not None and pid == self.pid
            if isinstance(pid, str):
                if self.pid is not None:
                    self.receiver.ledger.session_resumed(recovered)
                self.pid = pid
                self.receiver.ledger.session_word = True
            self.closed = False
            self.emit("state", "open", t=t, wire=wire, data=f"connected to {p.namespace} (sid {data.get('sid')})",
                      meta={"namespace": p.namespace, "sid": data.get("sid"), "via": self.via,
                            **({"pid": pid, "recovered": recovered} if pid else {})})
        elif p.type == CONNECT_ERROR:
            message = p.data.get("message") if isinstance(p.data, dict) else p.data
            self.emit("state", "error", t=t, wire=wire, data=f"the server refused {p.namespace}: {message}")
        elif p.type == DISCONNECT:
            self.lost(f"the server disconnected {p.namespace} (io server disconnect)", t)
        elif p.type in (ACK, BINARY_ACK):
            self.emit("in", "ack", t=t, wire=wire, data=_json(p.args), meta={"ack": p.ack})
        elif p.type in (EVENT, BINARY_EVENT):
            self._event(p, t, wire)

    def _event(self, p: SioPacket, t: int, wire: int | None) -> None:
        name = p.event or ""
        args = p.args
        meta: dict[str, Any] = {"event": name}
        if self.pid is not None and p.ack is None and args and isinstance(args[-1], str):
            meta["offset"] = args[-1]  # connection-state recovery's offset: not the page's argument
            args = args[:-1]
        if p.ack is not None:
            meta["ack"] = p.ack
        first = args[0] if args else None
        item = lab_item(name, first) if self.receiver.lab else None
        if item is not None:
            text, control = item
            self.receiver.text(text, t, wire, None if control else meta)
        elif p.binary:
            self.emit("in", "message", t=t, wire=wire, data=repr(args)[:TEXT_CAP], meta={**meta, "binary": True})
        else:
            self.receiver.text(json.dumps(args, ensure_ascii=False, separators=(",", ":")), t, wire, meta, value=first)

    def _socketio_out(self, p: SioPacket, t: int, _wire: int | None) -> None:
        if p.type == CONNECT:
            self.emit("out", "connect", t=t, data=f"connect to {p.namespace}", meta={"namespace": p.namespace})
        elif p.type == DISCONNECT:
            self.lost(f"the page disconnected {p.namespace}", t)
        elif p.type in (ACK, BINARY_ACK):
            self.emit("out", "ack", t=t, data=_json(p.args), meta={"ack": p.ack})
        elif p.type in (EVENT, BINARY_EVENT):
            text = _json(p.args)
            self.emit("out", "emit", t=t, size=len(text.encode()), data=text,
                      meta={"event": p.event or "", **({"ack": p.ack} if p.ack is not None else {})})


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=repr)[:TEXT_CAP]


__all__ = ["MAX_SESSIONS", "PageSession", "engineio_sid", "engineio_transport"]
