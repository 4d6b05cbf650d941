"""The qasync event loop, with one fix.

qasync 0.28's ``run_until_complete`` stops the Qt loop, resets the running
asyncio loop to None, and *then* processes the pending Qt events once more.
Socket callbacks dispatched there run with no running loop: websockets fails in
``connection_made`` ("no running event loop") and the connection is lost. We
process those leftover events with the loop still marked as running.
"""

from __future__ import annotations

import asyncio
from typing import Any

import qasync
from PySide6.QtCore import QEventLoop as _QtEventLoop
from PySide6.QtWidgets import QApplication


class DuplexEventLoop(qasync.QEventLoop):
    def __init__(self, app: QApplication | None = None) -> None:
        existing = QApplication.instance()
        self._qt_app = app or (existing if isinstance(existing, QApplication) else QApplication([]))
        super().__init__(self._qt_app)

    def run_until_complete(self, future: Any) -> Any:
        if self.is_running():
            raise RuntimeError("Event loop already running")
        future = asyncio.ensure_future(future, loop=self)

        def stop(_fut: object) -> None:
            self.stop()

        future.add_done_callback(stop)
        try:
            self.run_forever()
        finally:
            future.remove_done_callback(stop)
        # qasync processes leftover events here without a running loop
        asyncio.events._set_running_loop(self)
        try:
            self._qt_app.eventDispatcher().processEvents(_QtEventLoop.ProcessEventsFlag.AllEvents)
        finally:
            asyncio.events._set_running_loop(None)
        if not future.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        return future.result()
