"""The detail pane: one event's payload as pretty JSON, raw text, hex, and its record."""

from __future__ import annotations

import json

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QTabWidget, QWidget

from transport.core.events import Event

MAX_SHOWN = 1 << 20  # a detail view never renders more than 1 MiB


def pretty(event: Event) -> str:
    if event.data is None:
        return ""
    if isinstance(event.data, bytes):
        return "(binary payload: see Hex)"
    try:
        return json.dumps(json.loads(event.data), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python's parser goes: as sent
        return event.data


def hexdump(data: bytes, limit: int = MAX_SHOWN) -> str:
    lines = []
    for off in range(0, min(len(data), limit), 16):
        chunk = data[off:off + 16]
        hexpart = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{off:08x}  {hexpart:<47}  {text}")
    if len(data) > limit:
        lines.append(f"… {len(data) - limit} more bytes")
    return "\n".join(lines)


def record(event: Event) -> str:
    d = event.to_dict()
    d.pop("data", None)
    text = json.dumps(d, indent=2, default=str)
    read = event.meta.get("wire_read")
    if read is not None:
        text = (f"wire ≈ {event.wire}: an even share of one read of {read:,} bytes that carried several "
                "events; the split is not exact.\n\n") + text
    return text


class DetailPane(QTabWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.pretty = self._page("Pretty", mono)
        self.raw = self._page("Raw", mono)
        self.hex = self._page("Hex", mono)
        self.meta = self._page("Record", mono)

    def _page(self, title: str, font: QFont) -> QPlainTextEdit:
        edit = QPlainTextEdit()
        edit.setReadOnly(True)
        edit.setFont(font)
        edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.addTab(edit, title)
        return edit

    def show_event(self, event: Event | None) -> None:
        if event is None:
            for page in (self.pretty, self.raw, self.hex, self.meta):
                page.clear()
            return
        raw_bytes = event.data if isinstance(event.data, bytes) else (event.data or "").encode()
        self.pretty.setPlainText(pretty(event)[:MAX_SHOWN])
        self.raw.setPlainText(event.text()[:MAX_SHOWN] if isinstance(event.data, str) else
                              "(binary payload: see Hex)")
        self.hex.setPlainText(hexdump(raw_bytes))
        self.meta.setPlainText(record(event))
        if isinstance(event.data, bytes):
            self.setCurrentWidget(self.hex)
