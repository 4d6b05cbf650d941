"""The Browser tab: a real Chromium on the demo page (or any page), its traffic in one timeline, the
tabs' actions, each API's ledger, the cookies and sessionStorage, and the virtual-against-real table."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QPushButton, QSplitter, QTabWidget, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from ..controllers.browser import THROTTLES, BrowserController, has_display
from ..models.timeline_model import KIND
from ..controllers.agreement import AgreementController
from ..controllers.streams import StreamsController
from ..widgets.agreement_panel import AgreementPanel
from ..widgets.fault_panel import FaultPanel
from ..widgets.header_tips import set_header_tips
from ..widgets.scroll import scrolled
from ..widgets.status_line import StatusLine
from ..widgets.streams_panel import StreamsPanel
from ..widgets.timeline import TimelineWidget

LEDGER_COLUMNS = ("Tab", "API", "Received", "Replayed", "Lost", "Dup.", "Episodes", "Payload B/msg", "Wire B/msg")
STATE_TEXT = {"idle": "no browser", "starting": "starting…", "running": "running", "attached": "attached",
              "stopped": "stopped", "failed": "failed"}


class BrowserTab(QWidget):
    title = "Browser"

    def __init__(self, cap: int = 1_000_000, parent: QWidget | None = None,
                 controller: BrowserController | None = None) -> None:
        super().__init__(parent)
        self.controller = controller or BrowserController(cap, self)
        c = self.controller
        # what to open, and how
        self.url = QLineEdit(placeholderText="The lab's /demo page, or any http(s):// page")
        self.show_window = QCheckBox("Show the window")
        self.show_window.setToolTip("Headless by default; a window needs a display")
        self.show_window.setEnabled(has_display())
        self.launch_button = QPushButton("Launch Chromium")
        self.launch_button.setToolTip("The system's Chromium with a throwaway profile, removed when it stops")
        self.stop_button = QPushButton("Stop")
        self.attach_address = QLineEdit(placeholderText="or attach: 127.0.0.1:9222")
        self.attach_address.setToolTip("A Chrome / Chromium you started with --remote-debugging-port=9222")
        self.attach_button = QPushButton("Attach")
        self.state = QLabel(STATE_TEXT["idle"])
        # the tabs' actions
        self.tab_choice = QComboBox()
        self.tab_choice.setMinimumContentsLength(8)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("The page's WebSocket closes and a new one opens; sessionStorage stays")
        self.new_tab_button = QPushButton("New tab")
        self.new_tab_button.setToolTip("The same page in a new tab: its own, empty sessionStorage")
        self.close_tab_button = QPushButton("Close tab")
        self.close_tab_button.setToolTip("Its sessionStorage is gone with it")
        self.offline = QCheckBox("Offline")
        self.throttle = QComboBox()
        for name in THROTTLES:
            self.throttle.addItem(name, name)
        self.throttle.setToolTip("Network throttling of the chosen tab (Network.emulateNetworkConditions)")
        self.user = QLineEdit("ana")
        self.user.setMaximumWidth(90)
        self.login_button = QPushButton("Log in")
        self.logout_button = QPushButton("Log out")

        top = QHBoxLayout()
        top.addWidget(QLabel("Page"))
        top.addWidget(self.url, 1)
        top.addWidget(self.show_window)
        top.addWidget(self.launch_button)
        top.addWidget(self.stop_button)
        attach = QHBoxLayout()
        attach.addWidget(self.attach_address, 1)
        attach.addWidget(self.attach_button)
        attach.addWidget(QLabel("Browser:"))
        attach.addWidget(self.state)
        actions = QHBoxLayout()  # the chosen tab: what to do to it, its network, its session
        for action in (QLabel("Tab"), self.tab_choice, self.reload_button, self.new_tab_button,
                       self.close_tab_button, self.offline, self.throttle):
            actions.addWidget(action)
        actions.addStretch(1)
        session = QHBoxLayout()
        for control in (QLabel("User"), self.user, self.login_button, self.logout_button):
            session.addWidget(control)
        session.addStretch(1)

        self.timeline = TimelineWidget(c.model, event_names=True)  # an SSE event's type
        self.timeline.table.setColumnWidth(KIND, 170)  # "websocket message", "http response": the API first
        self.ledgers = QTableWidget(0, len(LEDGER_COLUMNS))
        self.ledgers.setHorizontalHeaderLabels(LEDGER_COLUMNS)
        set_header_tips(self.ledgers)
        self.ledgers.verticalHeader().hide()
        self.ledgers.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.ledgers.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.ledgers.setMinimumHeight(120)
        self.ledgers.setMinimumWidth(160)  # it scrolls sideways itself: the side pane never has to
        self.storage = QLabel("—")
        self.storage.setWordWrap(True)
        self.storage.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cookies = QLabel("—")
        self.cookies.setWordWrap(True)
        self.cookies.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refresh_button = QPushButton("Read cookies and storage")
        self.agreement = AgreementPanel()
        self.agreement_run = AgreementController(self)  # virtual against real: runs what the panel shows
        self.agreement.ask_first(self.agreement_run.warning())
        self.agreement.runConfirmed.connect(self.agreement_run.run)
        self.agreement_run.progress.connect(self.agreement.state.setText)
        self.agreement_run.rowsReady.connect(self.agreement.show_rows)
        self.agreement_run.runningChanged.connect(self.agreement.show_running)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        box = QGroupBox("Per tab and API")
        box.setToolTip("Each browser tab's ledger per API, across the page's reloads and reconnects")
        QVBoxLayout(box).addWidget(self.ledgers)
        side_layout.addWidget(box)
        page = QGroupBox("The chosen tab")
        grid = QGridLayout(page)
        grid.addWidget(QLabel("sessionStorage"), 0, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.storage, 0, 1)
        grid.addWidget(QLabel("Cookies"), 1, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.cookies, 1, 1)
        grid.addWidget(self.refresh_button, 2, 1)
        grid.setColumnStretch(1, 1)
        side_layout.addWidget(page)
        side_layout.addStretch(1)
        self.streams = StreamsPanel()
        self.streams_run = StreamsController(c.bridge, self)  # its rows go to this tab's timeline too
        self.streams.runRequested.connect(self.streams_run.run)
        self.streams_run.progress.connect(self.streams.state.setText)
        self.streams_run.rowsChanged.connect(self.streams.show_rows)
        self.streams_run.runningChanged.connect(self.streams.show_running)
        self.faults = FaultPanel()
        self.faults.faults_only()
        self.side_tabs = QTabWidget()
        for page_widget, title in ((side, "Ledgers"), (self.faults, "Faults"), (self.agreement, "Virtual vs real"),
                                   (self.streams, "Streams")):
            # taller than the pane at 900×600: it scrolls (the streams' page as wide as the pane: its text wraps)
            self.side_tabs.addTab(scrolled(page_widget, sideways=page_widget is not self.streams), title)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.timeline)
        split.addWidget(self.side_tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([760, 420])
        self.status = StatusLine()
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(attach)
        layout.addLayout(actions)
        layout.addLayout(session)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        self._connect_signals()
        self._on_state(c.state)

    def _connect_signals(self) -> None:
        c = self.controller
        c.statusMessage.connect(self.status.say)
        c.stateChanged.connect(self._on_state)
        c.tabsChanged.connect(self._on_tabs)
        c.ledgersChanged.connect(self._on_ledgers)
        c.eventsArrived.connect(self._on_events)
        self.timeline.said.connect(c.statusMessage)
        self.launch_button.clicked.connect(self._on_launch)
        self.url.returnPressed.connect(self._on_launch)
        self.stop_button.clicked.connect(c.stop_soon)
        self.attach_button.clicked.connect(self._on_attach)
        self.attach_address.returnPressed.connect(self._on_attach)
        self.reload_button.clicked.connect(lambda: self._with_tab(c.reload))
        self.close_tab_button.clicked.connect(lambda: self._with_tab(c.close_tab))
        self.new_tab_button.clicked.connect(self._on_new_tab)
        self.offline.toggled.connect(self._on_network)
        self.throttle.activated.connect(lambda _i: self._on_network())
        self.login_button.clicked.connect(lambda: self._with_tab(lambda n: c.login(n, self.user.text().strip()
                                                                                     or "ana")))
        self.logout_button.clicked.connect(lambda: self._with_tab(c.logout))
        self.refresh_button.clicked.connect(self._on_refresh)
        f = c.faults
        self.faults.routeToggled.connect(self._on_route_toggled)
        self.faults.applyRequested.connect(f.start)
        self.faults.stopRequested.connect(lambda: c.spawn(f.stop()))
        self.faults.said.connect(c.statusMessage)
        f.routeChanged.connect(self.faults.set_route)
        f.stateChanged.connect(self.faults.state.setText)
        self.tab_choice.currentIndexChanged.connect(lambda _i: self._show_storage())

    # -- the lab ----------------------------------------------------------------------------------
    def set_lab(self, url: str, token: str, tls: dict[str, Any] | None = None) -> None:
        """The lab listens at ``url`` (``tls``: its TLS front's CA and ports): the page box offers its demo page
        (unless the user typed another)."""
        previous = self.controller.demo_url()
        self.controller.lab_url, self.controller.lab_token = url, token
        self.agreement_run.set_lab(url, token)
        self.streams_run.set_lab(url, tls)
        if not self.url.text() or self.url.text() == previous:
            self.url.setText(self.controller.demo_url())

    # -- slots ------------------------------------------------------------------------------------
    def _on_launch(self) -> None:
        url = self.url.text().strip()
        if not url.startswith(("http://", "https://")):
            self.status.say("Type a page's http(s):// address (the lab's /demo page by default).")
            return
        self.controller.launch(url, headless=not self.show_window.isChecked())

    def _on_route_toggled(self, on: bool) -> None:
        c = self.controller
        c.url = self.url.text().strip() or c.url or c.demo_url()
        c.spawn(c.faults.set_routed(on))

    def _on_attach(self) -> None:
        address = self.attach_address.text().strip()
        if not address:
            self.status.say("Paste the browser's DevTools address, e.g. 127.0.0.1:9222.")
            return
        self.controller.attach(address)

    def _on_new_tab(self) -> None:
        self.controller.new_tab(self.url.text().strip() or self.controller.demo_url())

    def _on_network(self, *_args: Any) -> None:
        self._with_tab(lambda n: self.controller.set_network(n, self.offline.isChecked(),
                                                             self.throttle.currentData()))

    def _with_tab(self, action: Any) -> None:
        number = self.tab_choice.currentData()
        if number is None:
            self.status.say("No browser tab: launch Chromium or attach first.")
            return
        action(number)

    def _on_state(self, state: str) -> None:
        self.state.setText(STATE_TEXT.get(state, state))
        busy = state in ("starting", "running", "attached")
        self.launch_button.setEnabled(not busy)
        self.attach_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)

    def _on_tabs(self, tabs: list[tuple[int, str, bool]]) -> None:
        chosen = self.tab_choice.currentData()
        self.tab_choice.blockSignals(True)
        self.tab_choice.clear()
        for number, url, closed in tabs:
            if not closed:
                self.tab_choice.addItem(f"Tab {number}", number)
                self.tab_choice.setItemData(self.tab_choice.count() - 1, url, Qt.ItemDataRole.ToolTipRole)
        index = self.tab_choice.findData(chosen)
        self.tab_choice.setCurrentIndex(index if index >= 0 else self.tab_choice.count() - 1)
        self.tab_choice.blockSignals(False)
        if len(tabs) > 1:  # rows of several tabs in one timeline: say whose each is (it stays once shown)
            self.timeline.show_conn_column(True)
        self._show_storage()

    def _on_ledgers(self, rows: list[dict[str, Any]]) -> None:
        self.ledgers.setRowCount(len(rows))
        for r, row in enumerate(rows):
            per = [("—" if v is None else f"{v:.0f}") for v in (row["payload_per_msg"], row["wire_per_msg"])]
            cells = (f"{row['tab']}{' (closed)' if row['closed'] else ''}", row["api"], row["received"],
                     row["replayed"], row["lost"] if row["checkable"] else "?", row["duplicated"], row["episodes"],
                     *per)
            for col, value in enumerate(cells):
                item = self.ledgers.item(r, col)
                if item is None:
                    self.ledgers.setItem(r, col, QTableWidgetItem(str(value)))
                elif item.text() != str(value):
                    item.setText(str(value))
        self._show_storage()

    def _on_events(self, events: list) -> None:
        self.timeline.learn(events)
        for e in events:
            if e.kind == "reconnect":
                self.faults.plot.add_attempt(e.t, e.meta.get("delay_s"))
            elif e.kind == "fault":
                self.faults.plot.add_fault(e.t)

    def _show_storage(self) -> None:
        tab = self.controller.tab(self.tab_choice.currentData() or -1)
        items = sorted(tab.storage.items()) if tab is not None else []
        text = ", ".join(f"{k}={v}" for k, v in items) or "(empty)"
        if self.storage.text() != text:
            self.storage.setText(text)

    def _on_refresh(self) -> None:
        number = self.tab_choice.currentData()
        if number is None:
            self.status.say("No browser tab: launch Chromium or attach first.")
            return

        async def read() -> None:
            cookies, _storage = await self.controller.cookies_and_storage(number)
            self.cookies.setText("; ".join(
                f"{c['name']}={c['value'][:12]}{'…' if len(c['value']) > 12 else ''}"
                f" ({'HttpOnly, ' if c.get('httpOnly') else ''}SameSite={c.get('sameSite', 'None')}, "
                f"path {c.get('path', '/')})" for c in cookies) or "(none)")
            self._show_storage()

        self.controller._tasks.spawn(read())

    async def shutdown(self) -> None:
        await self.streams_run.shutdown()
        await self.agreement_run.shutdown()
        await self.controller.shutdown()
