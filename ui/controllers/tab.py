"""One transport tab's logic, without widgets: the client and its task, the virtual tab it runs in,
the fault route and faults, the storm, the policy race, the timeline model, the lab link.

The tab widget lays out and binds: it hands the controller what its form
says (``open_client(url, **options)``) and shows what the controller's signals
report. Clients are built through the transport registry.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Coroutine

from PySide6.QtCore import QObject, Signal

from transport.clients.virtual_browser import VirtualBrowser, VirtualTab
from transport.clients.base import Client
from transport.core.errors import DuplexError
from transport.core.events import Event, EventSink
from transport.core.urls import host_port
from transport.apps.policy_race import SERVER_RETRY, STANDARD, PolicyRace
from transport.clients.registry import TransportInfo
from transport.loadtest.control import LocalStorm, LocustStormSpec, RemoteStorm, storm_runner
from transport.apps.storm import Storm

from ..models.timeline_model import TimelineModel
from ..tasks import TaskGroup
from .faults import FaultController
from .session import SessionController

log = logging.getLogger("duplex.ui.tab")


class TabController(QObject):
    stateChanged = Signal(str)  # the client's state (idle, connecting, open, waiting, closed, failed)
    clientStarted = Signal()  # a new client (a new stream): what described the last one starts over
    ledgerChanged = Signal(object)  # the client's Ledger, after each batch and at the end
    eventsArrived = Signal(object)  # list[Event]: a batch of this tab's events, after the model took them
    statusMessage = Signal(str)
    firstMessage = Signal(object)  # the first incoming feed message (an Event)
    sessionChanged = Signal(object, str)  # a VirtualBrowser logged in or out (and why): its tabs reload
    loginAsked = Signal(str)  # the session expired and the user chose to be asked: the sentence to show
    tabMoved = Signal()  # this tab now runs in another virtual tab
    faultMarker = Signal(str, bool)  # a fault was applied: text, and whether every tab is affected
    killRequested = Signal(float, bool)  # kill the lab process: seconds until the new one, keep history
    stormEnded = Signal()  # a storm on Locust ended (its button goes back up)
    stormChanged = Signal(str)  # the storm's live counts (empty: no storm)
    raceChanged = Signal(list)  # the race's rows (one per policy)
    raceAttempts = Signal(str, object)  # a racer's reconnect attempts [(t ns, wait s)], for the plot
    raceEnded = Signal(list)  # the labels of a race that stopped

    def __init__(self, info: TransportInfo, sink: EventSink, cap: int = 1_000_000,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.info = info
        self.transport = info.name
        self.title = info.title
        self._sink = sink
        self.model = TimelineModel(cap, self)
        self.client: Client | None = None
        self.url = ""  # what the form said at the last connect
        self.options: dict[str, Any] = {}
        self.lab_url = ""
        self.lab_token = ""
        self.vtab: VirtualTab | None = None
        self.storm: Storm | None = None
        self.locust: LocalStorm | RemoteStorm | None = None  # a storm on Locust (its own processes)
        self.race: PolicyRace | None = None
        self._tasks = TaskGroup(self.report)
        self._run_task: asyncio.Task | None = None
        self._got_first = False
        self._had_error = False
        self.faults = FaultController(self, self)
        self.session = SessionController(self, self)
        self.faults.marker.connect(self.faultMarker)
        self.faults.killRequested.connect(self.killRequested)

    # -- the lab ------------------------------------------------------------------------
    def lab_endpoint(self) -> str | None:
        """This transport's endpoint on the embedded lab, once it listens."""
        return self.info.lab_url(self.lab_url) if self.lab_url else None

    def set_lab(self, url: str, token: str) -> None:
        new_process = bool(self.lab_token) and token != self.lab_token
        self.lab_url, self.lab_token = url, token
        if new_process:
            self.spawn(self.faults.restore())

    # -- the virtual browser and tab ------------------------------------------------------
    @property
    def browser(self) -> VirtualBrowser | None:
        return self.vtab.browser if self.vtab is not None else None

    def run_in(self, browser: VirtualBrowser, why: str, reload: bool = True) -> None:
        """Run in a new virtual tab of ``browser`` (a row says ``why``); its connections reopen, as a reload
        (``reload``) or simply."""
        self.vtab = browser.new_tab()
        self.tabMoved.emit()
        self.state_row("session", why)
        if reload:
            self.reload()
        else:
            self.reopen()

    def reload(self, why: str = "") -> None:
        """As a browser reloads: sessionStorage stays, the connections drop and reopen."""
        if self.vtab is not None:
            self.vtab.reload()
        because = f"{why}; " if why else ""
        self.state_row("session", f"tab reloaded ({self.vtab.name if self.vtab else 'tab'}): {because}"
                                  "connections reopen")
        self.reopen()

    # -- the client -------------------------------------------------------------------------
    def make_client(self, sink: EventSink | None = None) -> Client:
        """A client for what the form said at the last connect (through the fault proxy when routed);
        raises DuplexError on a bad form."""
        if not self.url:
            raise DuplexError(f"Enter the {self.title} URL first.")
        return self.info.make(self.faults.target(self.url), sink or self._sink, browser=self.browser,
                              **self.options)

    def open_client(self, url: str | None = None, **options: Any) -> None:
        """Connect with ``url`` and the form's ``options`` (None: as last time). A routed tab's proxy
        follows a new server first."""
        if url is not None:
            self.url, self.options = url.strip(), options
        if self.client is not None:
            return
        if self.faults.route.routed and self.url and host_port(self.url) != self.faults.route.upstream:
            self.spawn(self._follow_then_start())
            return
        self._start()

    def connect_to(self, url: str, **options: Any) -> None:
        """Connect to ``url`` now: already connected there with the same form, nothing; elsewhere, the
        old connection closes and a new one starts (its own client: ledger and counters start again),
        marked by a separator row."""
        url = url.strip()
        client = self.client
        if client is not None and url == self.url and options == self.options:
            return
        if client is None:
            self.open_client(url, **options)
            return
        self.state_row("separator", f"new connection: {url}", url=url, previous=self.url)
        self.url, self.options = url, options
        running = self._run_task

        async def swap() -> None:
            await client.close()
            if running is not None:
                await asyncio.gather(running, return_exceptions=True)
            if self.client is None:
                self.open_client()
        self.spawn(swap())

    async def _follow_then_start(self) -> None:
        await self.faults.follow(self.url)
        if self.client is None:
            self._start()

    def _start(self) -> None:
        try:
            client = self.make_client()
        except DuplexError as err:
            self.report(err.sentence)
            return
        self.client = client
        self.clientStarted.emit()
        self.stateChanged.emit("connecting")
        self._run_task = self.spawn(self._run(client))

    async def _run(self, client: Client) -> None:
        try:
            err = await client.run()
        finally:
            if self.client is client:
                self.client = None
            self.stateChanged.emit(client.state)
            self.ledgerChanged.emit(client.ledger)
        if err is not None and not self.session.expired(err):
            self.report(f"{self.title} stopped: {err.sentence}")

    def disconnect_client(self) -> None:
        """Disconnect (not QObject.disconnect, which it would hide)."""
        client = self.client
        if client is not None:
            self.spawn(client.close())

    @property
    def connected(self) -> bool:
        """The client's connection is open now (what Drop can cut)."""
        return self.client is not None and self.client.connected

    def drop(self) -> None:
        if self.client is None or not self.client.drop():
            self.report(f"Nothing to drop: the {self.title} connection is not open.")

    def reopen(self) -> None:
        """Close the client (if any) and connect a new one with the last settings."""
        client = self.client
        if client is None:
            self.open_client()
            return

        async def reopen() -> None:
            await client.close()
            if self._run_task is not None:
                await asyncio.wait({self._run_task}, timeout=10.0)
            self.open_client()

        self.spawn(reopen())

    def restart_server(self, down_s: float) -> None:
        if not self.lab_url:
            self.report("The lab server is not running.")
            return
        self.spawn(self.faults.restart_server(down_s))

    # -- events from the bridge ---------------------------------------------------------------
    def take(self, events: list[Event]) -> None:
        """This tab's batch from the bridge: into the model, then what it means for the tab."""
        self.model.append_events(events)
        client = self.client
        if client is not None:
            self.ledgerChanged.emit(client.ledger)
            self.stateChanged.emit(client.state)
        for e in events:
            if e.direction == "state" and e.kind == "error":
                if e.meta.get("status") != 401:  # a session's 401 is said once, by SessionController.expired
                    self.statusMessage.emit(f"{self.title}: {e.text()}")
                self._had_error = True
            elif e.direction == "state" and e.kind == "open" and self._had_error:
                self._had_error = False
                said = str(e.data)  # a URL, or a sentence of its own (Socket.IO: "connected to / (sid …)")
                self.statusMessage.emit(f"{self.title}: " + (said if said.startswith("connected")
                                                             else f"connected again to {said}"))
            elif self._had_error and (e.kind == "message" and e.direction == "in"
                                      or e.kind == "response" and (e.meta.get("status") or 0) < 400):
                # a poll has no connection that opens: its first good answer ends the condition said
                self._had_error = False
                self.statusMessage.emit(f"{self.title}: the server answers again"
                                        + (f" ({self.url})" if self.url else ""))
            elif not self._got_first and e.direction == "in" and e.kind == "message":
                self._got_first = True
                self.firstMessage.emit(e)
        self.eventsArrived.emit(events)

    def state_row(self, kind: str, text: str, **meta: object) -> None:
        """A row of this tab's own (a session or fault marker) in its timeline."""
        self._sink(Event(self.transport, "state", kind, data=text, meta=dict(meta)))

    # -- storm and race ----------------------------------------------------------------------
    def set_storm(self, n: int) -> None:
        """Start a storm of ``n`` clients of this transport (0: stop it)."""
        old, self.storm = self.storm, None
        if old is not None:
            self.spawn(old.stop())
            self.state_row("fault", f"storm stopped ({old.n} clients)")
            self.stormChanged.emit("")
        if n:
            try:
                storm = Storm(self.make_client, n)
                storm.start()
            except (DuplexError, ValueError) as err:
                self.report(f"No storm: {getattr(err, 'sentence', err)}")
                return
            self.storm = storm
            self.state_row("fault", f"storm started: {n} clients of {self.title}")

    def set_locust_storm(self, spec: LocustStormSpec | None) -> None:
        """Start a storm on Locust (``spec``: its users, or a master started elsewhere), or end it (None):
        its users stop and the rows say what every user's ledger proves."""
        if spec is None:
            if self.locust is not None:
                self.locust.stop()
                self.stormChanged.emit("stopping: Locust collects every user's ledger…")
            return
        if self.locust is not None:
            return
        if not spec.master and not self.url:
            self.report(f"No storm: enter the {self.title} URL first.")
            self.stormEnded.emit()
            return
        try:
            runner = storm_runner(spec, self.faults.target(self.url) if self.url else "", self.info.probe_name,
                                  self.lab_token)
        except DuplexError as err:
            self.report(f"No storm: {err.sentence}")
            self.stormEnded.emit()
            return
        self.locust = runner
        where = spec.master or f"this machine ({spec.workers} workers)"
        self.state_row("fault", f"storm on Locust started: {spec.users:,} users of {self.title} on {where}")
        self.spawn(self._run_locust(runner))

    async def _run_locust(self, runner: LocalStorm | RemoteStorm) -> None:
        def status(s: dict) -> None:
            self.stormChanged.emit(
                f"Locust: {s.get('users', 0):,} users · {s.get('connects_per_s', 0):,.0f} connects/s · "
                f"{s.get('open', 0):,} open · {s.get('messages', 0):,} messages · {s.get('lost', 0):,} lost · "
                f"{s.get('duplicated', 0):,} duplicated")

        def result(ledger: dict | None, sentence: str) -> None:
            if ledger is not None:
                text = (f"storm on Locust ended: {ledger.get('verdict')} · {ledger.get('opens', 0):,} connections "
                        f"opened" + (f", recovery p50 {ledger['recover_ms_p50']:,.0f} ms"
                                     if ledger.get("recover_ms_p50") is not None else ""))
                self.state_row("fault", text, storm=ledger)
                self.stormChanged.emit(("✔ " if ledger.get("ok") else "✘ ") + text)
            else:
                self.state_row("fault", f"storm on Locust failed: {sentence}")
                self.stormChanged.emit(f"✘ {sentence}")
                self.report(f"Storm on Locust: {sentence}")

        try:
            await runner.run(status, result)
        finally:
            runner.kill()
            self.locust = None
            self.stormEnded.emit()

    def set_race(self, on: bool) -> None:
        """Race the reconnect policies side by side (one more client per policy), or stop."""
        old, self.race = self.race, None
        if old is not None:
            self.spawn(old.stop())
            self.raceEnded.emit([runner.label for runner in old.runners])
            self.state_row("fault", "policy race stopped")
        if on:
            entries = list(STANDARD) + ([SERVER_RETRY] if self.info.server_retry else [])
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
        (``/_admin/stats``) of this transport when the window has it; the race's rows and attempts."""
        race = self.race
        if race is not None:
            self.raceChanged.emit(race.rows())
            for runner in race.runners:
                self.raceAttempts.emit(runner.label, list(runner.attempts))
        storm = self.storm
        if storm is None:
            return
        s = storm.tick()
        text = (f"{s.connected}/{storm.n} connected · {s.opens} opens/s · "
                f"{s.reconnects} reconnects/s · {s.messages:,} messages/s")
        if server:
            text += (f"\nserver: {server.get('open', '?')} open · {server.get('rate', 0):,.0f} requests/s "
                     f"(peak {server.get('peak', 0):,.0f}/s)")
        self.stormChanged.emit(text)

    # -- housekeeping ----------------------------------------------------------------------
    def report(self, sentence: str) -> None:
        """A sentence for the tab's status line (the log keeps it at INFO: a failed task is logged as a warning
        by the task group, which reports it here too)."""
        log.info("%s", sentence)
        self.statusMessage.emit(sentence)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run ``coro`` as one of the tab's tasks (cancelled on shutdown, failures reported)."""
        return self._tasks.spawn(coro)

    async def shutdown(self) -> None:
        await self.faults.stop()
        if self.storm is not None:
            await self.storm.stop()
        if self.locust is not None:
            self.locust.kill()
        if self.race is not None:
            await self.race.stop()
        client = self.client
        if client is not None:
            await client.close()
        await self._tasks.cancel_all()
