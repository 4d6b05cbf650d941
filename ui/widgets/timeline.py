"""The timeline widget: filter, pause view, counters, table and detail pane."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QItemSelection, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QShowEvent
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMenu,
                               QPushButton, QSizePolicy, QSplitter, QTableView, QVBoxLayout, QWidget)

from transport.core.events import Event
from transport.core.rows import ALL_EVENTS, NAMED, UNNAMED

from ..models.timeline_model import COLUMNS, CONN, EVENT, TimelineModel
from ..theme import theme
from .detail import DetailPane
from .elided_label import ElidedLabel
from .row_menu import CutTextTips, build_row_menu, copy, payload_text
from .timeline_files import TimelineFiles

FILTER_TIP = ("Rows whose kind, event, seq, topic or payload contain the text (any case); /PATTERN/: a regular "
              "expression; topic:, event:, kind:, dir: and conn: keep exact matches (right-click a row to add one)")

ROW_HEIGHT = 20
WIDTHS = (96, 64, 84, 90, 70, 60, 60, 60, 84)  # every column but the last (Payload), which stretches


class TimelineWidget(QWidget):
    """``event_types``: offer a filter by event type (SSE), filled as types appear. ``event_names``: rows
    may carry an event's name (SSE, Socket.IO, a real browser, an import), so the Event column is shown
    (unless the user hid it); elsewhere it would stay empty and is not offered."""

    said = Signal(str)  # a sentence for the status bar (export and import)
    resendRequested = Signal(object)  # an outgoing row's Event, from the row menu (tabs that can send)
    columnsChanged = Signal(list)  # the hidden columns' names, after the user chose in the header's menu

    def __init__(self, model: TimelineModel | int = 1_000_000, parent: QWidget | None = None,
                 event_types: bool = False, event_names: bool | None = None) -> None:
        """``model``: the timeline's model (a tab's controller owns it), or a cap for a model of its own."""
        super().__init__(parent)
        self.model = model if isinstance(model, TimelineModel) else TimelineModel(model, self)
        self.type_filter: QComboBox | None = None
        self.event_names = event_types if event_names is None else event_names
        self.conn_column = False  # the Conn column: shown where rows come from several connections
        self._chosen_hidden: list[str] = []  # the user's choice, kept whole (Event too, where not offered)
        self._types: set[str] = set()
        if event_types:
            self.type_filter = QComboBox()
            self.type_filter.setToolTip("Show only events of one type: unnamed events reach onmessage "
                                        "(type message), named ones need addEventListener(type)")
            self.type_filter.addItem("All rows", None)
            self.type_filter.addItem("All events", ALL_EVENTS)
            self.type_filter.addItem("Named events (addEventListener)", NAMED)
            self.type_filter.addItem("Unnamed: message (onmessage)", UNNAMED)
            self._types.add(UNNAMED)
        self.filter_edit = QLineEdit(placeholderText="Filter: text, or topic:NAME event:NAME kind:KIND dir:out conn:N")
        self.filter_edit.setToolTip(FILTER_TIP)
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMinimumWidth(120)
        self.pause_button = QPushButton("Pause view")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Freeze the table; capture continues and the waiting rows are counted")
        self.clear_button = QPushButton("Clear")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the timeline as HAR 1.2 (opens in HAR viewers and DevTools) or JSON Lines")
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Show a Duplex HAR or JSON Lines file again, in a read-only tab of its own")
        self.received: int | None = None  # rows the bridge took for this timeline (the window sets it)
        self.files = TimelineFiles(self, self.model.snapshot, self.append_events, self.said.emit)
        self.counts = ElidedLabel()  # "received … · captured … · shown …": elided before the buttons, whole in the tooltip
        self.counts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        vh = self.table.verticalHeader()
        vh.setVisible(False)  # the default header makes every insert O(rows)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(ROW_HEIGHT)
        self.can_resend = False  # the tab sets it when it can send (the row menu offers Resend)
        self.table.setItemDelegate(CutTextTips(self.model.full_text, self.table))
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        hh = self.table.horizontalHeader()
        hh.setStretchLastSection(True)
        hh.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)  # the column chooser
        for col, width in enumerate(WIDTHS):
            self.table.setColumnWidth(col, width)
        self.table.setColumnHidden(EVENT, not self.event_names)
        self.table.setColumnHidden(CONN, True)
        self.detail = DetailPane()
        # Following (as in DevTools): the newest row stays in view. Selecting a row or scrolling up
        # pauses it (the button shows it); the button, the End key or scrolling to the bottom resume it.
        self._follow = True
        self.follow_button = QPushButton("Following newest")
        self.follow_button.setCheckable(True)
        self.follow_button.setChecked(True)
        self.follow_button.setToolTip("Keep the newest row in view (End). Selecting a row or scrolling up pauses it.")
        self.table.installEventFilter(self)  # End resumes following (before the table takes it as a move)
        self.filter_edit.installEventFilter(self)  # End there resumes following too

        # Three short lines, not one long one: at the window's minimum size (900×600) the timeline
        # gets ~430 px beside its panels, and one line of every control overlapped.
        find = QHBoxLayout()
        find.addWidget(self.filter_edit, 1)
        if self.type_filter is not None:
            self.type_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            self.type_filter.setMinimumContentsLength(12)
            find.addWidget(self.type_filter)
        bar = QHBoxLayout()
        bar.addWidget(self.pause_button)
        bar.addWidget(self.clear_button)
        bar.addWidget(self.export_button)
        bar.addWidget(self.import_button)
        bar.addStretch(1)
        split = QSplitter(Qt.Orientation.Vertical)  # drag the handle: the detail pane grows to most of it
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        self.table.setMinimumHeight(3 * ROW_HEIGHT)
        self.split = split
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(find)
        layout.addLayout(bar)
        line = QHBoxLayout()  # the counts grow: they may be cut (the whole line is their tooltip)
        self.counts.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        line.addWidget(self.counts, 1)
        line.addWidget(self.follow_button)
        layout.addLayout(line)
        layout.addWidget(split, 1)
        self._connect_signals()
        self._update_counts()

    def _connect_signals(self) -> None:
        self.filter_edit.textChanged.connect(self._on_filter_edit_text_changed)
        self.pause_button.toggled.connect(self._on_pause_button_toggled)
        self.clear_button.clicked.connect(self.model.clear)
        self.export_button.clicked.connect(self.files.ask_export)
        self.import_button.clicked.connect(self.files.ask_import)
        self.model.countsChanged.connect(self._update_counts)
        self.model.rowsInserted.connect(self._on_model_rows_inserted)
        self.model.modelReset.connect(self._on_model_reset)
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection_changed)
        self.table.verticalScrollBar().actionTriggered.connect(self._on_scroll_bar_action_triggered)
        self.follow_button.toggled.connect(self._on_follow_button_toggled)
        self.table.customContextMenuRequested.connect(self._on_table_context_menu)
        theme().changed.connect(self._on_theme_changed)
        self.table.horizontalHeader().customContextMenuRequested.connect(self._on_header_context_menu)

        if self.type_filter is not None:
            self.type_filter.currentIndexChanged.connect(self._on_type_filter_current_index_changed)

    def _on_theme_changed(self, _name: str) -> None:
        self.table.viewport().update()  # rows take their colours from the theme when painted

    # -- the row menu, the filter and the columns -----------------------------------------------
    def row_menu(self, row: int) -> QMenu | None:
        """The context menu of the row at ``row`` (None: no such row)."""
        e = self.model.event_at(row)
        if e is None:
            return None
        return build_row_menu(e, self, self.add_filter, self.resendRequested.emit if self.can_resend else None)

    def _on_table_context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        menu = self.row_menu(index.row()) if index.isValid() else None
        if menu is not None:
            menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one menu per right-click: gone when closed
            menu.popup(self.table.viewport().mapToGlobal(pos))

    def add_filter(self, qualifier: str) -> None:
        """Narrow the filter by ``topic:…``, ``kind:…`` or ``conn:…`` (one of a kind: it replaces its like)."""
        key = qualifier.partition(":")[0] + ":"
        words = [w for w in self.filter_edit.text().split(" ") if w and not w.lower().startswith(key)]
        self.filter_edit.setText(" ".join(words + [qualifier]))

    def copy_selected(self) -> bool:
        """The selected row's payload to the clipboard (False: no row is selected)."""
        rows = self.table.selectionModel().selectedRows()
        e = self.model.event_at(rows[0].row()) if rows else None
        if e is None:
            return False
        copy(payload_text(e))
        return True

    def focus_filter(self) -> None:
        """Find: the filter box, its text selected to type over."""
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def columns_menu(self, parent: QWidget | None = None) -> QMenu:
        """A checkable entry per column (Payload stays): the header's right-click and View → Columns."""
        menu = QMenu("Columns", parent or self)
        for col, name in enumerate(COLUMNS[:-1]):
            if not self._offered(col):
                continue
            action = menu.addAction(str(self.model.headerData(col, Qt.Orientation.Horizontal)))
            action.setCheckable(True)
            action.setChecked(not self.table.isColumnHidden(col))
            action.setToolTip(str(self.model.headerData(col, Qt.Orientation.Horizontal,
                                                        Qt.ItemDataRole.ToolTipRole)))
            action.toggled.connect(lambda on, c=col: self._choose_column(c, on))
        return menu

    def _on_header_context_menu(self, pos: QPoint) -> None:
        menu = self.columns_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.table.horizontalHeader().mapToGlobal(pos))

    def _choose_column(self, col: int, shown: bool) -> None:
        self.table.setColumnHidden(col, not shown)
        self.columnsChanged.emit(self.hidden_columns())

    def hidden_columns(self) -> list[str]:
        """The columns the user hid (Event as last chosen where this timeline does not offer it)."""
        return [name for col, name in enumerate(COLUMNS)
                if (self.table.isColumnHidden(col) if self._offered(col) else name in self._chosen_hidden)]

    def set_hidden_columns(self, names: list[str]) -> None:
        self._chosen_hidden = list(names)
        for col, name in enumerate(COLUMNS[:-1]):
            self.table.setColumnHidden(col, name in names or not self._offered(col))

    def _offered(self, col: int) -> bool:
        """Event where rows can have a name; Conn where rows come from several connections (the
        browser's tabs)."""
        return (col != EVENT or self.event_names) and (col != CONN or self.conn_column)

    def show_conn_column(self, shown: bool) -> None:
        """The Conn (Tab) column, when the rows come from several connections."""
        if shown != self.conn_column:
            self.conn_column = shown
            self.set_hidden_columns(self._chosen_hidden)

    def append_events(self, events: list[Event]) -> None:
        """Rows into the model (an import), the event types learnt."""
        self.learn(events)
        self.model.append_events(events)

    def learn(self, events: list[Event]) -> None:
        """The type filter offers every event type seen (rows the model already took)."""
        if self.type_filter is None:
            return
        for e in events:
            t = e.meta.get("type") if e.kind == "message" else None
            if t is not None and t not in self._types:
                self._types.add(t)
                assert self.type_filter is not None
                self.type_filter.addItem(f"Named: {t}", t)

    def set_type_filter(self, wanted: str | None) -> None:
        if self.type_filter is not None:
            idx = self.type_filter.findData(wanted)
            if idx >= 0:
                self.type_filter.setCurrentIndex(idx)

    def _on_type_filter_current_index_changed(self, _index: int) -> None:
        assert self.type_filter is not None
        kept = self._selected_row()
        self.model.set_type_filter(self.type_filter.currentData())
        self._reselect(kept)

    def _on_filter_edit_text_changed(self, text: str) -> None:
        kept = self._selected_row()
        self.model.set_filter(text)
        problem = self.model.filter_problem
        self.filter_edit.setToolTip(problem or FILTER_TIP)
        self.filter_edit.setStyleSheet(f"color: {theme().hex('error')}" if problem else "")
        self._reselect(kept)

    def _selected_row(self) -> int | None:
        """The selected row's own number, to find it again once the filter changed."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.absolute_of(rows[0].row()) if rows else None

    def _reselect(self, absolute: int | None) -> None:
        """A filter changed: the row that was selected stays selected and in view when it still matches."""
        row = self.model.row_of(absolute) if absolute is not None else None
        if row is None:
            return
        index = self.model.index(row, 0)
        self.table.selectRow(row)
        self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    def _on_pause_button_toggled(self, paused: bool) -> None:
        self.model.set_paused(paused)
        self.pause_button.setText("Resume view" if paused else "Pause view")

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self._follow:  # rows that arrived while the tab was hidden
            self.table.scrollToBottom()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if watched is self.table and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress \
                and event.key() == Qt.Key.Key_End:
            self.set_following(True)
            return True
        if watched is self.filter_edit and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress \
                and event.key() == Qt.Key.Key_End and not event.modifiers():
            self.set_following(True)  # and the cursor goes to the end of the text, as End does in a text box
        return super().eventFilter(watched, event)

    # -- following ------------------------------------------------------------------------------
    @property
    def following(self) -> bool:
        return self._follow

    def set_following(self, on: bool) -> None:
        """Follow the newest row (and go to it now), or stay where the view is."""
        self._follow = on
        if self.follow_button.isChecked() != on:
            self.follow_button.blockSignals(True)
            self.follow_button.setChecked(on)
            self.follow_button.blockSignals(False)
        self.follow_button.setText("Following newest" if on else "Follow newest (End)")
        if on:
            self.table.scrollToBottom()

    def _on_follow_button_toggled(self, on: bool) -> None:
        self.set_following(on)

    def _on_scroll_bar_action_triggered(self, _action: int) -> None:
        """The user scrolled (wheel, keys, drag): up pauses following, down to the end resumes it."""
        bar = self.table.verticalScrollBar()
        at_end = bar.sliderPosition() >= bar.maximum() - 1
        if at_end != self._follow:
            self.set_following(at_end)

    def _on_model_rows_inserted(self, *_args: object) -> None:
        if self._follow:
            self.table.scrollToBottom()

    def _on_model_reset(self) -> None:
        """A filter changed (or the timeline was cleared): a following view stays at the newest row."""
        self.detail.show_event(None)
        if self._follow:
            QTimer.singleShot(0, self._scroll_if_following)  # once the view has laid out the new rows

    def _scroll_if_following(self) -> None:
        if self._follow:
            self.table.scrollToBottom()

    def _on_table_selection_changed(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = selected.indexes()
        self.detail.show_event(self.model.event_at(rows[0].row()) if rows else None)
        if rows and self._follow:  # a row chosen: it stays where it is
            self.set_following(False)

    def _update_counts(self) -> None:
        m = self.model
        text = f"received {self.received:,} · " if self.received is not None else ""
        text += f"captured {m.captured:,} · shown {m.rowCount():,}"
        if m.filter_text or m.type_filter is not None:
            text += f" of {m.stored:,}"
        if m.paused:
            text += f" · <b>{m.waiting:,} waiting</b>"
        self.counts.set_full_text(text)
        self.counts.setToolTip(text)
