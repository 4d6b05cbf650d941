"""What every transport tab shares: the connection bar, the timeline, the ledger,
the lab server link, the client's lifetime, drop and restart, status messages.

A tab subclass names its transport and title, builds its bar, says where the
lab serves it (``lab_endpoint``) and how to make its client (``make_client``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget

from transport.browser import VirtualBrowser, VirtualTab
from transport.errors import DuplexError
from transport.events import Event, EventSink
from transport.policy_race import SERVER_RETRY, STANDARD, PolicyRace
from transport.storm import Storm

from .connection_bar import ConnectionBar
from .fault_control import FaultControl, server_fault
from .fault_panel import FaultPanel
from .ledger_panel import LedgerPanel
from .session_control import SessionControl
from .session_panel import SessionPanel
from .tasks import TaskGroup
from .timeline import TimelineWidget

log = logging.getLogger("duplex.ui.tab")


class TransportTab(QWidget):
    transport = ""
    title = ""
    statusMessage = Signal(str)
    firstMessage = Signal(object)  # the first incoming feed message (an Event)
    sessionChanged = Signal(object)  # a VirtualBrowser logged in or out: its tabs reload
    faultMarker = Signal(str, bool)  # a fault was applied: text, and whether every tab is affected
    tabMoved = Signal()  # this tab now runs in another virtual tab
    killRequested = Signal(float, bool)  # kill the lab process: seconds until the new one, keep history

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sink = sink
        self.client: Any = None
        self._lab_url = ""
        self._lab_token = ""
        self._got_first = False
        self._had_error = False
        self._tasks = TaskGroup(self.report)
        self.bar = self.make_bar()
        self.timeline = self.make_timeline(cap)
        self.ledger = LedgerPanel()
        self.side = QWidget()
        side = QVBoxLayout(self.side)
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(self.ledger, 1)
        self.session = SessionPanel()
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(self.side, "Transport")
        self.side_tabs.addTab(self.session, "Session")
        self.faults = FaultPanel()
        scroll = QScrollArea()  # the page is taller than the side pane: it scrolls instead of squeezing
        scroll.setWidget(self.faults)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.side_tabs.addTab(scroll, "Faults")
        self.fault_control = FaultControl(self)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.timeline)
        split.addWidget(self.side_tabs)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([860, 320])
        self.layout_ = QVBoxLayout(self)
        self.layout_.addWidget(self.bar)
        self.layout_.addWidget(split, 1)
        self.bar.connectRequested.connect(self._on_bar_connect_requested)
        self.bar.disconnectRequested.connect(self._on_bar_disconnect_requested)
        self.bar.dropRequested.connect(self._on_bar_drop_requested)
        self.bar.restartRequested.connect(self._on_bar_restart_requested)
        self.session_control = SessionControl(self)
        self.ledger.exported.connect(self.report)
        self.timeline.said.connect(self.statusMessage)
        self.faults.routeToggled.connect(self._on_faults_route_toggled)
        self.faults.applyRequested.connect(self._on_faults_apply_requested)
        self.faults.stopRequested.connect(self._on_faults_stop_requested)
        self.faults.stormRequested.connect(self._on_faults_storm_requested)
        self.faults.raceRequested.connect(self._on_faults_race_requested)
        self.storm: Storm | None = None
        self.race: PolicyRace | None = None
        self.vtab: VirtualTab | None = None
        self._browsers: list[VirtualBrowser] = []
        self._run_task: asyncio.Task | None = None

    # -- what a subclass provides ------------------------------------------------
    def make_bar(self) -> ConnectionBar:
        return ConnectionBar()

    def make_timeline(self, cap: int) -> TimelineWidget:
        return TimelineWidget(cap)

    def lab_endpoint(self, lab_url: str) -> str:
        raise NotImplementedError

    def make_client(self, sink: EventSink | None = None) -> Any:
        """The client for what the bar says (events to ``sink``, default the timeline);
        raise DuplexError on a bad form."""
        raise NotImplementedError

    def on_events(self, events: list[Event]) -> None:
        """Hook for tab-specific panels, after the timeline took the batch."""

    # -- the virtual browser and tab ----------------------------------------------
    @property
    def browser(self) -> VirtualBrowser | None:
        return self.vtab.browser if self.vtab is not None else None

    def attach(self, vtab: VirtualTab, browsers: list[VirtualBrowser]) -> None:
        """Run inside ``vtab`` (of its browser); the panel offers ``browsers``."""
        self.vtab = vtab
        self._browsers = browsers
        self.session.show_tab(vtab, browsers, self.bar.url_text() or self.lab_url_here() or "")

    def reload(self) -> None:
        """As a browser reloads: sessionStorage stays, the connections drop and reopen."""
        if self.vtab is not None:
            self.vtab.reload()
        self.state_row("session", f"tab reloaded ({self.vtab.name if self.vtab else 'tab'}): connections reopen")
        self.reopen()

    def reopen(self) -> None:
        """Close the client (if any) and connect a new one with what the bar and the tab say now."""
        client = self.client
        if client is None:
            self.connect_client()
            return

        async def reopen() -> None:
            await client.close()
            if self._run_task is not None:
                await asyncio.wait({self._run_task}, timeout=10.0)
            self.connect_client()

        self._tasks.spawn(reopen())

    # -- faults ----------------------------------------------------------------------
    def target_url(self) -> str:
        """The bar's URL as the client uses it (through the fault proxy when routed)."""
        return self.fault_control.target(self.bar.url_text())

    def state_row(self, kind: str, text: str, **meta: object) -> None:
        """A row of this tab's own (a session or fault marker) in its timeline."""
        if self.transport:
            self._sink(Event(self.transport, "state", kind, data=text, meta=dict(meta)))

    def _on_faults_route_toggled(self, on: bool) -> None:
        async def route() -> None:
            try:
                await self.fault_control.route(on)
            except DuplexError:
                self.faults.route.blockSignals(True)
                self.faults.route.setChecked(False)
                self.faults.route.blockSignals(False)
                raise

        self._tasks.spawn(route())

    def _on_faults_apply_requested(self, spec: dict) -> None:
        self.fault_control.start(spec)

    def _on_faults_storm_requested(self, n: int) -> None:
        old, self.storm = self.storm, None
        if old is not None:
            self._tasks.spawn(old.stop())
            self.state_row("fault", f"storm stopped ({old.n} clients)")
        if n:
            try:
                storm = Storm(self.make_client, n)
                storm.start()
            except (DuplexError, ValueError) as err:
                self.report(f"No storm: {getattr(err, 'sentence', err)}")
                return
            self.storm = storm
            self.state_row("fault", f"storm started: {n} clients of {self.title}")

    def _on_faults_race_requested(self, on: bool) -> None:
        old, self.race = self.race, None
        if old is not None:
            self._tasks.spawn(old.stop())
            for runner in old.runners:
                self.faults.plot.drop_series(runner.label)
            self.state_row("fault", "policy race stopped")
        if on:
            entries = list(STANDARD) + ([SERVER_RETRY] if self.transport == "sse" else [])
            try:
                race = PolicyRace(self.make_client, entries)
            except DuplexError as err:
                self.report(f"No race: {err.sentence}")
                return
            race.start()
            self.race = race
            self.state_row("fault", "policy race started: " + ", ".join(label for label, _p in entries)
                           + " beside this tab's own client")

    def tick(self, server: dict | None = None) -> None:
        """Once a second (the window's timer): the storm's live counts, with the server's view
        (``/_admin/stats``) of this transport when the window has it; the race's table and plot."""
        race = self.race
        if race is not None:
            self.faults.show_race(race.rows())
            for runner in race.runners:
                self.faults.plot.set_attempts(runner.label, list(runner.attempts))
        storm = self.storm
        if storm is None:
            return
        s = storm.tick()
        text = (f"{s.connected}/{storm.n} connected · {s.opens} opens/s · "
                f"{s.reconnects} reconnects/s · {s.messages:,} messages/s")
        if server:
            text += (f"\nserver: {server.get('open', '?')} open · {server.get('rate', 0):,.0f} requests/s "
                     f"(peak {server.get('peak', 0):,.0f}/s)")
        self.faults.storm_state.setText(text)

    def _on_faults_stop_requested(self) -> None:
        self._tasks.spawn(self.fault_control.stop())

    # -- lab server ------------------------------------------------------------
    def set_lab(self, url: str, token: str, autoconnect: bool = True) -> None:
        previous = self.lab_endpoint(self._lab_url) if self._lab_url else ""
        new_process = bool(self._lab_token) and token != self._lab_token
        self._lab_url, self._lab_token = url, token
        if new_process:
            self._tasks.spawn(self.fault_control.restore())
        self.bar.restart_button.setEnabled(True)
        current = self.bar.url_text()
        if not current or current == previous:
            self.bar.remember_url(self.lab_endpoint(url))
        if self.vtab is not None:  # the panel now knows the origin of the tab's URL
            self.session.show_tab(self.vtab, self._browsers, self.bar.url_text())
        if autoconnect and self.client is None:
            self.connect_client()

    def lab_url_here(self) -> str | None:
        return self.lab_endpoint(self._lab_url) if self._lab_url else None

    # -- events from the bridge ------------------------------------------------
    def append_events(self, events: list[Event]) -> None:
        self.timeline.append_events(events)
        client = self.client
        if client is not None:
            self.ledger.show_ledger(client.ledger)
            self.bar.set_state(client.state)
        for e in events:
            if e.kind == "reconnect":
                self.faults.plot.add_attempt(e.t, e.meta.get("delay_s"))
            elif e.kind == "fault":
                self.faults.plot.add_fault(e.t)
            if e.direction == "state" and e.kind == "error":
                if e.meta.get("status") != 401:  # a session's 401 is said once, by SessionControl.expired
                    self.statusMessage.emit(f"{self.title}: {e.data}")
                self._had_error = True
            elif e.direction == "state" and e.kind == "open" and self._had_error:
                self._had_error = False
                self.statusMessage.emit(f"{self.title}: connected again to {e.data}")
            elif not self._got_first and e.direction == "in" and e.kind == "message":
                self._got_first = True
                self.firstMessage.emit(e)
        self.on_events(events)

    # -- actions ---------------------------------------------------------------
    def connect_client(self) -> None:
        if self.client is not None:
            return
        try:
            client = self.make_client()
        except DuplexError as err:
            self.report(err.sentence)
            return
        self.client = client
        self.bar.set_state("connecting")
        self.bar.remember_url(self.bar.url_text())
        self._run_task = self._tasks.spawn(self._run(client))

    async def _run(self, client: Any) -> None:
        try:
            err = await client.run()
        finally:
            if self.client is client:
                self.client = None
            self.bar.set_state(client.state)
            self.ledger.show_ledger(client.ledger)
        if err is not None and not self.session_control.expired(err):
            self.report(f"{self.title} stopped: {err.sentence}")

    def disconnect_client(self) -> None:
        client = self.client
        if client is not None:
            self._tasks.spawn(client.close())

    def _on_bar_connect_requested(self) -> None:
        self.connect_client()

    def _on_bar_disconnect_requested(self) -> None:
        self.disconnect_client()

    def _on_bar_drop_requested(self) -> None:
        if self.client is None or not self.client.drop():
            self.report(f"Nothing to drop: the {self.title} connection is not open.")

    def _on_bar_restart_requested(self, down_s: float) -> None:
        if not self._lab_url:
            self.report("The lab server is not running.")
            return
        self._tasks.spawn(self._restart(down_s))

    async def _restart(self, down_s: float) -> None:
        self.statusMessage.emit(f"Lab server going down for {down_s:g} s…")
        self.faultMarker.emit(await server_fault(self._lab_url, self._lab_token,
                                                 {"fault": "restart", "duration": down_s}), True)

    def report(self, sentence: str) -> None:
        log.warning("%s", sentence)
        self.statusMessage.emit(sentence)

    def spawn(self, coro) -> asyncio.Task:
        """Run ``coro`` as one of the tab's tasks (cancelled on shutdown, failures reported)."""
        return self._tasks.spawn(coro)

    @property
    def lab_url(self) -> str:
        return self._lab_url

    @property
    def lab_token(self) -> str:
        return self._lab_token

    async def shutdown(self) -> None:
        await self.fault_control.stop()
        if self.storm is not None:
            await self.storm.stop()
        if self.race is not None:
            await self.race.stop()
        client = self.client
        if client is not None:
            await client.close()
        await self._tasks.cancel_all()
