"""Compare → Middleboxes: every transport through each middlebox preset, side by side.

One lab for the whole run, its fault proxy in front of it (transport/apps/compare.py's). Each *pass* puts
one preset's toxics on the proxy, sets what the lab does (feed rate, heartbeat, ``X-Accel-Buffering``),
connects one client of each transport through the proxy (new connections: the toxics read them), runs
for the pass's seconds and tallies what each delivered, with what latency, how many reconnects, and
the first thing it said went wrong. Two presets run twice, to show the remedy beside the failure:

- *Buffering reverse proxy*: the lab without ``X-Accel-Buffering: no`` (streams come late, in blocks),
  then with it (each event at once);
- *Load balancer idle timeout*: a silent feed without heartbeats (quiet connections are cut), then with
  heartbeats shorter than the timeout (they survive; a long poll's hold still has to be shorter).

:func:`advice` says, per row, what the user had to change.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from transport.apps.compare import ONE_EACH, PROXY, TITLES, LabStarter, Tally, make_client, route_through_proxy
from transport.apps.fault_runner import lab_call
from transport.apps.storm import stop_clients
from transport.clients.base import Client
from transport.core.backoff import Policy
from transport.core.errors import DuplexError
from transport.core.events import Event
from transport.core.middleboxes import MIDDLEBOXES, Middlebox

HEARTBEAT_S = 0.3  # the idle timeout's remedy (the short preset cuts after 1 s)
DEFAULT_HEARTBEAT_S = 5.0  # the lab's usual heartbeat, restored between passes


@dataclass(frozen=True)
class Pass:
    box: Middlebox
    variant: str  # "" or what the lab did differently in this pass
    rate: float
    heartbeat: float
    accel: bool

    @property
    def title(self) -> str:
        return self.box.label + (f" — {self.variant}" if self.variant else "")


def passes(boxes: tuple[Middlebox, ...], rate: float, short: bool) -> list[Pass]:
    out: list[Pass] = []
    for box in boxes:
        box = box.short() if short else box
        if box.key == "buffering":
            out.append(Pass(box, "lab without X-Accel-Buffering: no", rate, DEFAULT_HEARTBEAT_S, False))
            out.append(Pass(box, "lab with X-Accel-Buffering: no", rate, DEFAULT_HEARTBEAT_S, True))
        elif box.needs_silence:
            out.append(Pass(box, "silent feed, no heartbeats", 0, 0, True))
            out.append(Pass(box, f"silent feed, heartbeats every {HEARTBEAT_S:g} s", 0, HEARTBEAT_S, True))
        else:
            out.append(Pass(box, "", rate, DEFAULT_HEARTBEAT_S, True))
    return out


@dataclass
class Row:
    """One transport through one pass."""

    pass_title: str
    box: str
    transport: str
    messages: int
    p50_ms: float | None
    p99_ms: float | None
    reconnects: int
    errors: int  # error rows: refused upgrades, answers of the box itself, cut connections
    lost: int | None
    said: str  # the first error the client said ("" when none)
    advice: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"pass": self.pass_title, "box": self.box, "transport": self.transport, "messages": self.messages,
                "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "reconnects": self.reconnects, "errors": self.errors, "lost": self.lost,
                "said": self.said, "advice": self.advice, **self.extra}


def first_error(events: list[Event]) -> str:
    for e in events:
        if e.kind in ("error", "close", "reconnect") and e.data and (e.kind == "error" or "403" in str(e.data)
                                                                      or "instead of" in str(e.data)):
            return str(e.data)[:240]
    return ""


def advice(p: Pass, row: Row) -> str:
    """What the user had to change for this transport behind this box (a short sentence)."""
    key, t = p.box.key, row.transport
    if key in ("firewall", "no_upgrade"):
        if t == "websocket":
            return ("nothing gets through: use SSE or polling behind this box, or Socket.IO (it falls back)"
                    if not row.messages else "none")
        if t == "socketio":
            return "none: Socket.IO stayed on HTTP long polling" if row.messages else "use its polling transport"
        return "none: plain HTTP passes" if row.messages else "—"
    if key == "buffering":
        streamed = t in ("sse", "stream")
        if not streamed:
            return "none"
        if not p.accel:
            return "send X-Accel-Buffering: no (or proxy_buffering off in nginx)"
        return "none: the header passed each event at once"
    if key == "idle_timeout":
        if not row.reconnects:
            if t == "short_poll":
                return "none: it polls more often than the timeout"
            return "none: its heartbeats kept it open" if p.heartbeat else "none"
        if t == "long_poll":
            return "hold a poll for less than the idle timeout"
        if t == "short_poll":
            return "poll more often than the idle timeout (its idle keep-alive connection is cut)"
        return "heartbeats more often than the idle timeout (SSE comments, WebSocket or Socket.IO pings)"
    if key == "flaky":
        if row.errors or row.reconnects:
            return "retry after an error answer (it did: nothing lost)" if not row.lost else "retry: messages were lost"
        return "none: no request of it was hit"
    return ""


class MiddleboxRun:
    """Every pass of every preset in ``boxes`` on one lab; ``rows`` grows pass by pass."""

    def __init__(self, start_lab: LabStarter, *, transports: tuple[str, ...] = ONE_EACH,
                 boxes: tuple[Middlebox, ...] = MIDDLEBOXES, rate: float = 50, seconds: float = 4.0,
                 short: bool = True, on_pass: Callable[[Pass, int, int], None] = lambda p, i, n: None,
                 poll_interval: float = 0.5) -> None:
        self.start_lab, self.transports, self.seconds = start_lab, transports, seconds
        self.passes = passes(boxes, rate, short)
        self.on_pass, self.poll_interval = on_pass, poll_interval
        self.rows: list[Row] = []

    async def run(self) -> list[Row]:
        async with self.start_lab(max(p.rate for p in self.passes) or 1.0) as (url, token):
            call = lab_call(url, token)
            base = await route_through_proxy(url, token)
            for i, p in enumerate(self.passes, 1):
                self.on_pass(p, i, len(self.passes))
                await self._pass(call, base, p)
        return self.rows

    async def _pass(self, call: Any, base: str, p: Pass) -> None:
        status, answer = await call("POST", "/settings", {"rate": p.rate, "heartbeat": p.heartbeat,
                                                                 "accel_buffering": p.accel})
        if status >= 300:
            raise DuplexError(f"The lab refused the pass's settings: {answer}")
        names = []
        for n, spec in enumerate(p.box.faults):
            name = f"middlebox_{p.box.key}_{n}"
            status, answer = await call("POST", f"/proxies/{PROXY}/toxics", spec.toxic(name))
            if status >= 300:
                raise DuplexError(f"The lab refused the middlebox's toxic: {answer}")
            names.append(name)
        tallies = {t: Tally(t) for t in self.transports}
        clients: list[Client] = []
        try:
            for t, tally in tallies.items():
                tally.client = make_client(t, base, tally.sink, poll_interval=self.poll_interval, hold=25.0,
                                           policy=Policy("fixed", 0.3))
                clients.append(tally.client)
            runs = [asyncio.ensure_future(c.run()) for c in clients]
            started = time.monotonic()
            while (left := self.seconds - (time.monotonic() - started)) > 0:
                await asyncio.sleep(min(0.5, left))  # the pass's length (the clients run meanwhile)
                for tally in tallies.values():
                    tally.tick(time.monotonic() - started)
            await stop_clients(clients, runs)
        finally:
            for name in names:
                await call("DELETE", f"/proxies/{PROXY}/toxics/{name}", None)
        for t, tally in tallies.items():
            r = tally.row()
            errors = sum(1 for e in tally.events if e.kind == "error")
            row = Row(p.title, p.box.key, t, r["messages"], r["p50_ms"], r["p99_ms"], r["reconnects"], errors,
                      r["lost"], first_error(tally.events))
            row.advice = advice(p, row)
            self.rows.append(row)


def rows_csv(rows: list[Row]) -> str:
    """The rows as CSV (Compare's export in Middleboxes mode)."""
    import csv
    import io
    out = io.StringIO()
    fields = list(Row("", "", "", 0, None, None, 0, 0, None, "").to_json())
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if v is None else v for k, v in r.to_json().items()})
    return out.getvalue()


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (the closing note's, the export's)."""
    out = ["| middlebox (pass) | transport | delivered | p50 ms | p99 ms | reconnects | errors | what it took |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        out.append(f"| {r.pass_title} | {TITLES.get(r.transport, r.transport)} | {r.messages} | "
                   f"{'—' if r.p50_ms is None else r.p50_ms} | {'—' if r.p99_ms is None else r.p99_ms} | "
                   f"{r.reconnects} | {r.errors} | {r.advice} |")
    return "\n".join(out)
