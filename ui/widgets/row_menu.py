"""What a timeline row offers on right-click, and the tooltip that shows a cut cell whole.

The actions work on one :class:`Event` and say what they did through callbacks: the
timeline widget binds them (copy to the clipboard, a filter, a resend through its tab).
"""

from __future__ import annotations

import json
from typing import Callable

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex
from PySide6.QtGui import QGuiApplication, QHelpEvent
from PySide6.QtWidgets import (QAbstractItemView, QMenu, QStyledItemDelegate, QStyleOptionViewItem, QToolTip,
                               QWidget)

from transport.core.events import Event

from .detail import pretty


def payload_text(e: Event) -> str:
    if isinstance(e.data, bytes):
        return e.data.hex(" ")
    return e.data or ""


def json_line(e: Event) -> str:
    """The row as one JSON line, as File → Export writes JSON Lines."""
    return json.dumps(e.to_dict(), ensure_ascii=False, default=str)


def copy(text: str) -> None:
    QGuiApplication.clipboard().setText(text)


def build_row_menu(e: Event, parent: QWidget, add_filter: Callable[[str], None],
                   resend: Callable[[Event], None] | None) -> QMenu:
    """The menu for row ``e``: copy three ways, resend (an outgoing message), filter by its topic, event, kind or
    connection."""
    menu = QMenu(parent)
    menu.addAction("Copy payload", lambda: copy(payload_text(e)))
    pretty_action = menu.addAction("Copy as pretty JSON", lambda: copy(pretty(e)))
    pretty_action.setEnabled(isinstance(e.data, str) and pretty(e) != e.data)
    menu.addAction("Copy row as JSON line", lambda: copy(json_line(e)))
    if resend is not None and e.direction == "out" and e.data is not None:
        menu.addSeparator()
        menu.addAction("Resend", lambda: resend(e))
    menu.addSeparator()
    topic = e.meta.get("topic")
    if isinstance(topic, str) and topic and " " not in topic:
        menu.addAction(f"Filter by topic “{topic}”", lambda: add_filter(f"topic:{topic}"))
    event = (e.meta.get("event") or e.meta.get("type")) if e.kind == "message" else None
    if isinstance(event, str) and event and " " not in event:
        menu.addAction(f"Filter by event “{event}”", lambda: add_filter(f"event:{event}"))
    if " " not in e.kind:
        menu.addAction(f"Filter by kind “{e.kind}”", lambda: add_filter(f"kind:{e.kind}"))
    menu.addAction(f"Filter by connection #{e.conn}", lambda: add_filter(f"conn:{e.conn}"))
    return menu


class CutTextTips(QStyledItemDelegate):
    """A cell whose text is cut shows it whole as its tooltip (what the model's tooltip adds follows)."""

    def __init__(self, full_text: Callable[[int, int], str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.full_text = full_text

    def helpEvent(self, event: QHelpEvent, view: QAbstractItemView, option: QStyleOptionViewItem,  # noqa: N802
                  index: QModelIndex | QPersistentModelIndex) -> bool:
        if event is None or event.type() != QEvent.Type.ToolTip or not index.isValid():
            return super().helpEvent(event, view, option, index)
        shown = str(index.data() or "")
        whole = self.full_text(index.row(), index.column())
        room = option.rect.width() - 8  # the cell's margins
        cut = bool(whole) and (whole != shown or option.fontMetrics.horizontalAdvance(shown) > room)
        extra = index.data(3)  # Qt.ToolTipRole: what the model adds (a leaked session id, a shared read)
        parts = [p for p in ((whole if cut else ""), str(extra or "")) if p]
        if not parts:
            QToolTip.hideText()
            return True
        QToolTip.showText(event.globalPos(), "\n\n".join(dict.fromkeys(parts)), view)
        return True
