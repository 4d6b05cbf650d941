"""The one owner of the lab: its process, its monitor, every admin action, the rates the Server tab shows,
and the fault markers sent to every timeline. It is also what the scenario runner needs (the ``Lab``
protocol of ``transport/apps/scenario.py``).

The window composes: it gives the controller each timeline's ``state_row`` (``add_timeline``) and how to
reach the routed tabs' proxies (``network_faults``), and binds the signals to its widgets.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from PySide6.QtCore import QObject, Signal

from transport.apps.fault_runner import server_fault
from transport.clients.lab_admin import post_settings
from transport.clients.registry import TRANSPORTS
from transport.core.errors import DuplexError
from transport.core.faults import FaultSpec

from ..lab_process import LabProcess
from ..tasks import TaskGroup
from .lab_monitor import LabMonitor

log = logging.getLogger("duplex.ui.lab")

PEAK_WINDOW = 60  # seconds of request rates kept for each transport's peak
TRANSPORT_KEYS: tuple[str, ...] = tuple(TRANSPORTS)

Marker = Callable[[str], None]  # a timeline's marker row: the text


class ServerRates:
    """Requests per second of each family, from two ``/_admin/stats`` samples of the same process, and the
    peak of the last minute."""

    def __init__(self) -> None:
        self._last: dict[str, Any] | None = None
        self._rates: list[dict[str, float]] = []

    def sample(self, stats: dict[str, Any] | None) -> dict[str, float]:
        """This second's rates (None: the lab did not answer, so nothing this second)."""
        last, self._last = self._last, stats
        rates: dict[str, float] = {}
        if stats is not None and last is not None and last.get("pid") == stats.get("pid"):
            clock = "clock_s" if "clock_s" in stats else "uptime_s"
            dt = max(1e-3, float(stats.get(clock, 0)) - float(last.get(clock, 0)))
            before = last.get("requests", {})
            rates = {k: (v - before.get(k, 0)) / dt for k, v in stats.get("requests", {}).items()}
        self._rates.append(rates)
        del self._rates[:-PEAK_WINDOW]
        return rates

    def per_transport(self, stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Per transport, what its storm line shows: open connections, requests/s now, the minute's peak."""
        opened = {k: v for k, v in stats.get("open", {}).items() if v is not None}
        now = self._rates[-1] if self._rates else {}
        return {key: {"open": opened.get(key, "—"), "rate": now.get(key, 0.0),
                      "peak": max((r.get(key, 0.0) for r in self._rates), default=0.0)}
                for key in TRANSPORT_KEYS}


class LabController(QObject):
    ready = Signal(str, str)  # url, admin token: the lab (or a new process of it) listens
    said = Signal(str)  # a sentence for the status bar: a lab action that failed, the lab down
    labText = Signal(str)  # the status bar's lab label: where it listens, or that it is down
    faultLogged = Signal(str)  # a marker every timeline got (the Server tab's log)
    viewed = Signal(object, object, object)  # stats, sessions, this second's request rates (dicts)
    unreachable = Signal()  # the lab did not answer this second
    down = Signal(str)  # killed (and when it comes back) or failed

    def __init__(self, rate: float = 5.0, parent: QObject | None = None, process: LabProcess | None = None) -> None:
        """``process``: a lab process the app started before the window was built (ui/app.py), adopted."""
        super().__init__(parent)
        self.process = process if process is not None else LabProcess(rate=rate)
        self.process.setParent(self)
        self.monitor = LabMonitor(self)
        self.rates = ServerRates()
        self.server_view: dict[str, dict[str, Any]] = {}  # per transport: the server's side of a storm
        self._timelines: list[Marker] = []
        self._network_faults: Callable[[], list[Callable[[FaultSpec], Awaitable[None]]]] = list
        self._killed = False
        self._tasks = TaskGroup(self.said.emit)
        p = self.process
        p.listening.connect(self._on_listening)
        p.failed.connect(self._on_failed)
        p.killed.connect(self._on_killed)
        p.clusterChanged.connect(lambda workers: setattr(self.monitor, "workers", list(workers)))
        self.monitor.viewed.connect(self._on_viewed)
        self.monitor.unreachable.connect(self._on_unreachable)
        self.monitor.redisChanged.connect(self._on_redis_changed)

    # -- what the process says ----------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.process.url

    @property
    def token(self) -> str:
        return self.process.token

    def pid(self) -> int:
        return self.process.pid()

    @property
    def running(self) -> bool:
        return self.process.running

    @property
    def announced(self) -> dict[str, Any]:
        return self.process.announced

    @property
    def cluster(self) -> tuple[int, str, str]:
        return self.process.cluster

    def history_text(self) -> str:
        redis = self.announced.get("redis")
        return f"history: the stream on {redis}" if redis else f"history file {self.process.history_file}"

    def start(self) -> None:
        self.monitor.start()
        if not self.process.running:  # an adopted process is already on its way up
            self.process.start()

    def _on_listening(self, url: str, token: str) -> None:
        self.labText.emit(f"Lab server: {url}")
        if self._killed:  # a new process after a kill: say what it remembers
            self._killed = False
            said = self.announced
            self.mark_everywhere(f"lab process back on {url}: " + (
                f"history kept, last seq {said.get('last_seq')} ({said.get('loaded')} messages loaded from its "
                "file)" if said.get("loaded") else "no history, numbering starts again at 1"))
        self.monitor.watch(url, token, self.announced.get("workers"))
        self.ready.emit(url, token)

    def _on_failed(self, sentence: str) -> None:
        self.labText.emit("Lab server: down")
        self.down.emit(sentence)
        self.said.emit(sentence)
        log.error("%s", sentence)

    def _on_killed(self, down_s: float, keep_history: bool) -> None:
        self._killed = True
        self.labText.emit("Lab server: killed")
        self.down.emit(f"killed; a new process in {down_s:g} s")
        self.mark_everywhere(f"lab process killed (SIGKILL); a new one in {down_s:g} s, "
                             + ("history kept in its file" if keep_history else "history deleted"))

    def _on_viewed(self, stats: dict[str, Any], sessions: dict[str, Any]) -> None:
        rates = self.rates.sample(stats)
        self.server_view = self.rates.per_transport(stats)
        self.viewed.emit(stats, sessions, rates)

    def _on_unreachable(self) -> None:
        self.rates.sample(None)
        self.unreachable.emit()

    def _on_redis_changed(self, said: str) -> None:
        """The cluster's Redis stopped answering (its clients go silent: say why, in every timeline) or is
        back (the workers take a new numbering if it came back empty: the clients' resumes say so)."""
        self.mark_everywhere(f"{said}: the cluster's feed and shared sessions wait for it" if said else
                             "Redis answers again: the cluster's feed goes on (a Redis that came back empty means "
                             "a new numbering, declared to resuming clients)")

    # -- markers -----------------------------------------------------------------------------------
    def add_timeline(self, marker: Marker) -> None:
        """A timeline that gets a marker row for every fault that touches all of them."""
        self._timelines.append(marker)

    def mark_everywhere(self, text: str) -> None:
        """A fault or lab event that touches every transport: a marker row in every timeline, the status
        bar, the Server tab's log."""
        for mark in self._timelines:
            mark(text)
        self.said.emit(text[:1].upper() + text[1:])
        self.faultLogged.emit(text)

    # -- actions -------------------------------------------------------------------------------------
    def kill(self, down_s: float, keep_history: bool) -> None:
        if not self.process.kill_and_restart(down_s, keep_history):
            self.said.emit("The lab process is not running (or is already being restarted).")

    def set_rate(self, rate: float) -> None:
        async def set_rate() -> None:
            self._need_lab()
            answer = await post_settings(self.url, self.token, {"rate": rate})
            self.mark_everywhere(f"feed rate {answer.get('previous', 0):g} → {rate:g} messages/s")

        self._tasks.spawn(set_rate())

    def set_cluster(self, workers: int, balance: str, sessions: str, tls: bool = False) -> None:
        """The lab again, as one process (1) or as a cluster, over TLS or not: every tab reconnects to its new
        address (only the balancing changed: at run time, connections kept)."""
        async def relaunch() -> None:
            p = self.process
            cluster = (workers if workers > 1 else 0, balance, sessions)
            if cluster == p.cluster and p.tls == tls and p.running:
                return
            n, _balance, kept = p.cluster
            if p.running and n and n == cluster[0] and kept == sessions and p.tls == tls:
                await post_settings(self.url, self.token, {"balance": balance})
                p.cluster = cluster
                self.mark_everywhere(f"cluster balancing now {balance} (HAProxy reloaded: connections kept)")
                return
            self.mark_everywhere(f"lab restarting as {'one process' if workers <= 1 else f'{workers} workers'}"
                                 + (f" behind HAProxy ({balance}, sessions {sessions})" if workers > 1 else "")
                                 + (", over TLS (https://, wss://, HTTP/2 through HAProxy; its own CA)" if tls else
                                    (", without TLS" if p.tls else "")))
            await p.stop_async()
            p.cluster = cluster
            p.tls = tls
            p.announced = {}
            p.start()

        self._tasks.spawn(relaunch())

    def worker_action(self, action: str, worker: str) -> None:
        """``kill_worker`` / ``restart_worker`` of worker ``wN``: the fault of that name."""
        async def act() -> None:
            self._need_lab()
            number = worker[1:] if worker.startswith("w") else worker
            if not number.isdigit():
                raise DuplexError(f"No worker {worker!r}: workers are named w1, w2, …")
            self.mark_everywhere(await server_fault(self.url, self.token, FaultSpec(action, value=int(number))))

        self._tasks.spawn(act())

    def _need_lab(self) -> None:
        if not self.url:
            raise DuplexError("The lab server is not running.")

    # -- what the scenario runner needs (transport/apps/scenario.py: Lab) -------------------------------
    def lab_address(self) -> tuple[str, str]:
        return self.url, self.token

    def set_network_faults(self, provider: Callable[[], list[Callable[[FaultSpec], Awaitable[None]]]]) -> None:
        self._network_faults = provider

    def network_faults(self) -> list[Callable[[FaultSpec], Awaitable[None]]]:
        """Each tab routed through a fault proxy: how to apply a network fault on it once."""
        return self._network_faults()

    async def restart_lab(self, down_s: float, keep_history: bool) -> None:
        """Kill the lab process and return once the new one listens (bounded)."""
        back = asyncio.Event()

        def on_ready(_url: str, _token: str) -> None:
            back.set()

        self.ready.connect(on_ready)
        try:
            if not self.process.kill_and_restart(down_s, keep_history):
                raise DuplexError("The lab process is not running (or is already being restarted).")
            try:
                await asyncio.wait_for(back.wait(), down_s + 30)
            except TimeoutError:
                raise DuplexError(f"The lab process did not come back within {down_s + 30:g} s.") from None
        finally:
            self.ready.disconnect(on_ready)

    async def shutdown(self) -> None:
        await self.monitor.shutdown()
        await self._tasks.cancel_all()
        self.process.stop()
        self.process.remove_files()
