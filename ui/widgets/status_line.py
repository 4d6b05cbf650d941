"""A tab's own status line: its last sentence, with the time it was said; the recent ones in the tooltip."""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy, QWidget

from .elided_label import ElidedLabel

KEEP = 20  # sentences kept for the tooltip


class StatusLine(ElidedLabel):
    """A long sentence is elided with "…" at the window's edge; the tooltip has it whole, and the recent ones."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._said: deque[str] = deque(maxlen=KEEP)

    def say(self, sentence: str) -> None:
        line = f"{time.strftime('%H:%M:%S')}  {sentence}"
        self._said.append(line)
        earlier = list(reversed(self._said))[1:]
        self.set_full_text(line, "\n".join(["earlier:", *earlier]) if earlier else "")

    @property
    def said(self) -> list[str]:
        """The recent sentences, oldest first."""
        return list(self._said)
