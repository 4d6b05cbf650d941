"""The lab's own view, once a second: ``/_admin/stats`` and ``/_admin/sessions``, fetched off the GUI
thread's critical path (one fetch at a time; a lab that does not answer is said, not waited for)."""

from __future__ import annotations

import asyncio
import logging
import time

from PySide6.QtCore import QObject, QTimer, Signal

from transport.core.errors import DuplexError
from transport.clients.lab_admin import lab_sessions, lab_stats, worker_stats

from ..tasks import TaskGroup

log = logging.getLogger("duplex.ui.lab")


class LabMonitor(QObject):
    second = Signal()  # once a second, whether or not the lab answered
    viewed = Signal(object, object)  # stats, sessions (dicts: passed as they are, not converted)
    unreachable = Signal()  # the lab did not answer (down, restarting, killed)
    sessionEvents = Signal(object)  # the server's session events not seen before (created, expired, ended)
    workersViewed = Signal(object)  # cluster mode: each worker's own stats (a list of dicts, None where down)
    redisChanged = Signal(str)  # cluster mode: "Redis is down: …" when it stops answering, "" when it is back

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.url = ""
        self.token = ""
        self.sessions: dict | None = None  # the last sessions view
        self.workers: list[dict] = []  # cluster mode: each worker's id and port (the lab's announce line)
        self.redis_down = ""  # cluster mode: why its Redis does not answer (empty: it does)
        self._fetching = False
        self._events_seen = 0.0
        self._tasks = TaskGroup(lambda sentence: log.debug("lab view: %s", sentence))
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        self._timer.start()

    def watch(self, url: str, token: str, workers: list[dict] | None = None) -> None:
        """The lab (a new process after a kill) listens here; ``workers``: a cluster's, each on its own port."""
        self.url, self.token = url, token
        self.workers = list(workers or [])

    def _on_timer_timeout(self) -> None:
        self.second.emit()
        if self.url and self.token and not self._fetching:
            self._fetching = True
            self._tasks.spawn(self._fetch(self.url, self.token))

    async def _fetch(self, url: str, token: str) -> None:
        workers = list(self.workers)
        try:
            sessions, stats = await asyncio.gather(lab_sessions(url, token), lab_stats(url, token))
            if workers:  # a cluster: each worker asked on its own port, the whole is their sum
                each = await asyncio.gather(*(worker_stats(w.get("port"), token) for w in workers))
                self.workersViewed.emit([{**w, "stats": st} for w, st in zip(workers, each)])
                self._redis_seen([st for st in each if st is not None])
                stats = cluster_sum(stats, [st for st in each if st is not None])
        except DuplexError:  # admin_call says every failure as one
            self.unreachable.emit()
            return
        finally:
            self._fetching = False
        self.sessions = sessions
        self.viewed.emit(stats, sessions)
        fresh = [e for e in sessions.get("events", []) if e.get("wall", 0) > self._events_seen]
        if fresh:
            self._events_seen = max(e.get("wall", 0) for e in fresh)
            self.sessionEvents.emit(fresh)

    def _redis_seen(self, answered: list[dict]) -> None:
        """Whether the cluster's Redis answers, as its workers say; said once when it changes."""
        down = next((str(c["redis_down"]) for st in answered if isinstance(c := st.get("cluster"), dict)
                     and c.get("redis_down")), "")
        if bool(down) != bool(self.redis_down):
            self.redisChanged.emit(f"Redis is down: {down}" if down else "")
        self.redis_down = down

    async def shutdown(self) -> None:
        self._timer.stop()
        await self._tasks.cancel_all()


def cluster_sum(balancer: dict, workers: list[dict]) -> dict:
    """The cluster as one lab: open connections, requests, CPU and memory added up over its workers (the
    feed's figures are the same on each)."""
    if not workers:
        return balancer
    out = dict(balancer)
    opened: dict[str, int] = {}
    requests: dict[str, int] = {}
    for st in workers:
        for k, v in (st.get("open") or {}).items():
            if isinstance(v, int):
                opened[k] = opened.get(k, 0) + v
        for k, v in (st.get("requests") or {}).items():
            if isinstance(v, int):
                requests[k] = requests.get(k, 0) + v
    out["open"], out["requests"] = opened, requests
    out["cpu_s"] = sum(float(st.get("cpu_s", 0)) for st in workers)
    out["rss_bytes"] = sum(int(st.get("rss_bytes", 0)) for st in workers)
    out["sessions"] = max(int(st.get("sessions", 0)) for st in workers)
    out["workers"] = len(workers)
    out["pid"] = "cluster " + " ".join(str(st.get("pid")) for st in workers)  # the rates restart with a worker
    out["pids"] = [st.get("pid") for st in workers]
    out["uptime_s"] = max(float(st.get("uptime_s", 0)) for st in workers)
    out["clock_s"] = time.monotonic()  # the rates' clock: this view's own (each worker has its own uptime)
    return out
