"""A timeline to a file and back: HAR 1.2 or JSON Lines (transport/core/har.py), off the GUI thread."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Callable

from PySide6.QtWidgets import QFileDialog, QWidget

from transport.core.errors import DuplexError
from transport.core.events import Event
from transport.core.har import iter_event_batches, to_har, to_jsonl

from transport.core.rows import RowStore
from ..dialogs import ask_path
from ..tasks import TaskGroup

VERSION = "0.1.0"
FILTERS = "HAR 1.2 (*.har);;JSON Lines (*.jsonl)"
IMPORT_BATCH = 50_000


def render(events: list[Event], path: str) -> str:
    """The file's text for ``path``'s kind (.jsonl: JSON Lines, anything else: HAR)."""
    if path.lower().endswith((".jsonl", ".ndjson")):
        return to_jsonl(events)
    return json.dumps(to_har(events, VERSION), ensure_ascii=False)


class TimelineFiles:
    """Export (``events()`` → a file) and import (a file → ``append(events)``) for one timeline."""

    def __init__(self, parent: QWidget, snapshot: Callable[[], RowStore],
                 append: Callable[[list[Event]], None], say: Callable[[str], None]) -> None:
        self.parent, self.snapshot, self.append, self.say = parent, snapshot, append, say
        # the window's offer of a timeline of its own for an import: title → where its rows go
        self.open_view: Callable[[str], Callable[[list[Event]], None]] | None = None
        self._tasks = TaskGroup(say)

    def ask_export(self) -> QFileDialog:
        return ask_path(self.parent, "Export the timeline", self.export, save=True, name="timeline.har",
                        filters=FILTERS)

    def ask_import(self) -> QFileDialog:
        return ask_path(self.parent, "Show a Duplex HAR or JSON Lines file", self.import_, save=False,
                        filters=FILTERS + ";;All files (*)")

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
        """Read ``path`` into a timeline of its own when the window offers one (``open_view``: a
        read-only tab titled with the file), else into this one."""
        async def read() -> None:
            batches = iter_event_batches(path, IMPORT_BATCH)  # read off the GUI thread, a batch at a time
            first = await asyncio.to_thread(next, batches, None)  # a file that is not a timeline fails here
            append = self.open_view(Path(path).name) if self.open_view is not None else self.append
            n = 0
            events = first
            while events is not None:
                append(events)  # a million rows must not freeze the window: the GUI paints between
                n += len(events)
                events = await asyncio.to_thread(next, batches, None)
            self.say(f"{n:,} rows imported from {Path(path).name}.")

        return self._tasks.spawn(read())
