"""The fault panel: route a tab through the lab's fault proxy, pick a fault, run it once or on a
schedule; race the reconnect policies; start a storm of clients.

``FaultForm`` (the fault, its value, direction, toxicity, duration and
schedule) is shared with the Server tab's scenario runner."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from transport.core.faults import FAULT_TYPES, TYPES, FaultError, FaultSpec
from transport.core.middleboxes import MIDDLEBOXES, PRESETS
from transport.loadtest.control import LocustStormSpec

from .header_tips import set_header_tips
from .reconnect_plot import ReconnectPlot

PRESET = "preset:"  # a middlebox preset's data in the fault list
RACE_COLUMNS = (("policy", "Policy"), ("attempts", "Attempts"), ("recovered", "Recovered"),
                ("median_recover_ms", "Recover ms (median)"), ("lost", "Lost"), ("duplicated", "Dup."))


class FaultForm(QWidget):
    """Pick a fault: what, how much, which direction, how often; ``spec()`` says it as a dict."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fault = QComboBox()
        for t in FAULT_TYPES:
            self.fault.addItem(t.label, t.key)
        self.fault.insertSeparator(self.fault.count())
        for box in MIDDLEBOXES:  # named sets of toxics: the boxes of the real world
            self.fault.addItem(f"Middlebox: {box.label}", PRESET + box.key)
            self.fault.setItemData(self.fault.count() - 1, box.what, Qt.ItemDataRole.ToolTipRole)
        self.value = QSpinBox(minimum=0, maximum=10_000_000, value=0)
        self.jitter = QSpinBox(minimum=0, maximum=600_000, value=0, suffix=" ms")
        self.jitter.setToolTip("Latency varies by up to ± this much, per chunk")
        self.stream = QComboBox()
        self.stream.addItem("downstream (server → client)", "downstream")
        self.stream.addItem("upstream (client → server)", "upstream")
        self.toxicity = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.1, value=1.0, decimals=2)
        self.toxicity.setToolTip("The share of connections the fault hits")
        self.keep_history = QCheckBox("keep history (the lab's file)")
        self.keep_history.setChecked(True)
        self.keep_history.setToolTip("Unticked, the history file is deleted: the new process numbers from 1 "
                                     "and clients resuming from the old numbering get a declared reset")
        self.duration = QDoubleSpinBox(suffix=" s", minimum=0.0, maximum=3600.0, value=2.0, decimals=1)
        self.duration.setToolTip("How long the fault lasts (0: until Stop; a restart's downtime)")
        self.every = QDoubleSpinBox(suffix=" s", minimum=0.0, maximum=3600.0, value=0.0, decimals=1)
        self.every.setToolTip("Repeat every … seconds (0: once)")
        self.span = QDoubleSpinBox(suffix=" s", minimum=1.0, maximum=3600.0, value=60.0, decimals=0)
        self.span.setToolTip("…for this long in all")
        form = self._form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Fault", self.fault)
        self.value_label = QLabel()
        form.addRow(self.value_label, self.value)
        form.addRow("± jitter", self.jitter)
        form.addRow("Direction", self.stream)
        form.addRow("Toxicity", self.toxicity)
        form.addRow("", self.keep_history)
        form.addRow("Duration", self.duration)
        repeat = QHBoxLayout()
        repeat.addWidget(self.every)
        repeat.addWidget(QLabel("for"))
        repeat.addWidget(self.span)
        form.addRow("Repeat every", repeat)
        self.fault.currentIndexChanged.connect(self._on_fault_current_index_changed)
        self._on_fault_current_index_changed()

    def specs(self) -> list[FaultSpec]:
        """The faults the form says: one, or a middlebox preset's set (with the form's duration, toxicity
        and schedule); raises FaultError (one sentence) when it makes no sense."""
        key = str(self.fault.currentData())
        if key.startswith(PRESET):
            return [replace(f, toxicity=self.toxicity.value(), duration=self.duration.value(),
                            every=self.every.value(), span=self.span.value())
                    for f in PRESETS[key.removeprefix(PRESET)].faults]
        return [self.spec()]

    def spec(self) -> FaultSpec:
        """The fault the form says (not a preset); raises FaultError (one sentence) when it makes no sense."""
        key = str(self.fault.currentData())
        if key.startswith(PRESET):
            raise FaultError("A middlebox is a set of faults: apply it as a set.")
        t = TYPES[key]
        return FaultSpec(t.key, value=self.value.value(), jitter=self.jitter.value() if t.key == "latency" else 0,
                         stream=self.stream.currentData(), toxicity=self.toxicity.value(),
                         keep_history=self.keep_history.isChecked(), duration=self.duration.value(),
                         every=self.every.value(), span=self.span.value())

    def _on_fault_current_index_changed(self, *_args: object) -> None:
        key = str(self.fault.currentData())
        if key.startswith(PRESET):
            self.value.setEnabled(False)
            self.value_label.setText("—")
            self.stream.setEnabled(False)
            self.toxicity.setEnabled(True)
            self._form.setRowVisible(self.keep_history, False)
            self._form.setRowVisible(self.jitter, False)
            return
        t = TYPES[key]
        self.value.setEnabled(bool(t.attribute))
        self.value_label.setText(t.unit or "—")
        if t.attribute:
            self.value.setValue(int(t.default))
        proxy = t.kind == "proxy"
        for widget in (self.stream, self.toxicity):
            widget.setEnabled(proxy and t.key != "down")
        self._form.setRowVisible(self.keep_history, t.kind == "process")
        self._form.setRowVisible(self.jitter, t.key == "latency")


class FaultPanel(QWidget):
    routeToggled = Signal(bool)
    applyRequested = Signal(object)  # a FaultSpec
    said = Signal(str)  # a sentence for the status bar (a form that makes no sense)
    stopRequested = Signal()
    stormRequested = Signal(int)  # N clients; 0 = stop the storm
    locustStormRequested = Signal(object)  # a LocustStormSpec; None = stop the storm on Locust
    raceRequested = Signal(bool)  # start or stop the policies side by side

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.route = QCheckBox("Route this tab through a fault proxy")
        self.route.setToolTip("The lab puts a proxy in front of this tab's server; network faults act on it")
        self.route_info = QLabel("not routed: network faults need the proxy")
        self.route_info.setWordWrap(True)
        self.form = FaultForm()
        self.apply_button = QPushButton("Apply")
        self.stop_button = QPushButton("Stop")
        self.state = QLabel("no fault running")
        self.state.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.route)
        layout.addWidget(self.route_info)
        layout.addWidget(self.form)
        layout.addLayout(buttons)
        layout.addWidget(self.state)
        self.storm_n = QSpinBox(minimum=1, maximum=1000, value=200, suffix=" clients")
        self.storm_n.setToolTip("Virtual clients of this tab's transport (not shown row by row)")
        self.storm_button = QPushButton("Start storm")
        self.storm_button.setCheckable(True)
        self.storm_state = QLabel("")
        self.storm_state.setWordWrap(True)
        self.on_locust = QCheckBox("Run on Locust")
        self.on_locust.setToolTip("Tens of thousands of users in Locust's own processes (a master and 2 local "
                                  "workers, or a master started elsewhere); each user's ledger is added up at "
                                  "the end. Needs Locust: pip install 'duplex[load]'")
        self.locust_rate = QSpinBox(minimum=1, maximum=10_000, value=200, suffix=" users/s")
        self.locust_rate.setToolTip("Users Locust starts per second")
        self.locust_master = QLineEdit()
        self.locust_master.setPlaceholderText("master: start one here, or http://host:8089")
        self.locust_master.setToolTip("Empty: Duplex starts Locust's master and 2 worker processes on this machine. "
                                      "Or the web UI of a master started elsewhere with Duplex's locustfile "
                                      "(README: storms across machines)")
        storm = QHBoxLayout()
        storm.addWidget(QLabel("Storm"))
        storm.addWidget(self.storm_n)
        storm.addWidget(self.storm_button)
        layout.addLayout(storm)
        locust = QHBoxLayout()
        locust.addWidget(self.on_locust)
        locust.addWidget(self.locust_rate)
        locust.addWidget(self.locust_master, 1)
        layout.addLayout(locust)
        layout.addWidget(self.storm_state)
        self.storm_button.toggled.connect(self._on_storm_button_toggled)
        self.on_locust.toggled.connect(self._on_locust_toggled)
        self._on_locust_toggled(False)
        self.race_button = QPushButton("Race the reconnect policies")
        self.race_button.setCheckable(True)
        self.race_button.setToolTip("One more client per policy beside this tab's own, through the same faults: "
                                    "fixed 1 s; exponential 1 s doubling to 5 s ±50 % jitter (Socket.IO's "
                                    "defaults); on SSE also the server's retry")
        self.race_button.toggled.connect(self._on_race_button_toggled)
        layout.addWidget(self.race_button)
        self.race_table = QTableWidget(0, len(RACE_COLUMNS))
        self.race_table.setHorizontalHeaderLabels([c[1] for c in RACE_COLUMNS])
        set_header_tips(self.race_table)
        self.race_table.verticalHeader().hide()
        self.race_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.race_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.race_table.setFixedHeight(self.race_table.horizontalHeader().sizeHint().height()
                                       + 4 * self.race_table.verticalHeader().defaultSectionSize() + 4)
        self.race_table.hide()
        layout.addWidget(self.race_table)
        self.plot = ReconnectPlot()
        layout.addWidget(self.plot, 1)
        self.route.toggled.connect(self.routeToggled)
        self.apply_button.clicked.connect(self._on_apply_button_clicked)
        self.stop_button.clicked.connect(self.stopRequested)

    def faults_only(self) -> None:
        """Network and server faults only: no storm or race of virtual clients (the Browser tab)."""
        for widget in (self.storm_n, self.storm_button, self.storm_state, self.race_button, self.race_table,
                       self.on_locust, self.locust_rate, self.locust_master):
            widget.hide()
        for label in self.findChildren(QLabel):
            if label.text() == "Storm":
                label.hide()
        self.route.setText("Route the browser through a fault proxy")
        self.route.setToolTip("The lab puts a proxy in front of itself; the browser's tabs open the page through it")

    def _on_apply_button_clicked(self) -> None:
        try:
            specs = self.form.specs()
        except FaultError as err:
            self.said.emit(str(err))
            return
        for spec in specs:  # a preset's toxics stack
            self.applyRequested.emit(spec)

    def set_route(self, routed: bool, info: str) -> None:
        """Show the route as the controller has it (without asking for it again)."""
        self.route.blockSignals(True)
        self.route.setChecked(routed)
        self.route.blockSignals(False)
        self.route_info.setText(info)

    def _on_race_button_toggled(self, on: bool) -> None:
        self.race_button.setText("Stop the race" if on else "Race the reconnect policies")
        self.race_table.setVisible(on)
        self.raceRequested.emit(on)

    def show_race(self, rows: list[dict]) -> None:
        """The race's live table: one row per policy."""
        self.race_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, (key, _title) in enumerate(RACE_COLUMNS):
                value = row.get(key)
                text = "—" if value is None else f"{value:,}" if isinstance(value, int) else str(value)
                item = self.race_table.item(r, c)
                if item is None:
                    self.race_table.setItem(r, c, QTableWidgetItem(text))
                elif item.text() != text:
                    item.setText(text)

    def hide_race(self) -> None:
        """For a transport without a connection to keep (AJAX)."""
        self.race_button.hide()

    def _on_storm_button_toggled(self, on: bool) -> None:
        self.storm_button.setText("Stop storm" if on else "Start storm")
        self.on_locust.setEnabled(not on)
        if self.on_locust.isChecked():
            self.locustStormRequested.emit(LocustStormSpec(self.storm_n.value(), float(self.locust_rate.value()),
                                                           master=self.locust_master.text().strip())
                                           if on else None)
        else:
            self.stormRequested.emit(self.storm_n.value() if on else 0)

    def _on_locust_toggled(self, on: bool) -> None:
        self.storm_n.setMaximum(100_000 if on else 1000)
        self.storm_n.setSuffix(" users" if on else " clients")
        self.locust_rate.setVisible(on)
        self.locust_master.setVisible(on)

    def storm_ended(self) -> None:
        """The storm ended by itself (on Locust): the button comes back up, without asking to stop."""
        self.storm_button.blockSignals(True)
        self.storm_button.setChecked(False)
        self.storm_button.blockSignals(False)
        self.storm_button.setText("Start storm")
        self.on_locust.setEnabled(True)
