"""Virtual against real, without widgets: the same scenario on Duplex's virtual browser and on a headless
Chromium (transport/browser/agreement.py), and where they agree."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from transport.browser.agreement import EXPIRY_S, RESTART_DOWN_S, Row, compare

from ..tasks import TaskGroup


class AgreementController(QObject):
    faultMarked = Signal(str)  # the scenario restarts the lab: every timeline marks it
    progress = Signal(str)  # what the run is doing, how it ended, why it failed
    rowsReady = Signal(list)  # list[Row]
    runningChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.lab_url = ""
        self.lab_token = ""
        self.rows: list[Row] = []
        self._tasks = TaskGroup(self._failed)

    def set_lab(self, url: str, token: str) -> None:
        self.lab_url, self.lab_token = url, token

    def warning(self) -> str:
        """What a run does to the lab every tab shares: asked before it starts."""
        return (f"This run restarts the shared lab ({RESTART_DOWN_S:g} s down: every tab reconnects) and shortens "
                f"every session's absolute lifetime to {EXPIRY_S} s for a moment (put back after the run). Go on?")

    def run(self) -> None:
        if not self.lab_url:
            self.progress.emit("The lab is not running yet.")
            return
        self.runningChanged.emit(True)
        self.faultMarked.emit(f"virtual vs real: the scenario restarts the lab ({RESTART_DOWN_S:g} s down) and "
                              f"shortens the sessions' lifetime to {EXPIRY_S} s for a moment")

        async def go() -> None:
            try:
                rows = await compare(self.lab_url, self.lab_token, self.progress.emit)
            finally:
                self.runningChanged.emit(False)
            self.rows = rows
            agree = sum(row.agree for row in rows)
            self.rowsReady.emit(rows)
            self.progress.emit(f"{agree} of {len(rows)} aspects agree." + (
                "" if agree == len(rows) else " See docs/decisions.md for the others."))

        self._tasks.spawn(go())

    def _failed(self, sentence: str) -> None:
        self.progress.emit(sentence)
        self.runningChanged.emit(False)

    async def shutdown(self) -> None:
        await self._tasks.cancel_all()
