"""A tab's own status line: its last sentence, with the time it was said; the recent ones in the tooltip."""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

KEEP = 20  # sentences kept for the tooltip


class StatusLine(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # long sentences are cut
        self._said: deque[str] = deque(maxlen=KEEP)

    def say(self, sentence: str) -> None:
        line = f"{time.strftime('%H:%M:%S')}  {sentence}"
        self._said.append(line)
        self.setText(line)
        self.setToolTip("\n".join(reversed(self._said)))

    @property
    def said(self) -> list[str]:
        """The recent sentences, oldest first."""
        return list(self._said)
