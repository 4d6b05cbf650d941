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
import logging
from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QSpinBox, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from transport.core.faults import FaultSpec

from ..controllers.compare import CLUSTER_ROWS, ROWS, TITLES, CompareController, CompareSettings, has_browser
from ..widgets.compare_charts import CompareCharts
from ..widgets.header_tips import read_only_table, set_header_tips
from ..dialogs import ask_path
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
    ("Drop every 20th message", FaultSpec("message_drop", value=20)),
    ("Duplicate every 20th message", FaultSpec("message_duplicate", value=20)),
    ("Reorder every 20th message", FaultSpec("message_reorder", value=20)),
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
           ("idle_poll_bytes", "B/idle", "Bytes on the wire per response that carried no message (a 304 among "
                                        "them): what waiting costs"),
           ("open_server", "Open", "Connections the lab holds open for this transport"),
           ("lost", "Lost", "The ledger: messages never received"), ("duplicated", "Dup.", "The ledger: duplicates"),
           ("cpu_ms_per_1000", "CPU ms/1k", "One at a time: the lab process's CPU time per 1 000 messages delivered"),
           ("rss_mb", "RSS MB", "The lab process's resident memory at the end"),
           ("rss_kb_per_1000", "RSS KB/1k", "One at a time: the lab's resident memory growth per 1 000 messages "
                                            "delivered"))


MIDDLEBOX_COLUMNS = (("Middlebox (pass)", "The box between the clients and the lab, and what the lab did in this pass"),
                     ("Transport", "One client of each transport, through the box"),
                     ("Delivered", "Feed messages delivered in the pass"),
                     ("p50 ms", "One-way latency: median"), ("p99 ms", "One-way latency: 99th percentile"),
                     ("Reconnects", "Reconnect attempts: a connection the box refused or cut"),
                     ("Errors", "Error rows: a refused upgrade, the box's own answer, a cut connection"),
                     ("What it took", "What the user had to change for this transport behind this box (the "
                                      "tooltip: what the client said first)"))
PROTOCOL_COLUMNS = (("Protocol", "The lab's http/1.1-only port, then its h2 port (the TLS lab: HAProxy in front)"),
                    ("Open at once", "EventSources of the one page that opened without any other closing"),
                    ("Pending", "Streams still waiting for a connection: a browser holds six per origin over "
                                "HTTP/1.1"),
                    ("Connections", "Network.Response.connectionId: the connections the open streams used"),
                    ("All open ms", "From the first stream request until the last stream opened (— : never)"),
                    ("Setup B", "On the wire until the streams settled (a TCP counter in front of the TLS front): "
                                "TLS handshakes, requests, response heads — HPACK compresses HTTP/2's"),
                    ("Setup B/stream", "The setup bytes per stream that opened"),
                    ("Messages", "Messages the page received during the hold"),
                    ("Wire B/msg", "On the wire per message during the hold: TLS records and HTTP/2 frames or "
                                   "HTTP/1.1 chunks"))
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

    def __init__(self, controller: CompareController | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller or CompareController(self)
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
        self.mode.addItem("Middleboxes", "middleboxes")
        self.mode.addItem("HTTP/1.1 vs HTTP/2 (browser)", "protocols")
        self.mode.setToolTip("One at a time: each transport alone on a fresh lab for the same duration, which "
                             "adds the lab's CPU time and memory per 1 000 messages. Cluster: every transport "
                             "through HAProxy (sticky by cookie, as Socket.IO's polling needs) to a lab of 1 "
                             "worker, then of N with one killed half way (needs redis-server and haproxy). "
                             "Middleboxes: every transport through each middlebox preset (firewall, Upgrade "
                             "stripped, buffering proxy, idle timeout of 1 s, flaky API), Duration each")
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
        if not has_browser():
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
        self.table = QTableWidget(len(ROWS), len(COLUMNS))
        self.table.setHorizontalHeaderLabels([c[1] for c in COLUMNS])
        set_header_tips(self.table, [tip for _key, _header, tip in COLUMNS])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for r, (_key, title) in enumerate(ROWS):
            self.table.setItem(r, 0, QTableWidgetItem(title))
        self.cluster_table = QTableWidget(len(CLUSTER_ROWS), len(CLUSTER_COLUMNS))
        self.cluster_table.setHorizontalHeaderLabels([c[0] for c in CLUSTER_COLUMNS])
        set_header_tips(self.cluster_table, [tip for _header, tip in CLUSTER_COLUMNS])
        self.cluster_table.verticalHeader().hide()
        self.cluster_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.cluster_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for r, (_key, title) in enumerate(CLUSTER_ROWS):
            self.cluster_table.setItem(r, 0, QTableWidgetItem(title))
        self.cluster_cpu = QLabel("")
        self.cluster_cpu.setWordWrap(True)
        cluster_box = QWidget()
        cb = QVBoxLayout(cluster_box)
        cb.setContentsMargins(0, 0, 0, 0)
        cb.addWidget(self.cluster_table)
        cb.addWidget(self.cluster_cpu)
        self.cluster_box = cluster_box
        cluster_box.hide()
        self.middlebox_table = QTableWidget(0, len(MIDDLEBOX_COLUMNS))
        self.middlebox_table.setHorizontalHeaderLabels([c[0] for c in MIDDLEBOX_COLUMNS])
        set_header_tips(self.middlebox_table, [tip for _header, tip in MIDDLEBOX_COLUMNS])
        self.middlebox_table.verticalHeader().hide()
        self.middlebox_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.middlebox_table.setWordWrap(False)
        header = self.middlebox_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.middlebox_table.hide()
        self.protocol_table = read_only_table([c[0] for c in PROTOCOL_COLUMNS], [tip for _h, tip in PROTOCOL_COLUMNS])
        self.protocol_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.protocol_table.hide()
        self.charts = CompareCharts(ROWS)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(cluster_box)
        split.addWidget(self.middlebox_table)
        split.addWidget(self.protocol_table)
        split.addWidget(self.charts)
        split.setSizes([230, 0, 0, 0, 420])  # table, cluster, middleboxes, protocols, charts: the middle ones when shown
        self.split = split
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(actions)
        layout.addWidget(self.state)
        layout.addWidget(split, 1)
        self.workers.setVisible(False)
        self.mode.currentIndexChanged.connect(self._on_mode_current_index_changed)
        self.run_button.clicked.connect(self._on_run_button_clicked)
        self.stop_button.clicked.connect(self.controller.stop)
        c = self.controller
        c.progress.connect(self.state.setText)
        c.rowsChanged.connect(self._show)
        c.clusterShown.connect(self._show_cluster)
        c.middleboxesShown.connect(self._show_middleboxes)
        c.protocolsShown.connect(self._show_protocols)
        c.runningChanged.connect(self._show_running)
        c.failed.connect(self._failed)
        c.written.connect(self._written)
        self.csv_button.clicked.connect(lambda: self._ask_path("Export the table", "compare.csv", "CSV (*.csv)",
                                                               self.export_csv))
        self.png_button.clicked.connect(lambda: self._ask_path("Export the charts", "compare.png", "PNG (*.png)",
                                                               self.export_png))
        self.har_button.clicked.connect(lambda: self._ask_path("Export the run", "compare.har", FILTERS,
                                                               self.export_events))

    # -- running (the controller runs; the tab shows) -------------------------------------------
    @property
    def running(self) -> bool:
        return self.controller.running

    @property
    def tallies(self) -> dict:
        return self.controller.tallies

    @property
    def rows(self) -> dict[str, dict]:
        return self.controller.rows

    def settings(self) -> CompareSettings:
        """What the form says."""
        return CompareSettings(mode=str(self.mode.currentData()), rate=self.rate.value(),
                               duration=self.duration.value(), poll_interval=float(self.poll_interval.value()),
                               spec=self.fault.currentData(), fault_title=self.fault.currentText(),
                               with_browser=self.with_browser.isChecked(), workers=self.workers.value())

    def _on_run_button_clicked(self) -> None:
        self.controller.start(self.settings())

    def _show_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        if running:
            self.charts.reset()
        else:
            self.finished.emit()

    def _failed(self, sentence: str) -> None:
        self.state.setText(sentence)
        self.statusMessage.emit(f"Compare: {sentence}")

    def _written(self, path: str) -> None:
        self.state.setText(f"Written to {path}.")
        self.statusMessage.emit(f"Compare: written to {path}.")

    def _on_mode_current_index_changed(self, *_args: object) -> None:
        mode = self.mode.currentData()
        self.workers.setVisible(mode == "cluster")
        self.fault.setEnabled(mode not in ("middleboxes", "protocols"))  # each pass brings its own box
        boxes, protocols = mode == "middleboxes", mode == "protocols"
        self.middlebox_table.setVisible(boxes)
        self.protocol_table.setVisible(protocols)
        self.table.setVisible(not boxes and not protocols)
        self.charts.setVisible(not boxes and not protocols)
        if boxes:
            self.split.setSizes([0, 0, 600, 0, 0])
        elif protocols:
            self.split.setSizes([0, 0, 0, 600, 0])

    def _show_protocols(self, rows: list) -> None:
        """One row per protocol: streams open at once, connections, time until all open, bytes on the wire."""
        table = self.protocol_table
        if table.isHidden():
            self.mode.setCurrentIndex(self.mode.findData("protocols"))
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            cells = [f"{row.title} ({row.protocol})", f"{row.open} of {row.streams}", str(row.pending),
                     str(row.connections), "—" if row.all_open_ms is None else f"{row.all_open_ms:,.1f}",
                     f"{row.setup_bytes:,}", "—" if row.setup_per_stream is None else f"{row.setup_per_stream:,.0f}",
                     f"{row.held_messages:,}", "—" if row.bytes_per_message is None else f"{row.bytes_per_message:,.1f}"]
            for c, text in enumerate(cells):
                table.setItem(r, c, QTableWidgetItem(text))

    def _show_middleboxes(self, rows: list) -> None:
        """Every (pass, transport) row so far; the cells' items are reused."""
        table = self.middlebox_table
        if table.isHidden():
            self.mode.setCurrentIndex(self.mode.findData("middleboxes"))
        grew = len(rows) > table.rowCount()
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            first = r == 0 or rows[r - 1].pass_title != row.pass_title  # the pass named once, on its first row
            cells = [row.pass_title if first else "", TITLES.get(row.transport, row.transport), row.messages,
                     row.p50_ms, row.p99_ms, row.reconnects, row.errors, row.advice]
            for c, value in enumerate(cells):
                if isinstance(value, str):
                    item = table.item(r, c)
                    if item is None:
                        item = QTableWidgetItem()
                        table.setItem(r, c, item)
                    item.setText(value)
                    tip = row.said if c == 7 and row.said else row.pass_title if c == 0 else value
                    item.setToolTip(tip)
                else:
                    _set_cell(table, r, c, value)
        if grew:  # a new pass: the columns fit what they hold (the pass title at most 240 px, its tooltip whole)
            table.resizeColumnsToContents()
            table.setColumnWidth(0, min(table.columnWidth(0), 240))

    def _show_cluster(self, results: dict[int, dict], n: int, duration: float) -> None:
        if self.cluster_box.isHidden():
            self.cluster_box.show()
            self.split.setSizes([200, 190, 0, 0, 380])
        for r, (t, _title) in enumerate(CLUSTER_ROWS):
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

    # -- showing --------------------------------------------------------------------------------
    def _show(self) -> None:
        rows = self.controller.rows
        for r, (t, _title) in enumerate(ROWS):
            row = rows.get(t, {})
            for c, (key, _header, _tip) in enumerate(COLUMNS[1:], start=1):
                _set_cell(self.table, r, c, row.get(key))
        self.charts.redraw(self.controller.tallies, rows)

    # -- export --------------------------------------------------------------------------------
    def _ask_path(self, title: str, name: str, kinds: str, then: Callable[[str], object]) -> None:
        ask_path(self, title, then, save=True, name=name, filters=kinds)

    def table_rows(self) -> list[dict]:
        return self.controller.table_rows()

    def export_csv(self, path: str) -> asyncio.Task:
        return self.controller.export_csv(path)

    def export_events(self, path: str) -> asyncio.Task:
        return self.controller.export_events(path, render)

    def export_png(self, path: str) -> asyncio.Task:
        image = self.charts.grab().toImage()  # drawn on the GUI thread, written off it

        def save() -> None:
            if not image.save(path, "PNG"):  # type: ignore[call-overload]  # the stub says bytes; PySide takes str
                raise OSError(f"could not write {path}")

        return self.controller.write(path, save)

    async def shutdown(self) -> None:
        await self.controller.shutdown()
