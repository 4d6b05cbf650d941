"""Send text, JSON or binary (hex) over the open connection."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QPushButton, QWidget

from transport.errors import DuplexError


def parse_hex(text: str) -> bytes:
    cleaned = "".join(text.split()).removeprefix("0x")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise DuplexError("Binary messages are typed as hex bytes, e.g. 'de ad be ef'.") from None


class SendBox(QWidget):
    sendRequested = Signal(str, object)  # kind ("text", "json", "binary"), payload (str or bytes)
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = QComboBox()
        self.kind.addItem("Text", "text")
        self.kind.addItem("JSON", "json")
        self.kind.addItem("Binary (hex)", "binary")
        self.payload = QLineEdit(placeholderText='Message to send, e.g. {"topic": "chat", "body": "hello"}')
        self.send_button = QPushButton("Send")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.kind)
        layout.addWidget(self.payload, 1)
        layout.addWidget(self.send_button)
        self.send_button.clicked.connect(self._on_send)
        self.payload.returnPressed.connect(self._on_send)

    def _on_send(self) -> None:
        kind = self.kind.currentData()
        text = self.payload.text()
        try:
            payload: str | bytes = parse_hex(text) if kind == "binary" else text
        except DuplexError as err:
            self.failed.emit(err.sentence)
            return
        self.sendRequested.emit(kind, payload)
