"""A tab's banner when its session expired and the user chose to be asked: non-modal, one per tab."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from ..theme import theme


class LoginBanner(QFrame):
    loginClicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("login_banner")
        self._paint()
        theme().changed.connect(self._paint)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.login_button = QPushButton("Log in again")
        self.dismiss_button = QPushButton("Dismiss")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.text, 1)
        row.addWidget(self.login_button)
        row.addWidget(self.dismiss_button)
        self.login_button.clicked.connect(self.loginClicked)
        self.dismiss_button.clicked.connect(self.hide)
        self.hide()

    def _paint(self, *_args: object) -> None:
        t = theme()
        self.setStyleSheet(f"#login_banner {{ background: {t.hex('banner_background')}; "
                           f"border: 1px solid {t.hex('banner_border')}; border-radius: 3px; }}")

    def ask(self, sentence: str) -> None:
        self.text.setText(sentence)
        self.show()
