"""What every transport tab lays out: the connection bar, the timeline, the ledger, the session and
fault pages, bound to the tab's controller (ui.controllers.tab), which owns everything else.

A tab subclass names its transport, builds its bar and says what its form
adds to the client's options (``client_options``).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QTabWidget, QVBoxLayout, QWidget

from transport.clients.virtual_browser import VirtualBrowser, VirtualTab
from transport.core.errors import DuplexError
from transport.core.events import Event, EventSink
from transport.core.ledger import Ledger
from transport.clients.registry import transport
from transport.core.sequence import RuleError, parse_resume, parse_seq

from ..controllers.tab import TabController
from ..widgets.connection_bar import ConnectionBar
from ..widgets.fault_panel import FaultPanel
from ..widgets.ledger_panel import LedgerPanel
from ..widgets.rules_box import RulesBox
from ..widgets.login_banner import LoginBanner
from ..widgets.scroll import scrolled
from ..widgets.session_panel import SessionPanel
from ..widgets.status_line import StatusLine
from ..widgets.timeline import TimelineWidget
from ..workspace import Connection, SavedMessage


class TransportTab(QWidget):
    transport = ""
    openInRequested = Signal(str, dict)  # another transport's tab reads what this one met: its name, the request

    def apply_request(self, settings: dict[str, Any]) -> None:
        """Take a request another tab made (its URL; a tab with a method and a body takes those too)."""
        self.bar.url.setCurrentText(str(settings.get("url", "")))
        method = getattr(self, "method", None)
        if method is not None and settings.get("method"):
            method.setCurrentText(str(settings["method"]))
            self.body.setText(str(settings.get("body", "")))  # type: ignore[attr-defined]
            self.content_type.setText(str(settings.get("content_type") or "application/json"))  # type: ignore[attr-defined]

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None,
                 controller: TabController | None = None) -> None:
        super().__init__(parent)
        self.controller = controller or TabController(transport(self.transport), sink, cap, self)
        self.title = self.controller.title
        self._kept_messages: list[SavedMessage] = []
        self._browsers: list[VirtualBrowser] = []
        self.bar = self.make_bar()
        self.timeline = self.make_timeline()
        self.ledger = LedgerPanel()
        self.rules = RulesBox()  # how a server that is not the lab numbers and resumes: what the ledger reads
        self.side = QWidget()
        self.side_layout = side = QVBoxLayout(self.side)  # a tab puts its own panels above the rules
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(self.rules)
        side.addWidget(self.ledger, 1)
        self.session = SessionPanel()
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(scrolled(self.side, sideways=False), "Transport")  # at 900×600 the checks and ledger are taller
        self.side_tabs.addTab(scrolled(self.session, sideways=False), "Session")  # at 900×600 its form scrolls, never squashed
        self.faults = FaultPanel()
        self.side_tabs.addTab(scrolled(self.faults, sideways=False), "Faults")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.timeline)
        split.addWidget(self.side_tabs)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([860, 320])
        # at 900 px the side pane keeps room for a label and two buttons (the Session page's rows, the ledger's
        # counts); narrower, its pages ran off its right edge
        self.side_tabs.setMinimumWidth(330)
        self.layout_ = QVBoxLayout(self)
        self.layout_.addWidget(self.bar)
        self.banner = LoginBanner()  # shown when the session expired and the user chose to be asked
        self.layout_.addWidget(self.banner)
        self.layout_.addWidget(split, 1)
        self.status = StatusLine()  # this tab's own sentences (errors, results), not the window's
        self.layout_.addWidget(self.status)
        self._connect_signals()

    def _connect_signals(self) -> None:
        c = self.controller
        self.bar.connectRequested.connect(self._on_bar_connect_requested)
        self.bar.urlEntered.connect(self._on_bar_url_entered)
        self.bar.disconnectRequested.connect(c.disconnect_client)
        self.bar.dropRequested.connect(c.drop)
        self.bar.restartRequested.connect(c.restart_server)
        self.ledger.exported.connect(c.report)
        c.statusMessage.connect(self.status.say)
        self.timeline.said.connect(c.statusMessage)
        self.faults.said.connect(c.statusMessage)
        self.session.cookieSaid.connect(c.statusMessage)
        self.faults.routeToggled.connect(self._on_faults_route_toggled)
        self.faults.applyRequested.connect(c.faults.start)
        self.faults.stopRequested.connect(self._on_faults_stop_requested)
        self.faults.stormRequested.connect(c.set_storm)
        self.faults.locustStormRequested.connect(c.set_locust_storm)
        c.stormEnded.connect(self.faults.storm_ended)
        self.faults.raceRequested.connect(c.set_race)
        self.session.loginRequested.connect(c.session.login)
        c.loginAsked.connect(self.banner.ask)
        self.banner.loginClicked.connect(lambda: c.session.login(self.session.user.text().strip()))
        c.stateChanged.connect(lambda state: self.banner.hide() if state == "open" else None)  # going on again
        self.session.logoutRequested.connect(c.session.logout)
        self.session.reloadRequested.connect(c.reload)
        self.session.closeTabRequested.connect(c.session.close_tab)
        self.session.carrierChanged.connect(c.session.set_carrier)
        self.session.serverSettingsRequested.connect(c.session.apply_server_settings)
        c.stateChanged.connect(self.bar.set_state)
        c.ledgerChanged.connect(self._on_controller_ledger_changed)
        c.eventsArrived.connect(self._on_controller_events_arrived)
        c.tabMoved.connect(self._on_controller_tab_moved)
        c.faults.routeChanged.connect(self.faults.set_route)
        c.faults.stateChanged.connect(self.faults.state.setText)
        c.stormChanged.connect(self.faults.storm_state.setText)
        c.raceChanged.connect(self.faults.show_race)
        c.raceAttempts.connect(self.faults.plot.set_attempts)
        c.raceEnded.connect(self._on_controller_race_ended)

    # -- what a subclass provides ------------------------------------------------
    def make_bar(self) -> ConnectionBar:
        return ConnectionBar()

    def make_timeline(self) -> TimelineWidget:
        return TimelineWidget(self.controller.model)

    def client_options(self) -> dict[str, Any]:
        """What the form says beyond the URL (the registry's client options); a sequence or resume rule that
        makes no sense is one sentence."""
        rules = self.rules.rules()
        try:
            parse_seq(rules["seq_rule"])
            parse_resume(rules["resume_rule"], self.transport)
        except RuleError as exc:
            raise DuplexError(exc.sentence) from None
        return {"headers": self.bar.header_pairs(), "policy": self.bar.reconnect_policy(), **rules,
                **self.bar.tls_options()}

    def on_events(self, events: list[Event]) -> None:
        """Hook for tab-specific panels, after the timeline took the batch."""

    # -- the workspace ------------------------------------------------------------------
    def connection(self) -> Connection:
        """This tab's connection as a workspace keeps it (the lab's own endpoint is kept as "")."""
        url = self.bar.url_text()
        form = {**self.bar.form(), **self.rules.rules()}
        browser = self.controller.browser
        return Connection(self.transport, "" if url == (self.controller.lab_endpoint() or "") else url,
                          form["headers"], form["subprotocols"], form["policy"], form["interval_s"], form["resume"],
                          browser.carrier if browser is not None else "cookie", self.saved_messages(),
                          seq_rule=form["seq_rule"], resume_rule=form["resume_rule"],
                          options={**self.tab_options(), **({"ca_file": form["ca_file"]} if form["ca_file"] else {}),
                                   **({"insecure": True} if form["insecure"] else {})})

    def tab_options(self) -> dict[str, str | bool]:
        """What this kind of tab has beyond the bar, for a workspace (a request's method and body…)."""
        method = getattr(self, "method", None)
        if method is None:
            return {}
        return {"method": method.currentText(), "body": self.body.text(),  # type: ignore[attr-defined]
                "content_type": self.content_type.text(),  # type: ignore[attr-defined]
                "retry_post": self.retry_post.isChecked()}  # type: ignore[attr-defined]

    def set_tab_options(self, options: dict[str, str | bool]) -> None:
        """A workspace's :meth:`tab_options` back into the tab (what it does not know is ignored)."""
        method = getattr(self, "method", None)
        if method is None:
            return
        if isinstance(options.get("method"), str) and method.findText(str(options["method"])) >= 0:
            method.setCurrentText(str(options["method"]))
        for key in ("body", "content_type"):
            if isinstance(options.get(key), str):
                getattr(self, key).setText(options[key])
        if isinstance(options.get("retry_post"), bool):
            self.retry_post.setChecked(bool(options["retry_post"]))  # type: ignore[attr-defined]

    def saved_messages(self) -> list[SavedMessage]:
        """Messages kept to send again (the tabs that can send edit them; the others keep a workspace's)."""
        return list(self._kept_messages)

    def set_saved_messages(self, messages: list[SavedMessage]) -> None:
        """Take a workspace's saved messages (a tab that cannot send keeps them for the next save)."""
        self._kept_messages = list(messages)

    def apply_connection(self, conn: Connection) -> None:
        """Open a workspace's connection here: its form, its messages, and its URL (a new connection
        when it differs from the one in use; "" is the lab's)."""
        self.bar.set_form(conn.headers, conn.subprotocols, conn.policy, conn.interval_s, conn.resume)
        self.rules.set_rules(conn.seq_rule, conn.resume_rule)
        self.set_tab_options(conn.options)
        self.bar.ca_file.setText(str(conn.options.get("ca_file") or ""))
        self.bar.insecure.setChecked(conn.options.get("insecure") is True)
        self.set_saved_messages(conn.messages)
        browser = self.controller.browser
        if browser is not None and browser.carrier != conn.carrier:
            self.session.show_carrier(conn.carrier)
            self.controller.session.set_carrier(conn.carrier)
        url = conn.url or self.controller.lab_endpoint() or ""
        if url and url != self.bar.url_text():
            self.bar.remember_url(url)
            if self.controller.client is not None or self.controller.lab_endpoint():
                self.connect_client(new_connection=True)

    # -- binding ------------------------------------------------------------------------
    def down_s(self) -> float:
        """The bar's "seconds down" for a server restart."""
        return float(self.bar.down_s.value())

    def connect_client(self, new_connection: bool = False) -> None:
        """Connect with what the bar says now (a form that makes no sense is said, not connected).
        ``new_connection`` (Enter in the URL box): to a new URL even while connected, as a new
        connection (a separator row, fresh counters), the old one closed first."""
        url = self.bar.url_text()
        try:
            options = self.client_options()
        except DuplexError as err:
            self.controller.report(err.sentence)
            return
        self.bar.remember_url(url)
        if new_connection:
            self.controller.connect_to(url, **options)
        else:
            self.controller.open_client(url, **options)

    def attach(self, vtab: VirtualTab, browsers: list[VirtualBrowser]) -> None:
        """Run inside ``vtab`` (of its browser); the panel offers ``browsers``."""
        self.controller.vtab = vtab
        self._browsers = browsers
        self.session.show_tab(vtab, browsers, self.bar.url_text() or self.controller.lab_endpoint() or "")

    def set_lab(self, url: str, token: str, autoconnect: bool = True) -> None:
        """The lab listens at ``url``: the bar offers its endpoint (unless the user typed another)."""
        previous = self.controller.lab_endpoint() or ""
        self.controller.set_lab(url, token)
        self.bar.restart_button.setEnabled(True)
        current = self.bar.url_text()
        endpoint = self.controller.lab_endpoint() or ""
        if not current or current == previous:
            self.bar.remember_url(endpoint)
            client = self.controller.client
            if client is not None and previous and endpoint != previous and self.controller.url == previous:
                self.connect_client(new_connection=True)  # the lab moved (a cluster, another port): follow it
                return
        if self.controller.vtab is not None:  # the panel now knows the origin of the tab's URL
            self.session.show_tab(self.controller.vtab, self._browsers, self.bar.url_text())
        if autoconnect and self.controller.client is None:
            self.connect_client()

    def set_received(self, n: int) -> None:
        """Rows the bridge took for this tab (the timeline shows them beside captured and shown)."""
        self.timeline.received = n

    def _on_bar_connect_requested(self) -> None:
        self.connect_client()

    def _on_bar_url_entered(self) -> None:
        self.connect_client(new_connection=True)

    def _on_faults_route_toggled(self, on: bool) -> None:
        self.controller.url = self.bar.url_text() or self.controller.url
        self.controller.spawn(self.controller.faults.set_routed(on))

    def _on_faults_stop_requested(self) -> None:
        self.controller.spawn(self.controller.faults.stop())

    def _on_controller_ledger_changed(self, ledger: Ledger) -> None:
        self.ledger.show_ledger(ledger)

    def _on_controller_events_arrived(self, events: list[Event]) -> None:
        self.timeline.learn(events)
        for e in events:
            if e.kind == "reconnect":
                self.faults.plot.add_attempt(e.t, e.meta.get("delay_s"))
            elif e.kind == "fault":
                self.faults.plot.add_fault(e.t)
        self.on_events(events)

    def _on_controller_tab_moved(self) -> None:
        if self.controller.vtab is not None:
            self.session.show_tab(self.controller.vtab, self._browsers, self.bar.url_text())

    def _on_controller_race_ended(self, labels: list[str]) -> None:
        for label in labels:
            self.faults.plot.drop_series(label)
