"""Timelines in and out of files: HAR 1.2 and JSON Lines.

``to_har(events)`` builds an HTTP Archive that HAR viewers and Chrome
DevTools open. Every HTTP exchange (a request row and its response row) is
an entry whose response body is what the rows after it carried: a poll's
JSON list, a stream's NDJSON lines, an SSE stream's events. A WebSocket
connection is one entry (the 101 handshake) with its frames in Chrome's
``_webSocketMessages`` form (``type`` send/receive, ``time`` in epoch
seconds, ``opcode`` 1 text / 2 binary, ``data``). An SSE stream's events are
also listed in ``_eventSourceMessages`` (Duplex's extension, named after the
EventSource panel of DevTools: ``time``, ``eventName``, ``eventId``,
``data``). Rows that are not HTTP (reconnects, faults, sessions, errors)
appear in no entry; the whole timeline rides along, lossless, in
``log._duplexEvents`` (one event record each), which is what an import
reads back.

``to_jsonl(events)`` writes one event record per line. ``read_events(text)``
takes either format back.
"""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator
from urllib.parse import parse_qsl, urlsplit

from transport.core.errors import DuplexError
from transport.core.events import DIRECTIONS, Event
from transport.core.files import open_regular

HAR_MIME = {"short_poll": "application/json", "long_poll": "application/json", "stream": "application/x-ndjson",
            "sse": "text/event-stream", "ajax": "application/json"}
MAX_IMPORT = 256 << 20  # a file larger than this is refused, not read
MAX_LINE = 16 << 20  # a JSON Lines line longer than this is not an event


def _clock() -> int:
    """Monotonic ns → wall ns, for this machine now (events carry the monotonic clock)."""
    return time.time_ns() - time.monotonic_ns()


def _iso(t_ns: int, offset: int) -> str:
    return datetime.fromtimestamp((t_ns + offset) / 1e9, timezone.utc).isoformat(timespec="milliseconds")


def _pairs(headers: Any) -> list[dict[str, str]]:
    if isinstance(headers, dict):
        return [{"name": str(k), "value": str(v)} for k, v in headers.items()]
    if isinstance(headers, (list, tuple)):
        return [{"name": str(k), "value": str(v)} for k, v in headers]
    return []


def _cookies(headers: Any) -> list[dict[str, str]]:
    """The request's cookies as HAR lists them, from its ``Cookie`` header(s)."""
    out = []
    for pair in _pairs(headers):
        if pair["name"].lower() == "cookie":
            for part in pair["value"].split(";"):
                name, eq, value = part.strip().partition("=")
                if eq and name:
                    out.append({"name": name, "value": value})
    return out


def _entry(t: int, url: str, method: str, headers: Any, offset: int, resource: str) -> dict[str, Any]:
    """An entry started at ``t`` (monotonic ns); its response and body are filled as rows follow."""
    return {
        "startedDateTime": _iso(t, offset), "time": 0,
        "request": {"method": method, "url": url, "httpVersion": "HTTP/1.1", "cookies": _cookies(headers),
                    "headers": _pairs(headers),
                    "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query)],
                    "headersSize": -1, "bodySize": -1},
        "response": {"status": 0, "statusText": "", "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
                     "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "", "headersSize": -1,
                     "bodySize": -1},
        "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0}, "_resourceType": resource,
        "_t": t, "_body": [],
    }


def _finish(entry: dict[str, Any], transport: str, end_t: int) -> dict[str, Any]:
    body: list[str] = entry.pop("_body")
    started = entry.pop("_t")  # always a request's (or an open row's) time
    if transport in ("short_poll", "long_poll"):
        text = "[" + ",".join(body) + "]"
    elif transport == "sse":
        text = "".join(f"data: {line}\n\n" for line in body)
    else:
        text = "\n".join(body) + ("\n" if body else "")
    content = entry["response"]["content"]
    if transport != "websocket":
        content.update({"size": len(text.encode()), "mimeType": HAR_MIME.get(transport, "text/plain"), "text": text})
    total = max(0.0, (end_t - started) / 1e6)
    entry["time"] = round(total, 3)
    wait = entry["timings"]["wait"]
    entry["timings"]["receive"] = round(max(0.0, total - wait), 3)
    return entry


def to_har(events: Iterable[Event], creator_version: str = "0") -> dict[str, Any]:
    events = list(events)
    offset = _clock()
    entries: list[dict[str, Any]] = []
    # (transport, conn, request id) → the entry being filled; a browser's exchanges overlap on one tab, so its
    # rows name their request (meta "request_id"); a client's exchanges follow one another ("")
    open_: dict[tuple[str, int, str], dict[str, Any]] = {}
    last_t: dict[tuple[str, int, str], int] = {}

    def close(key: tuple[str, int, str]) -> None:
        entry = open_.pop(key, None)
        if entry is not None:
            entries.append(_finish(entry, key[0], last_t.get(key, 0)))

    for e in events:
        key = (e.transport, e.conn, str(e.meta.get("request_id", "")))
        last_t[key] = e.t
        if e.kind == "request" and e.direction == "out":
            close(key)
            method, _, rest = (e.text() or "GET ").partition(" ")
            url = rest.split("  ·", 1)[0].strip()
            resource = str(e.meta.get("type") or "").lower() or {"sse": "eventsource", "ajax": "xhr"}.get(
                e.transport, "fetch")
            open_[key] = _entry(e.t, url, method or "GET", e.meta.get("headers"), offset, resource)
        elif e.kind == "response" and e.direction == "in" and key in open_:
            entry = open_[key]
            status = e.meta.get("status")
            entry["response"].update({"status": status if isinstance(status, int) else 0,
                                      "statusText": e.text().split("  ·", 1)[0].partition(" ")[2][:200],
                                      "headers": _pairs(e.meta.get("headers"))})
            entry["timings"]["wait"] = round(max(0.0, (e.t - entry["_t"]) / 1e6), 3)
            if e.transport == "ajax" and e.data is not None:
                entry["_body"].append(e.text())
        elif e.transport == "websocket" and e.kind == "open" and e.direction == "state":
            close(key)
            entry = _entry(e.t, e.text(), "GET", e.meta.get("request_headers"), offset, "websocket")
            entry["response"].update({"status": 101, "statusText": "Switching Protocols",
                                      "headers": _pairs(e.meta.get("response_headers"))})
            entry["_webSocketMessages"] = []
            open_[key] = entry
        elif key in open_ and e.kind in ("message", "control", "gap", "live") and (
                e.direction != "out" or e.transport == "websocket"):
            entry = open_[key]
            if e.transport == "websocket":
                raw = e.data
                entry["_webSocketMessages"].append({
                    "type": "send" if e.direction == "out" else "receive", "time": (e.t + offset) / 1e9,
                    "opcode": 2 if isinstance(raw, bytes) else 1,
                    "data": base64.b64encode(raw).decode() if isinstance(raw, bytes) else e.text()})
            else:
                entry["_body"].append(e.text())
                if e.transport == "sse":
                    entry.setdefault("_eventSourceMessages", []).append({
                        "time": (e.t + offset) / 1e9, "eventName": e.meta.get("type", "message"),
                        "eventId": str(e.meta.get("last_event_id") or (e.seq if e.seq is not None else "")),
                        "data": e.text()})
    for key in list(open_):
        close(key)
    entries.sort(key=lambda en: en["startedDateTime"])
    return {"log": {"version": "1.2", "creator": {"name": "Duplex", "version": creator_version},
                    "pages": [], "entries": entries, "_duplexEvents": [e.to_dict() for e in events]}}


def to_jsonl(events: Iterable[Event]) -> str:
    return "".join(e.to_json() + "\n" for e in events)


def event_from_dict(d: dict[str, Any]) -> Event:
    """An event record (``Event.to_dict``) back into an Event; ValueError if it is not one."""
    if not isinstance(d, dict):
        raise ValueError("not an object")
    transport, direction, kind = d.get("transport"), d.get("direction"), d.get("kind")
    if not isinstance(transport, str) or direction not in DIRECTIONS or not isinstance(kind, str):
        raise ValueError("not an event record (transport, direction, kind)")
    found = d.get("meta")
    meta: dict[str, Any] = found if isinstance(found, dict) else {}
    data = d.get("data")
    if meta.get("binary") and isinstance(data, str):
        data = bytes.fromhex(data)
        meta = {k: v for k, v in meta.items() if k != "binary"}
    elif data is not None and not isinstance(data, str):
        data = json.dumps(data)

    def num(name: str, kind_: type, default: Any) -> Any:
        value = d.get(name, default)
        return value if isinstance(value, kind_) and not isinstance(value, bool) else default

    return Event(transport, direction, kind, num("t", int, 0), num("conn", int, 0), num("seq", int, None),
                 num("size", int, 0), num("wire", int, None),
                 float(d["latency_ms"]) if isinstance(d.get("latency_ms"), (int, float)) else None, data, meta)


def read_events(text: str, name: str = "the file") -> list[Event]:
    """Events from a Duplex HAR (its ``_duplexEvents``) or JSON Lines; DuplexError says what is wrong."""
    stripped = text.lstrip()
    if stripped.startswith("{") and not stripped.startswith('{"transport"'):
        return _records(_har_records(text, name), name)
    return _records(((n, _line(line, n, name)) for n, line in enumerate(text.splitlines(), 1) if line.strip()), name)


def iter_event_batches(path: str | os.PathLike[str], batch: int = 10_000) -> Iterator[list[Event]]:
    """Events of a Duplex HAR or JSON Lines file, ``batch`` at a time. JSON Lines are read line by line
    (memory stays near one batch, not the file); a HAR is one document, read whole (up to MAX_IMPORT).
    DuplexError says what is wrong, with the line or record."""
    p = Path(path)
    name = p.name
    try:
        size = p.stat().st_size
        if size > MAX_IMPORT:
            raise DuplexError(f"{name} is {size / 1e6:,.0f} MB: Duplex imports files up to "
                              f"{MAX_IMPORT / 1e6:,.0f} MB.")
        with open_regular(p) as f:
            start = f.read(64).lstrip()
            f.seek(0)
            if start.startswith(b"{") and not start.startswith(b'{"transport"'):
                text = f.read().decode("utf-8")
                records: Iterable[tuple[int, Any]] = _har_records(text, name)
                del text
                yield from _batches(records, name, batch)
                return
            yield from _batches(_jsonl_records(f, name), name, batch)
    except (OSError, UnicodeDecodeError) as exc:
        raise DuplexError(f"Could not read {name}: {getattr(exc, 'strerror', None) or exc}.") from None


def _jsonl_records(f: BinaryIO, name: str) -> Iterator[tuple[int, Any]]:
    for n, raw in enumerate(iter(lambda: f.readline(MAX_LINE + 1), b""), 1):
        if len(raw) > MAX_LINE:
            raise DuplexError(f"Line {n} of {name} is longer than {MAX_LINE >> 20} MiB: not a Duplex event.")
        line = raw.decode("utf-8")
        if line.strip():
            yield n, _line(line, n, name)


def _line(line: str, n: int, name: str) -> Any:
    try:
        return json.loads(line)
    except RecursionError:
        raise DuplexError(f"Line {n} of {name} nests too deep to be a Duplex event.") from None
    except ValueError as exc:
        raise DuplexError(f"Line {n} of {name} is not JSON: {exc}.") from None


def _har_records(text: str, name: str) -> list[tuple[int, Any]]:
    try:
        doc = json.loads(text)
    except RecursionError:
        raise DuplexError(f"{name} nests too deep to be a HAR file.") from None
    except ValueError as exc:
        raise DuplexError(f"{name} is not valid JSON: {exc}.") from None
    log = doc.get("log") if isinstance(doc, dict) else None
    records = log.get("_duplexEvents") if isinstance(log, dict) else None
    if not isinstance(records, list):
        raise DuplexError(f"{name} is a HAR file without Duplex's event records (log._duplexEvents): "
                          "only HAR files exported by Duplex can be shown again.")
    return list(enumerate(records, 1))


def _records(records: Iterable[tuple[int, Any]], name: str) -> list[Event]:
    return [event for part in _batches(records, name, 1 << 30) for event in part]


def _batches(records: Iterable[tuple[int, Any]], name: str, size: int) -> Iterator[list[Event]]:
    events: list[Event] = []
    for n, record in records:
        try:
            events.append(event_from_dict(record))
        except (ValueError, TypeError) as exc:
            raise DuplexError(f"Record {n} of {name} is not a Duplex event: {exc}.") from None
        if len(events) >= size:
            yield events
            events = []
    if events:
        yield events
