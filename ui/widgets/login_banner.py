"""A tab's banner when its session expired and the user chose to be asked: non-modal, one per tab."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class LoginBanner(QFrame):
    loginClicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("login_banner")
        self.setStyleSheet("#login_banner { background: #fff3cd; border: 1px solid #e0b84c; border-radius: 3px; }")
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

    def ask(self, sentence: str) -> None:
        self.text.setText(sentence)
        self.show()
