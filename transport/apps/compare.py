"""Comparing transports on the same feed: one client of each, tallied from their events.

Pure bookkeeping plus a factory: ``make_client(transport, base_url, sink)``
builds the client of a transport against a lab-shaped server, and a
``Tally`` per transport counts, from the events that client emits, what the
Compare tab shows: messages delivered, one-way latency percentiles, bytes on
the wire per message split into payload, headers (cookies among them) and
framing, requests per message, empty responses, and the client's ledger.

The event rows' ``wire`` values add up to what the socket carried (each
client attributes its bytes to rows that way), so the split is exact for
the HTTP transports; for WebSocket, whose library counts no socket bytes,
it is the handshake plus each frame's computed size.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from contextlib import AbstractAsyncContextManager
import random
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from transport.core.backoff import Policy
from transport.clients.base import Client
from transport.core.events import Event, EventSink
from transport.core.errors import DuplexError
from transport.apps.fault_runner import NEW_CONNECTIONS, FaultRoute, lab_call, proxy_fault, repeat, server_fault
from transport.core.faults import FaultSpec
from transport.core.percentile import percentile
from transport.clients.lab_admin import lab_stats, worker_stats
from transport.clients.registry import transport
from transport.apps.storm import stop_clients

TRANSPORTS = ("websocket", "sse", "long_poll", "stream", "short_poll", "short_poll_conditional", "socketio",
              "socketio_polling")
SOCKETIO_POLLING = "socketio_polling"  # Socket.IO kept on HTTP long polling (no upgrade)
CONDITIONAL = "short_poll_conditional"  # short polling with If-None-Match: a 304 when nothing is new
ONE_EACH = tuple(t for t in TRANSPORTS if t != CONDITIONAL)  # one client per transport (middleboxes, the cluster)
BROWSER = "browser"  # a real Chromium on the lab's demo page, its WebSocket (when the user asks for it)
ALL = (*TRANSPORTS, BROWSER)
TITLES = {**{t: transport(t).title for t in TRANSPORTS if t not in (SOCKETIO_POLLING, CONDITIONAL)},
          CONDITIONAL: "Short polling (If-None-Match)",
          "socketio": "Socket.IO (WebSocket)", SOCKETIO_POLLING: "Socket.IO (polling)",
          BROWSER: "Browser (Chromium, WebSocket)"}
SAMPLE = 50_000  # latencies kept per transport (a uniform sample of the run): sorting it stays cheap
MAX_EVENTS = 100_000  # events kept per transport for the run's HAR / JSON Lines export (~36 MB each)


def make_client(name: str, base_url: str, sink: EventSink, *, policy: Policy | None = None,
                poll_interval: float = 1.0, hold: float = 25.0) -> Client:
    """A client of transport ``name`` for the lab-shaped server at ``base_url`` (``http://host:port``);
    SSE follows the server's retry, as a browser does."""
    if name == BROWSER:
        from transport.browser.chromium_page import BrowserPageClient  # starts Chromium only when asked
        return BrowserPageClient(base_url, sink)
    if name == SOCKETIO_POLLING:
        return transport("socketio").make(base_url, sink, policy=policy or Policy("exponential", 1.0, 5.0, 2.0, 0.5),
                                          transports="polling")
    if name == CONDITIONAL:
        return transport("short_poll").make(transport("short_poll").lab_url(base_url), sink, interval=poll_interval,
                                            conditional=True, policy=policy or Policy("exponential", 1.0, 5.0, 2.0, 0.5))
    info = transport(name)
    policy = policy or Policy("exponential", 1.0, 5.0, 2.0, 0.5)
    return info.make(info.lab_url(base_url), sink, policy=None if info.server_retry else policy,
                     interval=poll_interval, hold=hold)


@dataclass
class Tally:
    transport: str
    client: Client | None = None
    messages: int = 0
    payload: int = 0
    wire: int = 0
    heads: int = 0
    cookies: int = 0
    requests: int = 0
    responses: int = 0
    empty: int = 0
    idle_wire: int = 0  # bytes of the responses that carried no message
    reconnects: int = 0  # reconnect attempts (a cluster's killed worker, a fault)
    latencies: list[float] = field(default_factory=list)  # ms: every one up to SAMPLE, then a uniform sample
    seen: int = 0  # latencies observed
    events: list[Event] = field(default_factory=list)  # the first MAX_EVENTS, for export
    series: list[tuple[float, float]] = field(default_factory=list)  # (seconds into the run, p50 of that second)
    _second: list[float] = field(default_factory=list)
    _sorted: list[float] | None = None
    _rng: random.Random = field(default_factory=lambda: random.Random(7))

    def sink(self, e: Event) -> None:
        if len(self.events) < MAX_EVENTS:
            self.events.append(e)
        if e.wire:
            self.wire += e.wire
        kind = e.kind
        if kind == "message" and e.direction == "in":
            self.messages += 1
            self.payload += e.size
            lat = e.latency_ms
            if lat is not None:
                self._second.append(lat)
                self.seen += 1
                if len(self.latencies) < SAMPLE:  # reservoir sampling (Algorithm R)
                    self.latencies.append(lat)
                    self._sorted = None
                else:
                    j = self._rng.randrange(self.seen)
                    if j < SAMPLE:
                        self.latencies[j] = lat
                        self._sorted = None
        elif kind == "request":
            self.requests += 1
        elif kind == "reconnect":
            self.reconnects += 1
        elif kind == "response" or (kind == "send" and "heads" in e.meta):  # a Socket.IO polling send too
            self.responses += kind == "response"
            meta = e.meta
            self.heads += meta.get("heads") or 0
            self.cookies += meta.get("cookies") or 0
            if meta.get("messages") == 0:
                self.empty += 1
                self.idle_wire += e.wire or 0
        elif kind == "open" and e.direction == "state" and e.transport == "websocket":
            self.requests += 1  # the upgrade request; its wire is the handshake
            self.heads += e.wire or 0

    def tick(self, at_s: float) -> None:
        """Once a second: the median latency of what arrived in that second, for the chart."""
        if self._second:
            self._second.sort()
            self.series.append((at_s, percentile(self._second, 0.5) or 0.0))
            self._second = []

    def sorted_latencies(self) -> list[float]:
        """The kept latencies, sorted (cached until the next one arrives)."""
        if self._sorted is None:
            self._sorted = sorted(self.latencies)
        return self._sorted

    def row(self) -> dict[str, Any]:
        lat = self.sorted_latencies()
        n = self.messages
        framing = max(0, self.wire - self.payload - self.heads)
        ledger = self.client.ledger if self.client is not None else None

        def per(value: float) -> float | None:
            return round(value / n, 1) if n else None

        return {
            "transport": self.transport, "messages": n,
            "p50_ms": _r(percentile(lat, 0.5)), "p95_ms": _r(percentile(lat, 0.95)), "p99_ms": _r(percentile(lat, 0.99)),
            "wire_per_msg": per(self.wire), "payload_per_msg": per(self.payload), "headers_per_msg": per(self.heads),
            "cookies_per_msg": per(self.cookies), "framing_per_msg": per(framing),
            "requests_per_msg": round(self.requests / n, 3) if n else None, "requests": self.requests,
            "empty": self.empty, "idle_poll_bytes": round(self.idle_wire / self.empty, 1) if self.empty else None,
            "reconnects": self.reconnects, "lost": ledger.lost if ledger else None,
            "duplicated": ledger.duplicated if ledger else None,
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


COLUMNS = ("transport", "messages", "p50_ms", "p95_ms", "p99_ms", "wire_per_msg", "payload_per_msg",
           "headers_per_msg", "cookies_per_msg", "framing_per_msg", "requests_per_msg", "requests", "empty",
           "idle_poll_bytes", "open_server", "lost", "duplicated", "cpu_ms_per_1000", "rss_mb", "rss_kb_per_1000")


def to_csv(rows: list[dict[str, Any]]) -> str:
    """The Compare table as CSV (one row per transport, the columns above)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in COLUMNS})
    return out.getvalue()


PROXY = "compare"  # the compare lab's one fault proxy, in front of the lab itself


async def route_through_proxy(lab_url: str, token: str) -> str:
    """Put the compare lab's fault proxy in front of the lab; returns the base URL the clients use."""
    route = FaultRoute(PROXY)
    await route.open(lab_call(lab_url, token), lab_url)
    return f"http://{route.listen}"


async def fault_loop(lab_url: str, token: str, spec: FaultSpec, duration: float,
                     added: asyncio.Event | None = None) -> None:
    """A Compare run's fault for the run's ``duration``: on the proxy, or on the lab (a restart). A
    repeated fault first hits once the transports are flowing (after one ``every``). ``added`` is set once
    a toxic that reads new connections is on (the clients connect after it)."""
    call = lab_call(lab_url, token)

    async def once(s: FaultSpec) -> None:
        if s.kind == "server":
            await server_fault(lab_url, token, s)
        else:
            await proxy_fault(call, PROXY, s, lambda _text: None, reconnect=added.set if added else None)

    if spec.repeats:
        await asyncio.sleep(spec.every)  # the schedule itself
    await repeat(replace(spec, span=max(0.0, duration - spec.every)), once, lambda _text: None)


LabStarter = Callable[[float], AbstractAsyncContextManager[tuple[str, str]]]  # rate → a running lab's (url, token)


class CompareRun:
    """One Compare run: a lab of its own at ``rate``, one client per transport (through the registry;
    through a fault proxy when there is a fault), the fault on its schedule, a tally per transport.
    ``on_second(at_s, stats)`` is called once a second with the lab's ``/_admin/stats`` (None while it
    does not answer); ``before`` and ``after`` hold the stats at the start and the end."""

    def __init__(self, transports: list[str], *, rate: float, duration: float, start_lab: LabStarter,
                 on_second: Callable[[float, dict[str, Any] | None], None], spec: FaultSpec | None = None,
                 poll_interval: float = 1.0) -> None:
        self.transports = transports
        self.rate, self.duration, self.spec, self.poll_interval = rate, duration, spec, poll_interval
        self.tallies = {t: Tally(t) for t in transports}
        self.before: dict[str, Any] | None = None
        self.after: dict[str, Any] | None = None
        self._start_lab = start_lab
        self._on_second = on_second

    async def run(self) -> None:
        clients: list[Client] = []
        runs: list[asyncio.Task] = []
        fault_task: asyncio.Task | None = None
        async with self._start_lab(self.rate) as (url, token):
            try:
                self.before = await lab_stats(url, token)
                base = url if self.spec is None else await route_through_proxy(url, token)
                if self.spec is not None and self.spec.type.toxic in NEW_CONNECTIONS and not self.spec.repeats:
                    added = asyncio.Event()  # it reads the connections made after it: on before the clients
                    fault_task = asyncio.ensure_future(fault_loop(url, token, self.spec, self.duration, added))
                    await asyncio.wait({fault_task, asyncio.ensure_future(added.wait())},
                                       return_when=asyncio.FIRST_COMPLETED)
                    if fault_task.done():
                        fault_task.result()  # it failed: say why
                for t, tally in self.tallies.items():
                    tally.client = make_client(t, base, tally.sink, poll_interval=self.poll_interval)
                    clients.append(tally.client)
                runs = [asyncio.ensure_future(c.run()) for c in clients]
                if self.spec is not None and fault_task is None:
                    fault_task = asyncio.ensure_future(fault_loop(url, token, self.spec, self.duration))
                started = time.monotonic()
                while (elapsed := time.monotonic() - started) < self.duration:
                    await asyncio.sleep(min(1.0, self.duration - elapsed))  # the run's schedule: once a second
                    at = time.monotonic() - started
                    for tally in self.tallies.values():
                        tally.tick(at)
                    try:
                        now: dict[str, Any] | None = await lab_stats(url, token, timeout=2.0)
                    except DuplexError:
                        now = None  # restarting: the table keeps the last view
                    self._on_second(at, now)
                self.after = await lab_stats(url, token)
            finally:
                if fault_task is not None:
                    fault_task.cancel()
                    await asyncio.gather(fault_task, return_exceptions=True)
                await stop_clients(clients, runs)


class CpuOfWorkers:
    """A cluster's CPU time over a run, added up over its workers — a worker killed mid-run counts with its
    last sample (``sample`` once a second with each worker's ``/_admin/stats``, None where it did not answer)."""

    def __init__(self) -> None:
        self._first: dict[Any, float] = {}
        self._last: dict[Any, float] = {}

    def sample(self, stats: list[dict[str, Any] | None]) -> None:
        for st in stats:
            if st is None:
                continue
            pid, cpu = st.get("pid"), float(st.get("cpu_s", 0.0))
            self._first.setdefault(pid, cpu)
            self._last[pid] = cpu

    @property
    def seconds(self) -> float:
        return sum(self._last[pid] - first for pid, first in self._first.items())


async def watch_cluster(lab: Callable[[], tuple[str, str, list[dict[str, Any]]] | None], cpu: CpuOfWorkers,
                        kill_at: float | None) -> None:
    """Compare's cluster mode, beside a run: once a second every worker's CPU (asked on its own port: ``lab()``
    gives the balancer's URL, the admin token and the workers, or None before the cluster listens); at
    ``kill_at`` s, worker w1 killed (the ``kill_worker`` fault). Runs until cancelled (bounded)."""
    started: float | None = None
    killed = False
    for _ in range(24 * 3600):
        await asyncio.sleep(1.0)  # the run's schedule
        seen = lab()
        if seen is None or not seen[2]:
            continue
        url, token, workers = seen
        started = started if started is not None else time.monotonic()
        # a killed worker answers None: CpuOfWorkers keeps its last sample
        cpu.sample(list(await asyncio.gather(*(worker_stats(w.get("port"), token) for w in workers))))
        if kill_at is not None and not killed and time.monotonic() - started >= kill_at:
            killed = True
            await server_fault(url, token, FaultSpec("kill_worker", value=1))
