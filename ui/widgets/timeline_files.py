"""A timeline to a file and back: HAR 1.2 or JSON Lines (transport/har.py), off the GUI thread."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Callable

from PySide6.QtWidgets import QFileDialog, QWidget

from transport.errors import DuplexError
from transport.events import Event
from transport.har import MAX_IMPORT, read_events, to_har, to_jsonl

from transport.rows import RowStore
from ..tasks import TaskGroup

VERSION = "0.1.0"
FILTERS = "HAR 1.2 (*.har);;JSON Lines (*.jsonl)"
IMPORT_BATCH = 50_000


def render(events: list[Event], path: str) -> str:
    """The file's text for ``path``'s kind (.jsonl: JSON Lines, anything else: HAR)."""
    if path.lower().endswith((".jsonl", ".ndjson")):
        return to_jsonl(events)
    return json.dumps(to_har(events, VERSION), ensure_ascii=False)


def load(path: str) -> list[Event]:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_IMPORT:
            raise DuplexError(f"{p.name} is {size / 1e6:,.0f} MB: Duplex imports files up to "
                              f"{MAX_IMPORT / 1e6:,.0f} MB.")
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DuplexError(f"Could not read {p.name}: {exc}.") from None
    return read_events(text, p.name)


class TimelineFiles:
    """Export (``events()`` → a file) and import (a file → ``append(events)``) for one timeline."""

    def __init__(self, parent: QWidget, snapshot: Callable[[], RowStore],
                 append: Callable[[list[Event]], None], say: Callable[[str], None]) -> None:
        self.parent, self.snapshot, self.append, self.say = parent, snapshot, append, say
        self._tasks = TaskGroup(say)

    def ask_export(self) -> None:
        dialog = QFileDialog(self.parent, "Export the timeline", "timeline.har", FILTERS)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.fileSelected.connect(self.export)
        dialog.open()  # not exec(): no nested loop under qasync

    def ask_import(self) -> None:
        dialog = QFileDialog(self.parent, "Show a Duplex HAR or JSON Lines file", "", FILTERS + ";;All files (*)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(self.import_)
        dialog.open()

    def export(self, path: str) -> asyncio.Task:
        rows = self.snapshot()  # copied on the GUI thread (fast), rebuilt as events off it

        async def write() -> None:
            def work() -> None:
                Path(path).write_text(render(rows.events(), path), encoding="utf-8")
            try:
                await asyncio.to_thread(work)
            except OSError as exc:
                raise DuplexError(f"Could not write {path}: {exc.strerror or exc}.") from None
            self.say(f"{len(rows):,} rows written to {path}.")

        return self._tasks.spawn(write())

    def import_(self, path: str) -> asyncio.Task:
        async def read() -> None:
            events = await asyncio.to_thread(load, path)
            for k in range(0, len(events), IMPORT_BATCH):  # a million rows must not freeze the window
                self.append(events[k:k + IMPORT_BATCH])
                await asyncio.sleep(0)  # let the GUI paint between batches
            self.say(f"{len(events):,} rows imported from {Path(path).name}.")

        return self._tasks.spawn(read())
