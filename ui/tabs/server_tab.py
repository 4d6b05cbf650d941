"""The Server tab: the lab process's own view and the scenario runner.

Left: the process (address, pid, uptime, CPU time, memory, feed position,
history file), kill-and-restart, and the chart of open connections and
requests per second by transport (a reconnect storm as the server sees it).
Right: the scenario runner (steps of faults with their schedules), the log
of every fault marker, and the server's sessions.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout,
                               QHeaderView, QLabel,
                               QListWidget, QPushButton, QSpinBox, QSplitter, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from transport.clients.registry import HELD_OPEN, TRANSPORTS
from transport.core.faults import FaultError, FaultSpec

from ..controllers.scenario import ScenarioController
from ..widgets.fault_panel import FaultForm
from ..widgets.scroll import scrolled
from ..widgets.server_chart import TRANSPORTS as CHART_LINES
from ..widgets.server_chart import ServerChart
from ..widgets.session_panel import SessionsTable

LOG_KEEP = 500
WORKER_COLUMNS = (("Worker", "The worker's name, as the Duplex-Worker header of each response says it"),
                  ("pid", "Its process id (a restarted worker is a new process)"),
                  ("Port", "Where it listens on loopback (the balancer forwards to it)"),
                  *((TRANSPORTS[name].title, f"{TRANSPORTS[name].title} connections open on this worker")
                    for name in HELD_OPEN),
                  ("Feed read", "Feed messages this worker read from the stream on Redis"),
                  ("Sent", "Messages it handed to its live clients (each message once per client)"),
                  ("CPU s", "CPU time of this worker's process"), ("MB", "Resident memory"))
BALANCE_TITLES = {"roundrobin": "round robin", "cookie": "sticky by cookie", "source": "sticky by source address"}


class ServerTab(QWidget):
    title = "Server"
    killRequested = Signal(float, bool)  # seconds until the new process, keep history
    rateRequested = Signal(float)  # the feed's messages per second
    clusterRequested = Signal(int, str, str, bool)  # workers (1: one process), balance, sessions, TLS: the lab restarts so
    workerActionRequested = Signal(str, str)  # kill_worker / restart_worker, the worker's name
    statusMessage = Signal(str)

    def __init__(self, scenario: ScenarioController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scenario = scenario  # the window's, on the lab controller
        # -- the process
        self.address = QLabel("starting…")
        self.address.setWordWrap(True)
        self.address.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.process = QLabel("—")
        self.feed = QLabel("—")
        self.feed.setWordWrap(True)
        self.connections = QLabel("—")
        self.connections.setWordWrap(True)
        self.process.setWordWrap(True)
        self.kill_down = QDoubleSpinBox(suffix=" s down", minimum=0.0, maximum=300.0, value=3.0, decimals=1)
        self.kill_keep = QCheckBox("keep history")
        self.kill_keep.setChecked(True)
        self.kill_keep.setToolTip("The lab writes its history to a file; unticked, the file is deleted first and "
                                  "the new process numbers from 1 again")
        self.kill_button = QPushButton("Kill the process and restart")
        self.kill_button.setToolTip("SIGKILL: no close frame, no goodbye; a new process on the same port")
        self.rate = QDoubleSpinBox(suffix=" msg/s", minimum=0.0, maximum=100_000.0, value=5.0, decimals=1)
        self.rate.setToolTip("How fast the lab's ticker publishes, to every transport (0: silent)")
        self.rate_button = QPushButton("Set feed rate")
        box = QGroupBox("Lab process")
        form = QFormLayout(box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Address", self.address)
        form.addRow("Process", self.process)
        form.addRow("Feed", self.feed)
        form.addRow("Open now", self.connections)
        rate = QHBoxLayout()
        rate.addWidget(self.rate)
        rate.addWidget(self.rate_button)
        rate.addStretch(1)
        form.addRow("Feed rate", rate)
        kill = QHBoxLayout()
        kill.addWidget(self.kill_button)
        kill.addWidget(self.kill_down)
        kill.addWidget(self.kill_keep)
        kill.addStretch(1)
        form.addRow(kill)
        # -- the cluster (python -m transport.server --cluster N): workers behind HAProxy, the feed on Redis
        self.workers_n = QSpinBox(minimum=1, maximum=8, value=1, suffix=" worker(s)")
        self.workers_n.setToolTip("1: one lab process. More: that many workers behind HAProxy, their feed on "
                                  "Redis (needs redis-server and haproxy)")
        self.balance = QComboBox()
        for key, title in BALANCE_TITLES.items():
            self.balance.addItem(title, key)
        self.balance.setToolTip("How the balancer spreads clients over the workers")
        self.sessions_mode = QComboBox()
        self.sessions_mode.addItem("sessions shared (Redis)", "shared")
        self.sessions_mode.addItem("sessions node-local", "local")
        self.sessions_mode.setToolTip("Shared: any worker serves any session. Node-local: only sticky balancing "
                                      "keeps a user logged in (401s otherwise)")
        self.tls = QCheckBox("TLS and HTTP/2")
        self.tls.setToolTip("https:// and wss://, HTTP/2 for browsers: HAProxy in front of the lab with a certificate "
                            "authority made for this run (every tab trusts it, and only it; needs haproxy)")
        self.tls_line = QLabel("")
        self.tls_line.setWordWrap(True)
        self.tls_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tls_line.hide()
        self.cluster_button = QPushButton("Restart the lab this way")
        self.cluster_button.setToolTip("Stops the lab and starts it again as chosen; every tab reconnects to it")
        self.cluster_table = QTableWidget(0, len(WORKER_COLUMNS))
        self.cluster_table.setHorizontalHeaderLabels([c for c, _t in WORKER_COLUMNS])
        for col, (_name, tip) in enumerate(WORKER_COLUMNS):
            header = self.cluster_table.horizontalHeaderItem(col)
            if header is not None:
                header.setToolTip(tip)
        self.cluster_table.verticalHeader().setVisible(False)
        self.cluster_table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.cluster_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.cluster_table.setMaximumHeight(150)
        self.cluster_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.redis_line = QLabel("")
        self.redis_line.setWordWrap(True)
        self.kill_worker_button = QPushButton("Kill selected worker")
        self.kill_worker_button.setToolTip("SIGKILL one worker: its clients move to the others through the balancer")
        self.restart_worker_button = QPushButton("Restart selected worker")
        cluster = QGroupBox("Cluster and TLS")
        c = QVBoxLayout(cluster)
        row = QHBoxLayout()
        row.addWidget(self.workers_n)
        row.addWidget(self.balance)
        row.addWidget(self.tls)
        row.addStretch(1)
        c.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.sessions_mode)
        row.addWidget(self.cluster_button)
        row.addStretch(1)
        c.addLayout(row)
        c.addWidget(self.tls_line)
        c.addWidget(self.cluster_table)
        c.addWidget(self.redis_line)
        row = QHBoxLayout()
        row.addWidget(self.kill_worker_button)
        row.addWidget(self.restart_worker_button)
        row.addStretch(1)
        c.addLayout(row)
        self.cluster_box = cluster
        self._show_cluster(False)
        self.chart = ServerChart()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(box)
        left_layout.addWidget(cluster)
        left_layout.addWidget(self.chart, 1)
        # -- the scenario
        self.form = FaultForm()
        self.add_button = QPushButton("Add step")
        self.remove_button = QPushButton("Remove step")
        self.steps = QListWidget()
        self.steps.setMaximumHeight(110)
        self.run_button = QPushButton("Run scenario")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.state = QLabel("no scenario running")
        self.state.setWordWrap(True)
        scenario_box = QGroupBox("Scenario")
        s = QVBoxLayout(scenario_box)
        s.addWidget(self.form)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        s.addLayout(row)
        s.addWidget(self.steps)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.stop_button)
        s.addLayout(row)
        s.addWidget(self.state)
        self.log = QListWidget()
        self.log.setWordWrap(True)
        self.log.setMinimumHeight(90)
        self.sessions = SessionsTable()
        self.sessions.setMinimumHeight(90)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(scenario_box)
        right_layout.addWidget(QLabel("Faults applied (newest first)"))
        right_layout.addWidget(self.log, 1)
        right_layout.addWidget(QLabel("Sessions on the server"))
        right_layout.addWidget(self.sessions, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scrolled(left))  # at 900×600 the charts keep their height: the side scrolls
        split.addWidget(scrolled(right, sideways=False))  # the scenario's form scrolls at 900×600, never squashed
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([700, 480])
        QVBoxLayout(self).addWidget(split)
        self.kill_button.clicked.connect(
            lambda: self.killRequested.emit(self.kill_down.value(), self.kill_keep.isChecked()))
        self.rate_button.clicked.connect(lambda: self.rateRequested.emit(self.rate.value()))
        self.cluster_button.clicked.connect(lambda: self.clusterRequested.emit(
            self.workers_n.value(), str(self.balance.currentData()), str(self.sessions_mode.currentData()),
            self.tls.isChecked()))
        self.kill_worker_button.clicked.connect(lambda: self._worker_action("kill_worker"))
        self.restart_worker_button.clicked.connect(lambda: self._worker_action("restart_worker"))
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.run_button.clicked.connect(self.scenario.run)
        self.stop_button.clicked.connect(self.scenario.stop)
        self.scenario.stepsChanged.connect(self._show_steps)
        self.scenario.progress.connect(self.state.setText)
        self.scenario.runningChanged.connect(self._show_running)
        self.scenario.failed.connect(self.statusMessage)

    # -- the scenario (its controller runs it) -----------------------------------------------
    def add_step(self, spec: FaultSpec) -> None:
        self.scenario.add(spec)

    def _on_add_button_clicked(self) -> None:
        try:
            for spec in self.form.specs():  # a middlebox preset: its toxics, one step each
                self.scenario.add(spec)
        except FaultError as err:
            self.statusMessage.emit(str(err))

    def _on_remove_button_clicked(self) -> None:
        self.scenario.remove(self.steps.currentRow())

    def _show_steps(self, lines: list[str]) -> None:
        self.steps.clear()
        self.steps.addItems(lines)

    def _show_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    @property
    def running(self) -> bool:
        return self.scenario.running

    # -- the cluster -------------------------------------------------------------------------
    def _show_cluster(self, on: bool) -> None:
        for widget in (self.cluster_table, self.redis_line, self.kill_worker_button, self.restart_worker_button):
            widget.setVisible(on)

    def _worker_action(self, action: str) -> None:
        row = self.cluster_table.currentRow()
        item = self.cluster_table.item(row, 0) if row >= 0 else None
        if item is None:
            self.statusMessage.emit("Select a worker in the cluster's table first.")
            return
        self.workerActionRequested.emit(action, item.text())

    def set_cluster(self, announced: dict) -> None:
        """The lab as started: one process, or a cluster (its balance and sessions shown in the controls)."""
        workers = announced.get("workers") or []
        self._show_cluster(bool(workers))
        self.workers_n.setValue(max(1, len(workers)))
        for combo, key in ((self.balance, announced.get("balance")), (self.sessions_mode, announced.get("sessions"))):
            index = combo.findData(key)
            if index >= 0:
                combo.setCurrentIndex(index)
        if not workers:
            self.cluster_table.setRowCount(0)
        tls = announced.get("tls")
        self.tls.setChecked(isinstance(tls, dict))
        self.tls_line.setVisible(isinstance(tls, dict))
        if isinstance(tls, dict):
            self.tls_line.setText(f"TLS: {announced.get('url')} offers {', '.join(tls.get('alpn') or [])}; "
                                  f"{tls.get('http1_url')} http/1.1 only. CA (trusted by every tab): {tls.get('ca')}")

    def show_workers(self, workers: list[dict]) -> None:
        """Each worker's own stats (None: it did not answer: killed, restarting) and Redis's figures."""
        table = self.cluster_table
        current = table.currentRow()
        table.setRowCount(len(workers))
        redis = None
        for r, w in enumerate(workers):
            st = w.get("stats")
            opened = (st or {}).get("open") or {}
            cells = [w.get("id"), st.get("pid") if st else w.get("pid"), w.get("port")]
            if st is None:
                cells += ["down"] + [""] * (len(HELD_OPEN) + 3)
            else:
                redis = redis or st.get("cluster")
                cells += [opened.get(k, 0) for k in HELD_OPEN]
                feed = st.get("feed") or {}
                cells += [f"{feed.get('published', 0):,}", f"{feed.get('handed', 0):,}",
                          f"{st.get('cpu_s', 0):.1f}",
                          f"{st.get('rss_bytes', 0) / 1e6:,.0f}"]
            for col, value in enumerate(cells):
                text = "" if value is None else str(value)
                item = table.item(r, col)
                if item is None:
                    table.setItem(r, col, QTableWidgetItem(text))
                elif item.text() != text:
                    item.setText(text)
        if 0 <= current < len(workers):
            table.selectRow(current)
        if redis and redis.get("redis_down"):
            self.redis_line.setText(f"Redis is down: {redis['redis_down']}. The cluster cannot number messages "
                                    "or share sessions until it is back (its supervisor restarts the Redis it "
                                    "started).")
        elif redis:
            self.redis_line.setText(
                f"Redis {redis.get('redis', '')}: stream {redis.get('stream_length', 0):,} entries · "
                f"{redis.get('redis_memory_bytes', 0) / 1e6:,.1f} MB · {redis.get('redis_clients', 0)} clients")

    # -- what the lab says ---------------------------------------------------------------
    def set_lab(self, url: str, history: str) -> None:
        """Where the lab listens, and where it keeps its history (a file, or a cluster's Redis stream)."""
        self.address.setText(f"{url}  ·  {history}")

    def lab_down(self, text: str) -> None:
        self.address.setText(text)

    def lab_unreachable(self) -> None:
        """No answer from the lab this second (killed, restarting, down): the chart shows nothing open."""
        self.chart.add({}, {})

    def log_fault(self, text: str) -> None:
        self.log.insertItem(0, f"{time.strftime('%H:%M:%S')}  {text}")
        while self.log.count() > LOG_KEEP:
            self.log.takeItem(self.log.count() - 1)
        self.chart.mark()

    def show_sessions(self, view: dict) -> None:
        self.sessions.fill(view.get("sessions", []))

    def show_stats(self, stats: dict, rates: dict[str, float]) -> None:
        """One ``/_admin/stats`` sample and its request rates (the lab controller's): labels and chart."""
        opened = {k: v for k, v in stats.get("open", {}).items() if v is not None}
        feed = stats.get("feed", {})
        who = (f"{stats['workers']} workers (pids {', '.join(str(p) for p in stats.get('pids', []))}), together"
               if stats.get("workers") else f"pid {stats.get('pid')}")
        self.process.setText(f"{who} · up {stats.get('uptime_s', 0):,.0f} s · CPU "
                             f"{stats.get('cpu_s', 0):.2f} s · {stats.get('rss_bytes', 0) / 1e6:,.1f} MB resident")
        if not self.rate.hasFocus() and isinstance(feed.get("rate"), (int, float)):
            self.rate.setValue(float(feed["rate"]))
        self.feed.setText(f"{feed.get('rate', 0):g} msg/s · last seq {feed.get('last_seq')} · "
                          f"{feed.get('history'):,} in history from seq "
                          f"{feed.get('first_available')}"
                          + (" · on Redis, read by every worker" if stats.get("workers") else
                             f" · {feed.get('loaded', 0):,} loaded from the file at start")
                          + (f"\n⚠ {feed['history_file_error']}" if feed.get("history_file_error") else ""))
        self.connections.setText(" · ".join(f"{label} {opened[key]}" for key, label in CHART_LINES
                                            if key in opened) + f" · TCP {opened.get('tcp', '—')}"
                                 + f" · sessions {stats.get('sessions', 0)}")
        self.chart.add(opened, rates)

    async def shutdown(self) -> None:
        await self.scenario.shutdown()
