"""A tab's faults: its route through a lab fault proxy, the faults running on it, their markers.

Network faults act on the tab's own proxy (``tab-<transport>`` in the lab,
in front of the server of the tab's URL); server faults act on the lab and
are marked in every tab; a process kill is the window's (it owns the lab
process). Faults stack; Stop (or closing the tab) undoes what is running.
The route follows the tab's URL: connecting to another server points the
proxy there.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QObject, Signal

from transport.core.errors import DuplexError
from transport.apps.fault_runner import AdminCall, FaultRoute, lab_call, proxy_fault, repeat, server_fault
from transport.core.faults import FaultSpec

from .host import FaultHost

NOT_ROUTED = "not routed: network faults need the proxy"


class FaultController(QObject):
    routeChanged = Signal(bool, str)  # routed, and the sentence that says where
    stateChanged = Signal(str)  # what is running
    marker = Signal(str, bool)  # a fault was applied: text, and whether every tab is affected
    killRequested = Signal(float, bool)  # the lab process: seconds until the new one, keep history

    def __init__(self, tab: FaultHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tab = tab
        self.route = FaultRoute(f"tab-{tab.transport}")
        self.running: set[asyncio.Task] = set()  # faults running now: they stack, Stop ends them all

    def target(self, url: str) -> str:
        return self.route.target(url)

    def _call(self) -> AdminCall:
        """The admin API of the tab's lab (the current process)."""
        return lab_call(self._tab.lab_url, self._tab.lab_token)

    # -- the route ------------------------------------------------------------------------
    async def set_routed(self, on: bool) -> None:
        """Route the tab through its proxy (or stop); the client reconnects through it."""
        try:
            if on:
                said = await self.route.open(self._call(), self._tab.url)
            else:
                await self.stop()
                await self.route.close(self._call())
                said = NOT_ROUTED
        except DuplexError:
            self.routeChanged.emit(self.route.routed, NOT_ROUTED if not self.route.routed else "")
            raise
        self.routeChanged.emit(self.route.routed, said)
        self._tab.reopen()

    async def follow(self, url: str) -> None:
        """The tab connects to ``url``: the proxy goes in front of its server, or the route ends."""
        if not self.route.routed:
            return
        try:
            said = await self.route.follow(self._call(), url)
        except DuplexError as err:
            self.routeChanged.emit(False, NOT_ROUTED)
            self._tab.report(f"The fault proxy could not follow the new URL, so the tab is no longer routed: "
                             f"{err.sentence}")
            return
        if said:
            self.routeChanged.emit(True, f"routed: {self.route.listen} → {self.route.upstream}")
            self._tab.state_row("fault", said)

    async def restore(self) -> None:
        """A new lab process: make the proxy again at the same address."""
        try:
            said = await self.route.restore(self._call())
        except DuplexError:
            self.routeChanged.emit(False, "not routed: the new lab process could not make the proxy again")
            self._tab.reopen()
            raise
        if said:
            self._tab.state_row("fault", said)

    # -- faults -----------------------------------------------------------------------------
    def start(self, spec: FaultSpec) -> None:
        """Run a fault beside those already running (toxics stack, as in Toxiproxy)."""
        task = self._tab.spawn(self._run(spec))
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    async def stop(self) -> None:
        tasks, self.running = list(self.running), set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # each removes its toxic as it ends
        self.stateChanged.emit("no fault running")

    async def _run(self, spec: FaultSpec) -> None:
        if spec.kind == "proxy" and not self.route.routed:
            raise DuplexError("Route this tab through a fault proxy first (tick the box above).")

        def say(text: str) -> None:
            n = len(self.running)
            self.stateChanged.emit(text + (f" · {n} faults running" if n > 1 else ""))

        await repeat(spec, self.apply_once, say)

    async def apply_once(self, spec: FaultSpec) -> None:
        """Apply the fault once, for its duration (0: until Stop), marking when it starts and ends."""
        if spec.kind == "server":
            self.marker.emit(await server_fault(self._tab.lab_url, self._tab.lab_token, spec), True)
            return
        if spec.kind == "process":
            self.killRequested.emit(spec.duration, spec.keep_history)
            return
        await proxy_fault(self._call(), self.route.name, spec, lambda text: self.marker.emit(text, False),
                          reconnect=self._tab.reopen)

    async def restart_server(self, down_s: float) -> None:
        """The bar's Restart server: a server fault like any other, marked in every timeline."""
        self._tab.statusMessage.emit(f"Lab server going down for {down_s:g} s…")
        await self.apply_once(FaultSpec("restart", duration=down_s))
