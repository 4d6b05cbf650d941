"""The Compare tab: the same feed over every transport, measured side by side.

**Run** starts a lab process of its own (so nothing else shares its feed,
CPU or connections) publishing at the chosen rate, and one client of each
transport — all at once, or *one at a time* (each alone on a fresh lab for
the same duration, which adds the lab's CPU time per 1 000 messages and its
memory). Optionally every client goes through a fault proxy and a fault
runs on its schedule. Once a second the table and charts refresh; at the
end the table stays and exports as CSV, the charts as PNG.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from functools import partial
from pathlib import Path
from typing import AsyncIterator, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QSpinBox, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from transport.browser.chromium import find_chromium
from transport.apps.compare import ALL, BROWSER, TITLES, TRANSPORTS, CompareRun, CpuOfWorkers, Tally, to_csv
from transport.apps.lab_admin import post_fault, worker_stats
from transport.core.errors import DuplexError
from transport.core.faults import FaultSpec

from ..widgets.compare_charts import CompareCharts
from ..widgets.header_tips import set_header_tips
from ..lab_process import LabProcess
from ..dialogs import ask_path
from ..tasks import TaskGroup
from ..widgets.timeline_files import FILTERS, render

log = logging.getLogger("duplex.ui.compare")

# (title, spec): every fault acts on the compare lab's one proxy, or on the lab (restart)
FAULTS: tuple[tuple[str, FaultSpec | None], ...] = (
    ("No fault", None),
    ("TCP reset every 5 s", FaultSpec("reset_peer", duration=0.2, every=5.0)),
    ("Latency 200 ± 50 ms", FaultSpec("latency", value=200, jitter=50)),
    ("Bandwidth 20 KB/s", FaultSpec("bandwidth", value=20)),
    ("Proxy down 2 s every 10 s", FaultSpec("down", duration=2.0, every=10.0)),
    ("Server restart (2 s down) every 10 s", FaultSpec("restart", duration=2.0, every=10.0)),
)
# (key, header, tooltip)
COLUMNS = (("transport", "Transport", "The transport measured, all on the same feed"), ("messages", "Messages", "Feed messages delivered"),
           ("p50_ms", "p50 ms", "One-way latency from the server's publish time: median"),
           ("p95_ms", "p95 ms", "One-way latency: 95th percentile"), ("p99_ms", "p99 ms", "One-way latency: 99th percentile"),
           ("wire_per_msg", "Wire B/msg", "Bytes on the wire per message, both ways"),
           ("payload_per_msg", "Payload", "Bytes of the messages themselves, per message"),
           ("headers_per_msg", "Headers", "HTTP heads (requests and responses; the WebSocket handshake), per message"),
           ("cookies_per_msg", "Cookies", "Cookie and Set-Cookie lines (part of the headers), per message"),
           ("framing_per_msg", "Framing", "Everything else: WebSocket frames, SSE fields, JSON list punctuation, "
                                          "NDJSON newlines, chunk sizes, per message"),
           ("requests_per_msg", "Req/msg", "HTTP requests (or WebSocket upgrades) per message"),
           ("empty", "Empty", "Responses that carried no message"),
           ("open_server", "Open", "Connections the lab holds open for this transport"),
           ("lost", "Lost", "The ledger: messages never received"), ("duplicated", "Dup.", "The ledger: duplicates"),
           ("cpu_ms_per_1000", "CPU ms/1k", "One at a time: the lab process's CPU time per 1 000 messages delivered"),
           ("rss_mb", "RSS MB", "The lab process's resident memory at the end"),
           ("rss_kb_per_1000", "RSS KB/1k", "One at a time: the lab's resident memory growth per 1 000 messages "
                                            "delivered"))


CLUSTER_COLUMNS = (("Transport", "Every transport at once, through HAProxy"),
                   ("1 worker msg/s", "Messages delivered per second with one worker"),
                   ("1 worker p50 ms", "Median latency with one worker"),
                   ("N workers msg/s", "Messages delivered per second with N workers (w1 killed half way)"),
                   ("N workers p50 ms", "Median latency with N workers"),
                   ("Reconnects", "Reconnect attempts each transport needed when worker w1 died"),
                   ("Lost / dup.", "The ledger with N workers: nothing lost or duplicated is the goal"))


def _rate(row: dict, duration: float) -> float | None:
    return round(row["messages"] / duration, 1) if row.get("messages") else None


def _lost(row: dict) -> str | None:
    return None if row.get("lost") is None else f"{row['lost']} / {row.get('duplicated', 0)}"


def _set_cell(table: QTableWidget, r: int, c: int, value: object) -> None:
    """A number cell: right-aligned, "—" for none, thousands separated; the item reused."""
    text = "—" if value is None else f"{value:,}" if isinstance(value, (int, float)) else str(value)
    item = table.item(r, c)
    if item is None:
        item = QTableWidgetItem()
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        table.setItem(r, c, item)
    item.setText(text)


class CompareTab(QWidget):
    title = "Compare"
    statusMessage = Signal(str)
    finished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tasks = TaskGroup(self._failed)
        self.rate = QSpinBox(minimum=1, maximum=5000, value=50, suffix=" msg/s")
        self.rate.setToolTip("How fast the lab publishes, for every transport at once")
        self.duration = QSpinBox(minimum=2, maximum=600, value=20, suffix=" s")
        self.duration.setToolTip("How long each run lasts (one at a time: per transport)")
        self.poll_interval = QDoubleSpinBox(minimum=0.05, maximum=60.0, value=1.0, decimals=2, suffix=" s")
        self.poll_interval.setToolTip("Short polling: the time between two polls")
        self.mode = QComboBox()
        self.mode.addItem("All at once", "all")
        self.mode.addItem("One at a time", "each")
        self.mode.addItem("Cluster: 1 vs N workers", "cluster")
        self.mode.setToolTip("One at a time: each transport alone on a fresh lab for the same duration, which "
                             "adds the lab's CPU time and memory per 1 000 messages. Cluster: every transport "
                             "through HAProxy (sticky by cookie, as Socket.IO's polling needs) to a lab of 1 "
                             "worker, then of N with one killed half way (needs redis-server and haproxy)")
        self.workers = QSpinBox(minimum=2, maximum=8, value=3, suffix=" workers")
        self.workers.setToolTip("Cluster mode: the second run's workers (the first has one); worker w1 is killed "
                                "half way through it")
        self.mode.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.fault = QComboBox()
        for title, spec in FAULTS:
            self.fault.addItem(title, spec)
        self.run_button = QPushButton("Run")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.csv_button = QPushButton("Export CSV…")
        self.png_button = QPushButton("Export PNG…")
        self.har_button = QPushButton("Export HAR…")
        self.har_button.setToolTip("Every request, response, frame and event of the run: HAR 1.2 or JSON Lines")
        self.state = QLabel("Run the same feed over every transport and compare what each costs and delivers.")
        self.state.setWordWrap(True)
        controls = QHBoxLayout()
        for label, widget in (("Rate", self.rate), ("Duration", self.duration), ("Short poll every", self.poll_interval),
                              ("Mode", self.mode), ("Fault", self.fault)):
            controls.addWidget(QLabel(label))
            controls.addWidget(widget)
        controls.addStretch(1)
        self.with_browser = QCheckBox("with a real browser")
        self.with_browser.setToolTip("One more row: a headless Chromium on the lab's demo page, its own WebSocket "
                                     "(the page's cost as the browser pays it)")
        if find_chromium() is None:
            self.with_browser.setEnabled(False)
            self.with_browser.setToolTip("No Chromium found: install it (apt install chromium) for this row")
        actions = QHBoxLayout()  # a second line: at 900 px one line cut the buttons and the combos
        actions.addWidget(self.run_button)
        actions.addWidget(self.stop_button)
        actions.addWidget(self.with_browser)
        actions.addWidget(self.workers)
        actions.addStretch(1)
        actions.addWidget(self.csv_button)
        actions.addWidget(self.png_button)
        actions.addWidget(self.har_button)
        self.table = QTableWidget(len(ALL), len(COLUMNS))
        self.table.setHorizontalHeaderLabels([c[1] for c in COLUMNS])
        set_header_tips(self.table, [tip for _key, _header, tip in COLUMNS])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for r, t in enumerate(ALL):
            self.table.setItem(r, 0, QTableWidgetItem(TITLES[t]))
        self.cluster_table = QTableWidget(len(TRANSPORTS), len(CLUSTER_COLUMNS))
        self.cluster_table.setHorizontalHeaderLabels([c[0] for c in CLUSTER_COLUMNS])
        set_header_tips(self.cluster_table, [tip for _header, tip in CLUSTER_COLUMNS])
        self.cluster_table.verticalHeader().hide()
        self.cluster_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.cluster_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for r, t in enumerate(TRANSPORTS):
            self.cluster_table.setItem(r, 0, QTableWidgetItem(TITLES[t]))
        self.cluster_cpu = QLabel("")
        self.cluster_cpu.setWordWrap(True)
        cluster_box = QWidget()
        cb = QVBoxLayout(cluster_box)
        cb.setContentsMargins(0, 0, 0, 0)
        cb.addWidget(self.cluster_table)
        cb.addWidget(self.cluster_cpu)
        self.cluster_box = cluster_box
        cluster_box.hide()
        self.charts = CompareCharts()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(cluster_box)
        split.addWidget(self.charts)
        split.setSizes([230, 0, 420])  # the cluster table takes its share once a cluster run shows it
        self.split = split
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(actions)
        layout.addWidget(self.state)
        layout.addWidget(split, 1)
        self.tallies: dict[str, Tally] = {}
        self.rows: dict[str, dict] = {}
        self._run: asyncio.Task | None = None
        self.workers.setVisible(False)
        self.mode.currentIndexChanged.connect(
            lambda _i: self.workers.setVisible(self.mode.currentData() == "cluster"))
        self.run_button.clicked.connect(self._on_run_button_clicked)
        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        self.csv_button.clicked.connect(lambda: self._ask_path("Export the table", "compare.csv", "CSV (*.csv)",
                                                               self.export_csv))
        self.png_button.clicked.connect(lambda: self._ask_path("Export the charts", "compare.png", "PNG (*.png)",
                                                               self.export_png))
        self.har_button.clicked.connect(lambda: self._ask_path("Export the run", "compare.har", FILTERS,
                                                               self.export_events))

    # -- running -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._run is not None and not self._run.done()

    def _on_run_button_clicked(self) -> None:
        if not self.running:
            self._run = self._tasks.spawn(self.run())

    def _on_stop_button_clicked(self) -> None:
        if self._run is not None and not self._run.done():
            self._run.cancel()
            self.state.setText("Stopped: the table shows what was measured until then.")

    def _failed(self, sentence: str) -> None:
        self.state.setText(sentence)
        self.statusMessage.emit(f"Compare: {sentence}")

    async def run(self) -> None:
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.tallies, self.rows = {}, {}
        self.charts.reset()
        self._show()
        spec = self.fault.currentData()
        try:
            chosen = [*TRANSPORTS, BROWSER] if self.with_browser.isChecked() else list(TRANSPORTS)
            if self.mode.currentData() == "cluster":
                await self._run_cluster([t for t in chosen if t != BROWSER])
            elif self.mode.currentData() == "all":
                await self._run_once(chosen, spec)
            else:
                for t in chosen:
                    await self._run_once([t], spec)
            self.state.setText(self._summary())
        finally:
            self.run_button.setEnabled(True)
            self.stop_button.setEnabled(False)
            self.finished.emit()

    async def _run_once(self, transports: list[str], spec: FaultSpec | None) -> None:
        rate, duration = self.rate.value(), self.duration.value()
        names = ", ".join(TITLES[t] for t in transports)
        self.state.setText(f"Starting a lab at {rate} msg/s for {names}…")
        under = f" under “{self.fault.currentText()}”" if spec else ""

        def on_second(at: float, stats: dict | None) -> None:
            self._refresh(transports, stats)
            self.state.setText(f"Running {names}: {at:.0f} of {duration} s{under}")

        run = CompareRun(transports, rate=rate, duration=duration, start_lab=self._lab, on_second=on_second,
                         spec=spec, poll_interval=float(self.poll_interval.value()))
        self.tallies.update(run.tallies)
        await run.run()
        self._refresh(transports, run.after, run.before if len(transports) == 1 else None)

    # -- cluster mode: 1 worker, then N with one killed half way ----------------------------------
    async def _run_cluster(self, transports: list[str]) -> None:
        n, rate, duration = self.workers.value(), self.rate.value(), self.duration.value()
        results: dict[int, dict] = {}
        if self.cluster_box.isHidden():
            self.cluster_box.show()
            self.split.setSizes([200, 190, 380])
        for workers in (1, n):
            labs: list[LabProcess] = []
            cpu = CpuOfWorkers()

            def on_second(at: float, stats: dict | None, workers: int = workers) -> None:
                self._refresh(transports, stats)
                self.state.setText(f"Cluster of {workers} worker{'s' if workers > 1 else ''} behind HAProxy: "
                                   f"{at:.0f} of {duration} s" + (" (w1 killed half way)" if workers > 1 else ""))

            self.state.setText(f"Starting a cluster of {workers} worker(s) at {rate} msg/s…")
            run = CompareRun(transports, rate=rate, duration=duration, start_lab=partial(self._lab, cluster=workers,
                                                                                           made=labs),
                             on_second=on_second, spec=None, poll_interval=float(self.poll_interval.value()))
            self.tallies = dict(run.tallies)
            watch = self._tasks.spawn(self._watch_cluster(labs, cpu, kill_at=duration / 2 if workers > 1 else None))
            try:
                await run.run()
            finally:
                watch.cancel()
            self._refresh(transports, run.after)
            rows = {t: run.tallies[t].row() for t in transports}
            results[workers] = {"rows": rows, "cpu_s": cpu.seconds,
                                "messages": sum(r["messages"] for r in rows.values())}
            self._show_cluster(results, n, duration)

    async def _watch_cluster(self, labs: list[LabProcess], cpu: CpuOfWorkers, kill_at: float | None) -> None:
        """Once a second: every worker's CPU (asked on its own port); at ``kill_at`` s, worker w1 killed."""
        started: float | None = None
        killed = False
        for _ in range(24 * 3600):  # bounded: the run cancels it long before
            await asyncio.sleep(1.0)  # the run's schedule
            lab = labs[0] if labs else None
            workers = (lab.announced.get("workers") or []) if lab is not None else []
            if lab is None or not workers:
                continue
            started = started if started is not None else time.monotonic()
            # a killed worker answers None: CpuOfWorkers keeps its last sample
            cpu.sample(list(await asyncio.gather(*(worker_stats(w.get("port"), lab.token) for w in workers))))
            if kill_at is not None and not killed and time.monotonic() - started >= kill_at:
                killed = True
                await post_fault(lab.url, lab.token, {"action": "kill_worker", "worker": "w1"})

    def _show_cluster(self, results: dict[int, dict], n: int, duration: float) -> None:
        for r, t in enumerate(TRANSPORTS):
            one = results.get(1, {}).get("rows", {}).get(t, {})
            many = results.get(n, {}).get("rows", {}).get(t, {})
            cells = [_rate(one, duration), one.get("p50_ms"), _rate(many, duration), many.get("p50_ms"),
                     many.get("reconnects"), _lost(many)]
            for c, value in enumerate(cells, start=1):
                _set_cell(self.cluster_table, r, c, value)
        self.cluster_table.setHorizontalHeaderLabels(
            [h.replace("N workers", f"{n} workers") for h, _tip in CLUSTER_COLUMNS])
        parts = [f"{w} worker{'s' if w > 1 else ''}: {res['cpu_s'] * 1e6 / res['messages']:,.1f} ms"
                 for w, res in sorted(results.items()) if res["messages"]]
        self.cluster_cpu.setText("The workers' CPU time per 1 000 messages delivered (every transport, all workers "
                                 "added up): " + " · ".join(parts))

    @contextlib.asynccontextmanager
    async def _lab(self, rate: float, cluster: int = 0,
                   made: list[LabProcess] | None = None) -> AsyncIterator[tuple[str, str]]:
        """A lab process of the run's own, stopped and its files removed after."""
        lab = LabProcess(rate=rate, parent=self, extra=("--sse-heartbeat", "5"))
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

    # -- showing --------------------------------------------------------------------------------
    def _refresh(self, transports: list[str], stats: dict | None, before: dict | None = None) -> None:
        for t in transports:
            row = self.tallies[t].row()
            if stats is not None:
                row["open_server"] = (stats.get("open") or {}).get(t, 0 if t == "short_poll" else None)
                row["rss_mb"] = round(stats.get("rss_bytes", 0) / 1e6, 1)
            if before is not None and stats is not None and row["messages"]:
                row["cpu_ms_per_1000"] = round((stats["cpu_s"] - before["cpu_s"]) * 1e6 / row["messages"], 1)
                row["rss_kb_per_1000"] = round((stats["rss_bytes"] - before["rss_bytes"]) / row["messages"], 1)
            old = self.rows.get(t, {})
            for key in ("open_server", "rss_mb", "cpu_ms_per_1000", "rss_kb_per_1000"):
                row.setdefault(key, old.get(key))
            self.rows[t] = row
        self._show()
        self.charts.redraw(self.tallies, self.rows)

    def _show(self) -> None:
        for r, t in enumerate(ALL):
            row = self.rows.get(t, {})
            for c, (key, _header, _tip) in enumerate(COLUMNS[1:], start=1):
                _set_cell(self.table, r, c, row.get(key))

    def _summary(self) -> str:
        rows = [r for r in self.rows.values() if r.get("messages")]
        if not rows:
            return "Done: no messages were delivered."
        lean = min(rows, key=lambda r: r["wire_per_msg"] or float("inf"))
        fast = min(rows, key=lambda r: r["p50_ms"] if r["p50_ms"] is not None else float("inf"))
        lost = sum(r["lost"] or 0 for r in rows)
        return (f"Done. Leanest: {TITLES[lean['transport']]} ({lean['wire_per_msg']} B per message); fastest: "
                f"{TITLES[fast['transport']]} (p50 {fast['p50_ms']} ms); lost in all: {lost}.")

    # -- export --------------------------------------------------------------------------------
    def _ask_path(self, title: str, name: str, kinds: str, then: Callable[[str], object]) -> None:
        ask_path(self, title, then, save=True, name=name, filters=kinds)

    def table_rows(self) -> list[dict]:
        return [self.rows[t] for t in ALL if t in self.rows]

    def export_csv(self, path: str) -> asyncio.Task:
        text = to_csv(self.table_rows())
        return self._tasks.spawn(self._write(path, lambda: Path(path).write_text(text, encoding="utf-8")))

    def export_events(self, path: str) -> asyncio.Task:
        lists = [list(tally.events) for tally in self.tallies.values()]  # copied here, sorted off the GUI thread

        def write() -> None:
            events = sorted((e for events in lists for e in events), key=lambda e: e.t)
            Path(path).write_text(render(events, path), encoding="utf-8")

        return self._tasks.spawn(self._write(path, write))

    def export_png(self, path: str) -> asyncio.Task:
        image = self.charts.grab().toImage()  # drawn on the GUI thread, written off it

        def save() -> None:
            if not image.save(path, "PNG"):
                raise OSError(f"could not write {path}")

        return self._tasks.spawn(self._write(path, save))

    async def _write(self, path: str, write: Callable[[], object]) -> None:
        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            raise DuplexError(f"Could not write {path}: {exc}") from exc
        self.state.setText(f"Written to {path}.")
        self.statusMessage.emit(f"Compare: written to {path}.")

    async def shutdown(self) -> None:
        await self._tasks.cancel_all()
