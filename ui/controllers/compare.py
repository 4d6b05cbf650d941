"""The Compare tab's logic, without widgets: runs of transport/apps/compare.py on labs of their own (all at
once, one at a time, or a cluster of 1 then N workers with w1 killed half way), the table's rows, the
summary, and the exports.

The tab hands it a :class:`CompareSettings` from its form and shows what its signals say.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import AsyncIterator, Callable

from PySide6.QtCore import QObject, Signal

from transport.apps.protocol_compare import ProtocolRow, compare_protocols
from transport.apps.compare import (ALL, BROWSER, CONDITIONAL, ONE_EACH, TITLES, TRANSPORTS, CompareRun, CpuOfWorkers, Tally, to_csv,
                                    watch_cluster)
from transport.apps.middlebox_run import MiddleboxRun, Pass, Row, rows_csv
from transport.browser.chromium import find_chromium
from transport.core.errors import DuplexError
from transport.core.events import Event
from transport.core.faults import FaultSpec

from ..lab_process import LabProcess
from ..tasks import TaskGroup

log = logging.getLogger("duplex.ui.compare")

ROWS: tuple[tuple[str, str], ...] = tuple((t, TITLES[t]) for t in ALL)  # the table's rows: key, title
CLUSTER_ROWS: tuple[tuple[str, str], ...] = tuple((t, TITLES[t]) for t in ONE_EACH)


@dataclass(frozen=True)
class CompareSettings:
    mode: str  # "all", "each" (one at a time), "cluster", "middleboxes" or "protocols" (HTTP/1.1 vs HTTP/2)
    rate: int
    duration: int
    poll_interval: float
    spec: FaultSpec | None = None
    fault_title: str = ""
    with_browser: bool = False
    workers: int = 3  # cluster mode: the second run's


PROTOCOL_STREAMS = 10  # EventSources of the page in HTTP/1.1 vs HTTP/2


def protocols_summary(rows: list[ProtocolRow]) -> str:
    """One sentence per protocol: streams open at once, connections, time until all open, setup bytes."""
    parts = []
    for r in rows:
        timing = f"all open in {r.all_open_ms:,.0f} ms" if r.all_open_ms is not None else \
            f"{r.pending} pending until another closed"
        parts.append(f"{r.title}: {r.open} of {r.streams} open on {r.connections} connection"
                     f"{'s' if r.connections != 1 else ''}, {timing}, {r.setup_bytes:,} B until settled"
                     + (f", {r.bytes_per_message:,.0f} B per message" if r.bytes_per_message else ""))
    return "Done. " + "; ".join(parts) + "."


def has_browser() -> bool:
    return find_chromium() is not None


def _cluster_seen(labs: list[LabProcess]) -> tuple[str, str, list[dict]] | None:
    """The cluster a run started (its balancer, token and workers), once it listens."""
    lab = labs[0] if labs else None
    if lab is None or not lab.url:
        return None
    return lab.url, lab.token, list(lab.announced.get("workers") or [])


class CompareController(QObject):
    progress = Signal(str)  # what the run is doing, or how it ended
    rowsChanged = Signal()  # rows and tallies changed: the table and the charts show them again
    clusterShown = Signal(object, int, float)  # cluster results so far {workers: …}, N, duration
    middleboxesShown = Signal(object)  # Middleboxes: the rows so far (list[Row])
    protocolsShown = Signal(object)  # HTTP/1.1 vs HTTP/2 (browser): the rows so far (list[ProtocolRow])
    runningChanged = Signal(bool)
    failed = Signal(str)  # a sentence: the run could not go on, an export could not be written
    written = Signal(str)  # an export's path

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tallies: dict[str, Tally] = {}
        self.rows: dict[str, dict] = {}
        self.middlebox_rows: list[Row] = []
        self.protocol_rows: list[ProtocolRow] = []
        self.lab_rss_mb: float | None = None  # all at once: the lab's memory, for every transport together
        self._tasks = TaskGroup(self.failed.emit)
        self._run: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._run is not None and not self._run.done()

    def start(self, settings: CompareSettings) -> None:
        if not self.running:
            self._run = self._tasks.spawn(self.run(settings))

    def stop(self) -> None:
        if self._run is not None and not self._run.done():
            self._run.cancel()
            self.progress.emit("Stopped: the table shows what was measured until then.")

    async def run(self, settings: CompareSettings) -> None:
        self.runningChanged.emit(True)
        self.tallies, self.rows, self.middlebox_rows = {}, {}, []
        self.rowsChanged.emit()
        try:
            chosen = [*TRANSPORTS, BROWSER] if settings.with_browser else list(TRANSPORTS)
            if settings.mode == "middleboxes":
                await self._run_middleboxes(settings)
                return
            if settings.mode == "protocols":
                await self._run_protocols(settings)
                return
            if settings.mode == "cluster":
                await self._run_cluster(list(ONE_EACH), settings)
            elif settings.mode == "all":
                await self._run_once(chosen, settings)
            else:  # one at a time: each transport once (the conditional short poll is a variant of one)
                for t in [t for t in chosen if t != CONDITIONAL]:
                    await self._run_once([t], settings)
            self.progress.emit(self.summary())
        finally:
            self.runningChanged.emit(False)

    async def _run_once(self, transports: list[str], settings: CompareSettings) -> None:
        rate, duration = settings.rate, settings.duration
        names = ", ".join(TITLES[t] for t in transports)
        self.progress.emit(f"Starting a lab at {rate} msg/s for {names}…")
        under = f" under “{settings.fault_title}”" if settings.spec else ""

        def on_second(at: float, stats: dict | None) -> None:
            self._refresh(transports, stats)
            self.progress.emit(f"Running {names}: {at:.0f} of {duration} s{under}")

        run = CompareRun(transports, rate=rate, duration=duration, start_lab=self._lab, on_second=on_second,
                         spec=settings.spec, poll_interval=settings.poll_interval)
        self.tallies.update(run.tallies)
        await run.run()
        self._refresh(transports, run.after, run.before if len(transports) == 1 else None)

    # -- cluster mode: 1 worker, then N with one killed half way ----------------------------------
    async def _run_cluster(self, transports: list[str], settings: CompareSettings) -> None:
        n, rate, duration = settings.workers, settings.rate, settings.duration
        results: dict[int, dict] = {}
        for workers in (1, n):
            labs: list[LabProcess] = []
            cpu = CpuOfWorkers()

            def on_second(at: float, stats: dict | None, workers: int = workers) -> None:
                self._refresh(transports, stats)
                self.progress.emit(f"Cluster of {workers} worker{'s' if workers > 1 else ''} behind HAProxy: "
                                   f"{at:.0f} of {duration} s" + (" (w1 killed half way)" if workers > 1 else ""))

            self.progress.emit(f"Starting a cluster of {workers} worker(s) at {rate} msg/s…")
            run = CompareRun(transports, rate=rate, duration=duration,
                             start_lab=partial(self._lab, cluster=workers, made=labs), on_second=on_second,
                             spec=None, poll_interval=settings.poll_interval)
            self.tallies = dict(run.tallies)
            watch = self._tasks.spawn(watch_cluster(partial(_cluster_seen, labs), cpu,
                                                    kill_at=duration / 2 if workers > 1 else None))
            try:
                await run.run()
            finally:
                watch.cancel()
            self._refresh(transports, run.after)
            rows = {t: run.tallies[t].row() for t in transports}
            results[workers] = {"rows": rows, "cpu_s": cpu.seconds,
                                "messages": sum(r["messages"] for r in rows.values())}
            self.clusterShown.emit(results, n, float(duration))

    # -- Middleboxes: every transport through each preset ------------------------------------------
    async def _run_middleboxes(self, settings: CompareSettings) -> None:
        def on_pass(p: Pass, i: int, n: int) -> None:
            self.middleboxesShown.emit(list(self.middlebox_rows))
            self.progress.emit(f"Middlebox {i} of {n}: {p.title} — every transport through it for "
                               f"{settings.duration} s")

        run = MiddleboxRun(self._lab, rate=settings.rate, seconds=settings.duration, on_pass=on_pass,
                           poll_interval=settings.poll_interval)
        self.middlebox_rows = run.rows  # grows pass by pass
        try:
            await run.run()
        finally:
            self.middleboxesShown.emit(list(run.rows))
        failed = sum(1 for r in run.rows if not r.messages and r.box != "idle_timeout")
        self.progress.emit(f"Done: {len(run.passes)} middlebox passes; {failed} transport(s) delivered nothing behind "
                           "a box — the last column says what each had to change.")

    # -- HTTP/1.1 vs HTTP/2 in Chromium, on a TLS lab of the run's own --------------------------------
    async def _run_protocols(self, settings: CompareSettings) -> None:
        self.protocol_rows = []
        self.progress.emit(f"Starting a TLS lab at {settings.rate} msg/s (HAProxy in front: HTTP/1.1 and HTTP/2)…")
        made: list[LabProcess] = []
        async with self._lab(settings.rate, made=made, tls=True) as (url, _token):
            tls = made[0].announced.get("tls")
            if not isinstance(tls, dict):
                raise DuplexError("The Compare lab did not start with TLS (no tls in its first line).")

            def on_row(row: ProtocolRow) -> None:
                self.protocol_rows.append(row)
                self.protocolsShown.emit(list(self.protocol_rows))

            self.progress.emit(f"{PROTOCOL_STREAMS} EventSources from one page in a headless Chromium, over HTTP/1.1 "
                               f"then HTTP/2, each held {min(settings.duration, 5)} s…")
            await compare_protocols(url, tls, PROTOCOL_STREAMS, hold_s=float(min(settings.duration, 5)),
                                    on_row=on_row)
        self.progress.emit(protocols_summary(self.protocol_rows))

    @contextlib.asynccontextmanager
    async def _lab(self, rate: float, cluster: int = 0, made: list[LabProcess] | None = None,
                   tls: bool = False) -> AsyncIterator[tuple[str, str]]:
        """A lab process of the run's own, stopped and its files removed after."""
        lab = LabProcess(rate=rate, parent=self, extra=("--sse-heartbeat", "5"))
        lab.tls = tls
        if cluster:
            lab.cluster = (cluster, "cookie", "shared")  # sticky: Socket.IO's polling needs it (README)
        if made is not None:
            made.append(lab)
        try:
            yield await lab.wait_listening()
        finally:
            await lab.stop_async()
            lab.remove_files()
            lab.deleteLater()

    # -- the rows -------------------------------------------------------------------------------
    def _refresh(self, transports: list[str], stats: dict | None, before: dict | None = None) -> None:
        for t in transports:
            row = self.tallies[t].row()
            if stats is not None:
                row["open_server"] = (stats.get("open") or {}).get(t, 0 if t == "short_poll" else None)
                if len(transports) == 1:  # the lab's memory is one transport's only when it ran alone
                    row["rss_mb"] = round(stats.get("rss_bytes", 0) / 1e6, 1)
            if before is not None and stats is not None and row["messages"]:
                row["cpu_ms_per_1000"] = round((stats["cpu_s"] - before["cpu_s"]) * 1e6 / row["messages"], 1)
                row["rss_kb_per_1000"] = round((stats["rss_bytes"] - before["rss_bytes"]) / row["messages"], 1)
            old = self.rows.get(t, {})
            for key in ("open_server", "rss_mb", "cpu_ms_per_1000", "rss_kb_per_1000"):
                row.setdefault(key, old.get(key))
            self.rows[t] = row
        if stats is not None and len(transports) > 1:
            self.lab_rss_mb = round(stats.get("rss_bytes", 0) / 1e6, 1)
        self.rowsChanged.emit()

    def summary(self) -> str:
        rows = [r for r in self.rows.values() if r.get("messages")]
        if not rows:
            return "Done: no messages were delivered."
        lean = min(rows, key=lambda r: r["wire_per_msg"] or float("inf"))
        fast = min(rows, key=lambda r: r["p50_ms"] if r["p50_ms"] is not None else float("inf"))
        lost = sum(r["lost"] or 0 for r in rows)
        rss = f" The lab held {self.lab_rss_mb:,.1f} MB resident for all of them." if self.lab_rss_mb else ""
        return (f"Done. Leanest: {TITLES[lean['transport']]} ({lean['wire_per_msg']} B per message); fastest: "
                f"{TITLES[fast['transport']]} (p50 {fast['p50_ms']} ms); lost in all: {lost}.{rss}")

    def table_rows(self) -> list[dict]:
        return [self.rows[t] for t in ALL if t in self.rows]

    # -- export ---------------------------------------------------------------------------------
    def export_csv(self, path: str) -> asyncio.Task:
        text = rows_csv(self.middlebox_rows) if self.middlebox_rows else to_csv(self.table_rows())
        return self.write(path, lambda: Path(path).write_text(text, encoding="utf-8"))

    def export_events(self, path: str, render: Callable[[list[Event], str], str]) -> asyncio.Task:
        """Every event of the run, sorted off the GUI thread and written with ``render`` (HAR or JSON Lines)."""
        lists = [list(tally.events) for tally in self.tallies.values()]  # copied here

        def write() -> None:
            events = sorted((e for events in lists for e in events), key=lambda e: e.t)
            Path(path).write_text(render(events, path), encoding="utf-8")

        return self.write(path, write)

    def write(self, path: str, write: Callable[[], object]) -> asyncio.Task:
        """``write`` run off the GUI thread; written (or failed) said."""
        async def run() -> None:
            try:
                await asyncio.to_thread(write)
            except OSError as exc:
                raise DuplexError(f"Could not write {path}: {exc}") from exc
            self.written.emit(path)

        return self._tasks.spawn(run())

    async def shutdown(self) -> None:
        await self._tasks.cancel_all()
