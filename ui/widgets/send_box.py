"""Send text, JSON or binary (hex) over the open connection; keep messages to send again (the workspace's
saved messages: pick one, edit it, Send)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QPushButton, QWidget

from transport.core.errors import DuplexError

from ..workspace import SavedMessage

NAME_CHARS = 40  # a saved message is named after its start


def parse_hex(text: str) -> bytes:
    cleaned = "".join(text.split()).removeprefix("0x")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise DuplexError("Binary messages are typed as hex bytes, e.g. 'de ad be ef'.") from None


class SendBox(QWidget):
    sendRequested = Signal(str, object)  # kind ("text", "json", "binary"), payload (str or bytes)
    failed = Signal(str)
    savedChanged = Signal()  # a message was saved or removed (the workspace has changed)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = QComboBox()
        self.kind.addItem("Text", "text")
        self.kind.addItem("JSON", "json")
        self.kind.addItem("Binary (hex)", "binary")
        self.payload = QLineEdit(placeholderText='Message to send, e.g. {"topic": "chat", "body": "hello"}')
        self.send_button = QPushButton("Send")
        self.saved = QComboBox()
        self.saved.setToolTip("Saved messages (kept in the workspace): pick one, edit it, Send")
        self.saved.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.saved.setMinimumContentsLength(10)
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("Keep this message in the saved list (File → Save workspace writes it)")
        self._messages: list[SavedMessage] = []
        self._fill_saved()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.kind)
        layout.addWidget(self.saved)
        layout.addWidget(self.payload, 1)
        layout.addWidget(self.save_button)
        layout.addWidget(self.send_button)
        self.saved.activated.connect(self._on_saved_activated)
        self.save_button.clicked.connect(self._on_save_clicked)
        self.send_button.clicked.connect(self._on_send)
        self.payload.returnPressed.connect(self._on_send)

    # -- saved messages ---------------------------------------------------------------------------
    def saved_messages(self) -> list[SavedMessage]:
        return list(self._messages)

    def set_saved(self, messages: list[SavedMessage]) -> None:
        self._messages = list(messages)
        self._fill_saved()

    def _fill_saved(self) -> None:
        self.saved.clear()
        self.saved.addItem(f"Saved ({len(self._messages)})" if self._messages else "Saved: none", None)
        for i, m in enumerate(self._messages):
            self.saved.addItem(m.name, i)
            self.saved.setItemData(i + 1, m.payload[:500], Qt.ItemDataRole.ToolTipRole)
        self.saved.setCurrentIndex(0)

    def _on_saved_activated(self, index: int) -> None:
        i = self.saved.itemData(index)
        if i is None:
            return
        m = self._messages[i]
        self.kind.setCurrentIndex(max(0, self.kind.findData(m.kind)))
        self.payload.setText(m.payload)
        self.payload.setFocus()
        self.saved.setCurrentIndex(0)

    def _on_save_clicked(self) -> None:
        text = self.payload.text()
        if not text:
            self.failed.emit("Type a message first, then Save keeps it.")
            return
        kind = self.kind.currentData()
        if any(m.payload == text and m.kind == kind for m in self._messages):
            return
        name = text if len(text) <= NAME_CHARS else text[:NAME_CHARS - 1] + "…"
        self._messages.append(SavedMessage(name, text, kind))
        self._fill_saved()
        self.savedChanged.emit()

    def _on_send(self) -> None:
        kind = self.kind.currentData()
        text = self.payload.text()
        try:
            payload: str | bytes = parse_hex(text) if kind == "binary" else text
        except DuplexError as err:
            self.failed.emit(err.sentence)
            return
        self.sendRequested.emit(kind, payload)
