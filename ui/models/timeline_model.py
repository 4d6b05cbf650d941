"""The timeline model: a capped, filterable table of events, filled in batches.

Rows are kept in arrival order, as columns (row_store.py: about half the
memory of an Event object per row). Filtering is done here with an index
list (a QSortFilterProxyModel takes seconds on a million rows). Inserts arrive as
batches: one beginInsertRows per batch, and at most one removal of the oldest
rows when the cap is exceeded. While the view is paused, capture continues
into a waiting list that is inserted on resume.
"""

from __future__ import annotations

import bisect
import time
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from transport.events import Event

from transport.rows import UNNAMED, RowStore, type_matches

COLUMNS = ("Time", "Dir", "Kind", "Seq", "Size", "Wire", "Latency ms", "Payload")
PREVIEW_CHARS = 160
SHOWN_CACHE = 512  # rows kept built as Events for painting (a screenful, many times over)

_ARROWS = {"in": "← in", "out": "→ out", "state": "• state"}
_COLOURS = {
    "error": QColor("#c62828"),
    "fault": QColor("#ad1457"),
    "gap": QColor("#c62828"),
    "close": QColor("#8d6e00"),
    "retry": QColor("#8d6e00"),
    "reconnect": QColor("#8d6e00"),
    "warning": QColor("#e65100"),
    "comment": QColor("#757575"),
    "open": QColor("#2e7d32"),
    "live": QColor("#2e7d32"),
}
_OUT = QColor("#1565c0")

_Index = QModelIndex | QPersistentModelIndex


# Type filters beyond one event type (SSE: what reaches onmessage vs addEventListener).
_LEAK = QBrush(QColor("#ffe0b2"))


def _leaks_session(e: Event) -> bool:
    """A logged URL that now contains the session id (the query carrier)."""
    return e.kind in ("request", "open") and "sid=" in e.text()




class TimelineModel(QAbstractTableModel):
    countsChanged = Signal()

    def __init__(self, cap: int = 1_000_000, parent=None) -> None:
        super().__init__(parent)
        if cap < 1:
            raise ValueError("cap must be >= 1")
        self.cap = cap
        self._rows = RowStore()
        self._base = 0  # absolute index of _rows[0] (rows trimmed so far)
        self._view: list[int] | None = None  # absolute indices matching the filter
        self._filter = ""
        self._type: str | None = None
        self._paused = False
        self._waiting: list[Event] = []
        self._shown_rows: dict[int, Event] = {}  # absolute index → its Event, for painting
        self.captured = 0  # every event ever appended
        # wall-clock mapping for the monotonic event times
        self._wall0 = time.time()
        self._mono0 = time.monotonic_ns()

    # -- feeding ---------------------------------------------------------------
    def append_events(self, events: list[Event]) -> None:
        if not events:
            return
        self.captured += len(events)
        if self._paused:
            self._waiting.extend(events)
            if len(self._waiting) > self.cap:
                del self._waiting[: len(self._waiting) - self.cap]
        else:
            self._insert(events)
        self.countsChanged.emit()

    def _insert(self, events: list[Event]) -> None:
        if len(events) > self.cap:
            events = events[-self.cap:]
        excess = len(self._rows) + len(events) - self.cap
        if excess > 0:
            self._trim(excess)
        start_abs = self._base + len(self._rows)
        if self._view is None:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(events) - 1)
            self._rows.extend(events)
            self.endInsertRows()
            return
        old = len(self._rows)
        self._rows.extend(events)
        matches = self._rows.search(self._filter, self._type, type_matches, old, offset=start_abs - old)
        if matches:
            first = len(self._view)
            self.beginInsertRows(QModelIndex(), first, first + len(matches) - 1)
            self._view.extend(matches)
            self.endInsertRows()

    def _trim(self, excess: int) -> None:
        excess = min(excess, len(self._rows))
        new_base = self._base + excess
        if self._view is None:
            self.beginRemoveRows(QModelIndex(), 0, excess - 1)
            self._rows.drop_oldest(excess)
            self._base = new_base
            self.endRemoveRows()
            return
        gone = bisect.bisect_left(self._view, new_base)
        if gone:
            self.beginRemoveRows(QModelIndex(), 0, gone - 1)
            del self._view[:gone]
            self.endRemoveRows()
        self._rows.drop_oldest(excess)
        self._base = new_base

    # -- pause and filter ------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def set_paused(self, paused: bool) -> None:
        if paused == self._paused:
            return
        self._paused = paused
        if not paused and self._waiting:
            waiting, self._waiting = self._waiting, []
            self._insert(waiting)
        self.countsChanged.emit()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def filter_text(self) -> str:
        return self._filter

    @property
    def type_filter(self) -> str | None:
        return self._type

    def set_filter(self, text: str) -> None:
        text = text.strip().lower()
        if text != self._filter:
            self._refilter(text, self._type)

    def set_type_filter(self, wanted: str | None) -> None:
        """Only incoming events of this type (or ALL_EVENTS, NAMED); None: every row."""
        if wanted != self._type:
            self._refilter(self._filter, wanted)

    def _refilter(self, text: str, wanted: str | None) -> None:
        self.beginResetModel()  # one reset per filter change, never per message
        self._filter, self._type = text, wanted
        if text or wanted is not None:
            self._view = self._rows.search(text, wanted, type_matches, offset=self._base)
        else:
            self._view = None
        self.endResetModel()
        self.countsChanged.emit()

    def clear(self) -> None:
        self.beginResetModel()
        self._base += len(self._rows)
        self._rows.clear()
        self._waiting.clear()
        self._shown_rows.clear()
        if self._view is not None:
            self._view = []
        self.endResetModel()
        self.countsChanged.emit()

    # -- access ----------------------------------------------------------------
    @property
    def stored(self) -> int:
        return len(self._rows)

    def event_at(self, row: int) -> Event | None:
        if self._view is not None:
            if not 0 <= row < len(self._view):
                return None
            i = self._view[row] - self._base
        elif 0 <= row < len(self._rows):
            i = row
        else:
            return None
        # a painted row asks for each column and role: build its Event once (rows never change; the
        # absolute index names one row until clear(), which empties this)
        key = self._base + i
        e = self._shown_rows.get(key)
        if e is None:
            if len(self._shown_rows) >= SHOWN_CACHE:
                self._shown_rows.clear()
            e = self._shown_rows[key] = self._rows.event(i)
        return e

    def events(self) -> list[Event]:
        """The captured rows (not the waiting ones), oldest first."""
        return self._rows.events()

    def snapshot(self) -> RowStore:
        """The rows as they are now, to rebuild as Events off the GUI thread (an export)."""
        return self._rows.snapshot()

    # -- Qt model interface ----------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        if parent.isValid():
            return 0
        return len(self._view) if self._view is not None else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        e = self.event_at(index.row())
        if e is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(e, col)
        if role == Qt.ItemDataRole.ToolTipRole and col == 7:
            if _leaks_session(e):
                return "This URL carries the session id (?sid=): it ends up in logs, history and Referer.\n" \
                    + e.text()[:2000]
            return e.text()[:2000]
        if role == Qt.ItemDataRole.BackgroundRole and _leaks_session(e):
            return _LEAK
        if role == Qt.ItemDataRole.ForegroundRole:
            colour = _COLOURS.get(e.kind) or (_OUT if e.direction == "out" else None)
            return QBrush(colour) if colour is not None else None
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (3, 4, 5, 6):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, e: Event, col: int) -> str:
        if col == 0:
            wall = self._wall0 + (e.t - self._mono0) / 1e9
            return time.strftime("%H:%M:%S", time.localtime(wall)) + f".{int(wall * 1000) % 1000:03d}"
        if col == 1:
            return _ARROWS.get(e.direction, e.direction)
        if col == 2:
            kind = e.meta.get("type")
            named = kind is not None and kind != UNNAMED and e.kind == "message"
            return f"{e.kind} · {kind}" if named else e.kind
        if col == 3:
            return "" if e.seq is None else str(e.seq)
        if col == 4:
            return str(e.size) if e.size else ""
        if col == 5:
            return "" if e.wire is None else str(e.wire)
        if col == 6:
            if e.latency_ms is None:
                return ""
            return f"{e.latency_ms:.2f}" + (" rtt" if e.meta.get("latency") == "rtt" else "")
        if col == 7:
            text = e.text()
            if isinstance(e.data, bytes):
                text = "0x" + text
            text = text[:PREVIEW_CHARS].replace("\n", "⏎")
            return text
        return ""
