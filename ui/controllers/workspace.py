"""Open and save workspaces (ui/workspace.py's format) off the GUI thread, and remember the last one."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal

from transport.core.errors import DuplexError
from transport.core.files import open_regular

from ..tasks import TaskGroup
from ..workspace import MAX_BYTES, Workspace, WorkspaceError, loads

LAST = "workspace/last"
FILTER = "Duplex workspace (*.duplex.json *.json);;All files (*)"


def read_bounded(path: str) -> bytes:
    """At most MAX_BYTES + 1 bytes of a regular file (a FIFO or a device is refused, never waited on)."""
    with open_regular(path) as fh:
        data = fh.read(MAX_BYTES + 1)
    return data


def write_atomically(path: str, text: str) -> None:
    """The whole file or the old one, never half (a temporary file beside it, then a rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".duplex-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class WorkspaceFiles(QObject):
    opened = Signal(object, str)  # the Workspace read, its path
    saved = Signal(str)  # the path written
    said = Signal(str)  # a sentence for the status bar (what was done, or why not)

    def __init__(self, settings: QSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.path: str | None = None  # the workspace open now
        self._tasks = TaskGroup(self.said.emit)

    @property
    def last(self) -> str | None:
        value = self.settings.value(LAST)
        return value if isinstance(value, str) and value else None

    def open(self, path: str) -> asyncio.Task:
        async def read() -> None:
            name = Path(path).name
            try:
                data = await asyncio.to_thread(read_bounded, path)
            except OSError as err:
                raise DuplexError(f"Could not open the workspace {name}: {err.strerror or err}.") from None
            workspace = loads(data, name)
            self.path = path
            self.settings.setValue(LAST, path)
            self.opened.emit(workspace, path)
            unknown = workspace.unknown_kinds
            self.said.emit(f"Workspace {name} opened ({len(workspace.connections)} connections)"
                           + (f"; kept but not shown: {', '.join(unknown)} (a newer Duplex's kinds)." if unknown
                              else "."))

        return self._tasks.spawn(read())

    def reopen_last(self) -> asyncio.Task | None:
        """The last workspace, if there is one (a missing file is said, and forgotten)."""
        last = self.last
        if last is None:
            return None
        if not Path(last).is_file():
            self.settings.remove(LAST)
            self.said.emit(f"The last workspace {last} is gone: the tabs connect to the lab.")
            return None
        return self.open(last)

    def save(self, workspace: Workspace, path: str) -> asyncio.Task:
        text = workspace.dumps()

        async def write() -> None:
            try:
                await asyncio.to_thread(write_atomically, path, text)
            except OSError as err:
                raise DuplexError(f"Could not save the workspace to {path}: {err.strerror or err}.") from None
            self.path = path
            self.settings.setValue(LAST, path)
            self.saved.emit(path)
            self.said.emit(f"Workspace saved to {path}.")

        return self._tasks.spawn(write())

    async def shutdown(self) -> None:
        await self._tasks.cancel_all()


__all__ = ["WorkspaceFiles", "WorkspaceError", "FILTER"]
