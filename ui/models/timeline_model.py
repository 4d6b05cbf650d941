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
import json
import time
from array import array
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal

from transport.core.events import Event

from transport.core.rows import FilterError, RowError, RowStore, admit, parse_filter, type_matches

from ..theme import theme

COLUMNS = ("Time", "Conn", "Dir", "Kind", "Event", "Topic", "Seq", "Size", "Wire", "Latency ms", "Payload")
TIME, CONN, DIR, KIND, EVENT, TOPIC, SEQ, SIZE, WIRE, LATENCY, PAYLOAD = range(len(COLUMNS))
HEADER_TIPS = (
    "When the row was recorded (this machine's clock)",
    "Which connection the row belongs to (in the Browser tab: which browser tab; filter: conn:N)",
    "in: from the server · out: sent by Duplex · state: what the client did or saw",
    "What the row is: a message, a request, a response, a reconnect, a gap, …",
    "The event's name: an SSE event's type (\"message\" when it has none: onmessage gets it), a Socket.IO "
    "event's name (filter: event:NAME)",
    "The feed's topic of the message (the envelope's \"topic\")",
    "The message's sequence number: the ledger checks it for loss, duplicates and order",
    "Bytes of the message's payload",
    "Bytes on the wire for this row, framing and headers included; ≈: a share of one read that "
    "carried several events (the read's total is in the Record page)",
    "One-way latency from the lab's timestamp (a Duplex lab on this machine), or the ping's round "
    "trip (\"rtt\") for any other server",
    "The message's body (a feed envelope shows its \"body\": seq, ts and topic have their columns)",
)
NUMERIC = (CONN, SEQ, SIZE, WIRE, LATENCY)
PREVIEW_CHARS = 160
SHOWN_CACHE = 512  # rows kept built as Events for painting (a screenful, many times over)

_ARROWS = {"in": "← in", "out": "→ out", "state": "• state"}
_COLOURS = {  # a row's kind → the theme's colour for it (resources/themes/)
    "error": "error",
    "fault": "fault",
    "gap": "error",
    "close": "caution",
    "retry": "caution",
    "reconnect": "caution",
    "warning": "warning",
    "comment": "muted",
    "open": "ok",
    "live": "ok",
}

_Index = QModelIndex | QPersistentModelIndex




def _leaks_session(e: Event) -> bool:
    """A logged URL that now contains the session id (the query carrier). Not Engine.IO's ``sid=``: that is
    the Socket.IO connection's own id, in every URL by the protocol's design, not the login session."""
    return e.kind in ("request", "open") and e.transport != "socketio" and "sid=" in e.text()




def _preview(e: Event) -> str:
    """A row's payload on one line; a feed envelope (a topic and a seq) shows its body only."""
    if isinstance(e.data, bytes):
        return ("0x" + e.text())[:PREVIEW_CHARS]
    text = e.text()
    if "topic" in e.meta and e.seq is not None and text.startswith("{") and '"body"' in text:
        try:
            obj = json.loads(text)
            if isinstance(obj, dict) and "body" in obj:
                text = json.dumps(obj["body"], ensure_ascii=False, separators=(", ", ": "))
        except (ValueError, RecursionError):  # a body nested deeper than Python's parser goes: as sent
            pass
    text = text[:PREVIEW_CHARS].replace("\n", "⏎")
    return INSECURE + text if e.meta.get("insecure") else text


INSECURE = "⚠ TLS not verified · "  # every row of a connection whose certificate is not checked (clients/tls.py)


class TimelineModel(QAbstractTableModel):
    countsChanged = Signal()

    def __init__(self, cap: int = 1_000_000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if cap < 1:
            raise ValueError("cap must be >= 1")
        self.cap = cap
        self._rows = RowStore()
        self._base = 0  # absolute index of _rows[0] (rows trimmed so far)
        self._view: array | None = None  # absolute indices matching the filter (array("q"))
        self._filter = ""  # the free text of the filter, lower case
        self._where: dict[str, str] = {}  # its qualifiers (topic:, kind:, dir:, conn:)
        self._filter_text = ""  # the filter as typed
        self.filter_problem = ""  # why the filter matches nothing (a pattern that is not a regular expression)
        self._type: str | None = None
        self._paused = False
        self._waiting: list[Event] = []
        self._shown_rows: dict[int, Event] = {}  # absolute index → its Event, for painting
        self._previews: dict[int, str] = {}  # absolute index → its payload preview (the body)
        self.captured = 0  # every event ever appended
        self.show_transport = False  # a timeline of several transports (the browser's): Kind names each
        self.conn_title = "Conn"  # the Conn column's header ("Tab" in the browser's timeline)
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
        try:  # validated before anything is announced: a row no column can hold never half-applies a batch
            batch = self._rows.prepare(events)
        except RowError:
            events = admit(events)  # each such row becomes an error row saying why; the others stay
            batch = self._rows.prepare(events)
        excess = len(self._rows) + len(events) - self.cap
        if excess > 0:
            self._trim(excess)
        start_abs = self._base + len(self._rows)
        if self._view is None:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(events) - 1)
            self._rows.commit(batch)
            self.endInsertRows()
            return
        old = len(self._rows)
        self._rows.commit(batch)
        if self.filter_problem:
            return
        matches = self._rows.search(self._filter, self._type, type_matches, old, offset=start_abs - old,
                                    where=self._where)
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
        """The filter as the user typed it (stripped)."""
        return self._filter_text

    @property
    def type_filter(self) -> str | None:
        return self._type

    def set_filter(self, text: str) -> None:
        """Free text (any case) and qualifiers: ``topic:chat``, ``kind:message``, ``dir:out``, ``conn:3``."""
        text = text.strip()
        if text != self._filter_text:
            self._filter_text = text
            needle, where = parse_filter(text)
            self._refilter(needle, self._type, where)

    def set_type_filter(self, wanted: str | None) -> None:
        """Only incoming events of this type (or ALL_EVENTS, NAMED); None: every row."""
        if wanted != self._type:
            self._refilter(self._filter, wanted, self._where)

    def _refilter(self, text: str, wanted: str | None, where: dict[str, str]) -> None:
        self.beginResetModel()  # one reset per filter change, never per message
        self._filter, self._type, self._where = text, wanted, where
        self.filter_problem = ""
        if text or wanted is not None or where:
            try:
                self._view = self._rows.search(text, wanted, type_matches, offset=self._base, where=where)
            except FilterError as err:
                self.filter_problem = str(err)
                self._view = array("q")  # nothing matches what cannot be read; rows that arrive stay out
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
        self._previews.clear()
        if self._view is not None:
            self._view = array("q")
        self.endResetModel()
        self.countsChanged.emit()

    # -- access ----------------------------------------------------------------
    @property
    def stored(self) -> int:
        return len(self._rows)

    def absolute_of(self, row: int) -> int | None:
        """The row's own number (it names the row until a clear, whatever the filter shows)."""
        if self._view is not None:
            return self._view[row] if 0 <= row < len(self._view) else None
        return self._base + row if 0 <= row < len(self._rows) else None

    def row_of(self, absolute: int) -> int | None:
        """Where the row numbered ``absolute`` is shown now (None: filtered out, or gone)."""
        if self._view is not None:
            i = bisect.bisect_left(self._view, absolute)
            return i if i < len(self._view) and self._view[i] == absolute else None
        i = absolute - self._base
        return i if 0 <= i < len(self._rows) else None

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
                self._previews.clear()
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
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.conn_title if section == CONN else COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        e = self.event_at(index.row())
        if e is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == PAYLOAD:
                return self.preview(index.row(), e)
            return self._display(e, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(e, col)
        if role == Qt.ItemDataRole.BackgroundRole and _leaks_session(e):
            return theme().brush("leak_background")
        if role == Qt.ItemDataRole.ForegroundRole:
            colour = _COLOURS.get(e.kind) or ("outgoing" if e.direction == "out" else None)
            return theme().brush(colour) if colour is not None else None
        if role == Qt.ItemDataRole.TextAlignmentRole and col in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _tooltip(self, e: Event, col: int) -> str | None:
        """What a cell's tooltip says beyond its text (the view shows cut text whole by itself)."""
        if col == PAYLOAD and e.meta.get("insecure"):
            return ("This connection does not verify the server's certificate (the insecure switch): anyone on the "
                    "path could have read or changed it.\n" + e.text()[:2000])
        if col == PAYLOAD and _leaks_session(e):
            return "This URL carries the session id (?sid=): it ends up in logs, history and Referer.\n" \
                + e.text()[:2000]
        if col == WIRE and type(e.meta.get("wire_read")) is int:
            return (f"≈ {e.wire} bytes: an even share of one read of {e.meta['wire_read']:,} bytes that carried "
                    "several events (the split is not exact)")
        if col == LATENCY and e.latency_ms is not None:
            return "the ping's round trip (the server gives no timestamp to measure one way)" \
                if e.meta.get("latency") == "rtt" else "one way: from the lab's timestamp to this row"
        return None

    def preview(self, row: int, e: Event | None = None) -> str:
        """The Payload column's text: a feed envelope's body, else the payload, on one line."""
        e = e if e is not None else self.event_at(row)
        if e is None:
            return ""
        key = self._absolute(row)
        text = self._previews.get(key)
        if text is None:
            text = self._previews[key] = _preview(e)
        return text

    def _absolute(self, row: int) -> int:
        return self._view[row] if self._view is not None else self._base + row

    def full_text(self, row: int, col: int) -> str:
        """A cell's whole text (the Payload column: the whole payload, up to 2 000 characters)."""
        e = self.event_at(row)
        if e is None:
            return ""
        if col == PAYLOAD:
            return ("0x" if isinstance(e.data, bytes) else "") + e.text()[:2000]
        return self._display(e, col)

    def _display(self, e: Event, col: int) -> str:
        if col == TIME:
            wall = self._wall0 + (e.t - self._mono0) / 1e9
            return time.strftime("%H:%M:%S", time.localtime(wall)) + f".{int(wall * 1000) % 1000:03d}"
        if col == CONN:
            return str(e.conn) if e.conn else ""
        if col == DIR:
            return _ARROWS.get(e.direction, e.direction)
        if col == KIND:
            return f"{e.transport} {e.kind}" if self.show_transport else e.kind
        if col == EVENT:
            name = e.meta.get("event") or e.meta.get("type")  # a Socket.IO event's name, an SSE event's type
            return name if isinstance(name, str) and e.kind in ("message", "emit") else ""
        if col == TOPIC:
            topic = e.meta.get("topic")
            return topic if isinstance(topic, str) else ""
        if col == SEQ:
            return "" if e.seq is None else str(e.seq)
        if col == SIZE:
            return str(e.size) if e.size else ""
        if col == WIRE:
            if e.wire is None:
                return ""
            return f"≈{e.wire}" if "wire_read" in e.meta else str(e.wire)
        if col == LATENCY:
            if e.latency_ms is None:
                return ""
            return f"{e.latency_ms:.2f}" + (" rtt" if e.meta.get("latency") == "rtt" else "")
        if col == PAYLOAD:
            return _preview(e)
        return ""
