"""The lab's own view, once a second: ``/_admin/stats`` and ``/_admin/sessions``, fetched off the GUI
thread's critical path (one fetch at a time; a lab that does not answer is said, not waited for)."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QObject, QTimer, Signal

from transport.errors import DuplexError
from transport.lab_admin import lab_sessions, lab_stats

from ..tasks import TaskGroup

log = logging.getLogger("duplex.ui.lab")


class LabMonitor(QObject):
    second = Signal()  # once a second, whether or not the lab answered
    viewed = Signal(object, object)  # stats, sessions (dicts: passed as they are, not converted)
    unreachable = Signal()  # the lab did not answer (down, restarting, killed)
    sessionEvents = Signal(object)  # the server's session events not seen before (created, expired, ended)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.url = ""
        self.token = ""
        self.sessions: dict | None = None  # the last sessions view
        self._fetching = False
        self._events_seen = 0.0
        self._tasks = TaskGroup(lambda sentence: log.debug("lab view: %s", sentence))
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        self._timer.start()

    def watch(self, url: str, token: str) -> None:
        """The lab (a new process after a kill) listens here."""
        self.url, self.token = url, token

    def _on_timer_timeout(self) -> None:
        self.second.emit()
        if self.url and self.token and not self._fetching:
            self._fetching = True
            self._tasks.spawn(self._fetch(self.url, self.token))

    async def _fetch(self, url: str, token: str) -> None:
        try:
            sessions, stats = await asyncio.gather(lab_sessions(url, token), lab_stats(url, token))
        except DuplexError:  # admin_call says every failure as one
            self.unreachable.emit()
            return
        finally:
            self._fetching = False
        self.sessions = sessions
        self.viewed.emit(stats, sessions)
        fresh = [e for e in sessions.get("events", []) if e.get("wall", 0) > self._events_seen]
        if fresh:
            self._events_seen = max(e.get("wall", 0) for e in fresh)
            self.sessionEvents.emit(fresh)

    async def shutdown(self) -> None:
        self._timer.stop()
        await self._tasks.cancel_all()
