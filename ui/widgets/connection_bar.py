"""The connection bar: URL, headers, reconnect policy, connect, state, faults."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QSpinBox, QWidget)

from transport.clients.tls import ca_problem
from transport.core.backoff import Policy
from transport.core.errors import DuplexError

from ..theme import theme

STATE_LOOK = {
    "idle": ("idle", "idle"),
    "connecting": ("connecting", "connecting…"),
    "open": ("ok", "open"),
    "waiting": ("waiting", "reconnecting…"),
    "closed": ("idle", "closed"),
    "failed": ("error", "failed"),
}
MAX_RECENT = 12


def parse_headers(text: str) -> list[tuple[str, str]]:
    """``Name: value; Other: value`` → pairs; raise DuplexError on a malformed entry."""
    headers = []
    for part in text.split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition(":")
        name = name.strip()
        if not sep or not name or any(c in name for c in " \t"):
            raise DuplexError(f"Header {part.strip()!r} is not of the form 'Name: value'.")
        headers.append((name, value.strip()))
    return headers


class ConnectionBar(QWidget):
    connectRequested = Signal()
    urlEntered = Signal()  # Enter in the URL box: connect there (a new URL is a new connection)
    disconnectRequested = Signal()
    dropRequested = Signal()
    restartRequested = Signal(float)

    def __init__(self, parent: QWidget | None = None, *, placeholder: str = "ws://host:port/path or wss://…",
                 subprotocols: bool = True, resume: bool = True, server_retry: bool = False) -> None:
        super().__init__(parent)
        self.url = QComboBox(editable=True)
        self.url.setMinimumContentsLength(40)
        edit = self.url.lineEdit()
        assert edit is not None  # an editable combo box has its line edit
        edit.setPlaceholderText(placeholder)
        self.headers = QLineEdit(placeholderText="Extra headers: Name: value; Other: value")
        self.subprotocols = QLineEdit(placeholderText="Subprotocols: chat, v2")
        self.subprotocols.setVisible(subprotocols)
        self.ca_file = QLineEdit(placeholderText="CA file (PEM)")
        self.ca_file.setToolTip("https:// and wss://: trust this certificate authority (PEM) and nothing else; empty: "
                                "the system's (the TLS lab's own CA is trusted for its addresses by itself)")
        self.ca_file.setMaximumWidth(150)
        self.insecure = QCheckBox("Insecure")
        self.insecure.setToolTip("https:// and wss://: do not verify the server's certificate; every row of the "
                                 "connection says ⚠ TLS not verified")
        self.policy = QComboBox()
        if server_retry:
            self.policy.addItem("Server retry (EventSource)", "server")
            self.policy.setItemData(0, "The server's retry: field (default 3 s), growing while the server is "
                                       "down, as a browser's EventSource does", Qt.ItemDataRole.ToolTipRole)
        self.policy.addItem("Exponential + jitter", "exponential")
        self.policy.addItem("Fixed interval", "fixed")
        self.interval = QDoubleSpinBox(suffix=" s", decimals=1, minimum=0.1, maximum=60.0, value=1.0)
        self.interval.setToolTip("Fixed delay, or the first delay of the exponential policy "
                                 "(Socket.IO's defaults: 1 s doubling to 5 s, ±50 % jitter)")
        self.resume = QCheckBox("Resume (?after=)")
        self.resume.setChecked(True)
        self.resume.setToolTip("With the lab: reconnect with ?after=<last seq> so it replays what was missed "
                               "(another server resumes by the rule beside the ledger)")
        self.resume.setVisible(resume)
        self.connect_button = QPushButton("Connect")
        self.light = QLabel()
        self._state = "idle"
        theme().changed.connect(self._on_theme_changed)
        self.light.setObjectName("state_light")
        self.drop_button = QPushButton("Drop connection")
        self.drop_button.setToolTip("Abort the TCP connection now, without a close frame")
        self.restart_button = QPushButton("Restart server")
        self.restart_button.setToolTip("The lab server stops listening for the chosen seconds, then comes back")
        self.down_s = QSpinBox(suffix=" s down", minimum=0, maximum=300, value=3)

        row1 = QHBoxLayout()
        row1.addWidget(QLabel("URL"))
        row1.addWidget(self.url, 1)
        row1.addWidget(self.connect_button)
        row1.addWidget(self.light)
        row2 = self._options_row = QHBoxLayout()
        row2.addWidget(self.headers, 2)
        row2.addWidget(self.subprotocols, 1)
        row2.addWidget(self.ca_file, 1)
        row2.addWidget(self.insecure)
        row3 = QHBoxLayout()
        self._reconnect_label = QLabel("Reconnect")
        row3.addWidget(self._reconnect_label)
        row3.addWidget(self.policy)
        row3.addWidget(self.interval)
        row3.addWidget(self.resume)
        row3.addStretch(1)
        row3.addWidget(self.drop_button)
        row3.addWidget(self.restart_button)
        row3.addWidget(self.down_s)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addLayout(row1, 0, 0)
        grid.addLayout(row2, 1, 0)
        grid.addLayout(row3, 2, 0)
        self._connected = False
        self.policy.currentIndexChanged.connect(self._on_policy_current_index_changed)
        self._on_policy_current_index_changed()
        self.connect_button.clicked.connect(self._on_connect_button_clicked)
        url_edit = self.url.lineEdit()
        if url_edit is not None:
            url_edit.returnPressed.connect(self.urlEntered)
        self.drop_button.clicked.connect(self.dropRequested)
        self.restart_button.clicked.connect(lambda: self.restartRequested.emit(float(self.down_s.value())))
        self.set_state("idle")
        self.restart_button.setEnabled(False)

    def hide_reconnect(self) -> None:
        """For a transport with no connection to keep (AJAX)."""
        for widget in (self._reconnect_label, self.policy, self.interval):
            widget.hide()

    def add_option(self, label: str, widget: QWidget) -> None:
        """A transport's own setting, on the row of the headers."""
        self._options_row.addWidget(QLabel(label))
        self._options_row.addWidget(widget)

    # -- reading the form ------------------------------------------------------
    def tls_options(self) -> dict[str, Any]:
        """The clients' TLS options (clients/tls.py); a CA file that cannot serve is one sentence."""
        path = self.ca_file.text().strip()
        if path and self.insecure.isChecked():
            raise DuplexError("A CA file verifies and Insecure verifies nothing: clear one of them.")
        if path:
            problem = ca_problem(path)
            if problem is not None:
                raise DuplexError(problem)
        return {"verify_tls": not self.insecure.isChecked(), "ca_file": path or None}

    def url_text(self) -> str:
        return self.url.currentText().strip()

    def header_pairs(self) -> list[tuple[str, str]]:
        return parse_headers(self.headers.text())

    def subprotocol_list(self) -> list[str]:
        return [p.strip() for p in self.subprotocols.text().split(",") if p.strip()]

    def reconnect_policy(self) -> Policy | None:
        """The chosen policy; None for the server's retry (EventSource behaviour)."""
        name = self.policy.currentData()
        if name == "server":
            return None
        return Policy(name, float(self.interval.value()), 5.0, 2.0, 0.5)

    # -- showing state ---------------------------------------------------------
    def _on_theme_changed(self, _name: str) -> None:
        self.set_state(self._state)

    def set_state(self, state: str) -> None:
        self._state = state
        colour, text = STATE_LOOK.get(state, ("idle", state))
        self.light.setText(f"<span style='color:{theme().hex(colour)}; font-size:16px'>●</span> {text}")
        self._connected = state in ("connecting", "open", "waiting")
        self.connect_button.setText("Disconnect" if self._connected else "Connect")
        self.drop_button.setEnabled(state == "open")

    # -- the form as a workspace keeps it ---------------------------------------------------------
    def form(self) -> dict:
        """What a workspace keeps of the bar: headers, subprotocols, the reconnect policy and resume."""
        return {"headers": self.header_pairs_or_none() or [],
                "subprotocols": self.subprotocol_list(),
                "policy": self.policy.currentData(), "interval_s": float(self.interval.value()),
                "resume": self.resume.isChecked(), "ca_file": self.ca_file.text().strip(),
                "insecure": self.insecure.isChecked()}

    def header_pairs_or_none(self) -> list[tuple[str, str]] | None:
        try:
            return self.header_pairs()
        except DuplexError:
            return None

    def set_form(self, headers: list[tuple[str, str]], subprotocols: list[str], policy: str,
                 interval_s: float, resume: bool) -> None:
        self.headers.setText("; ".join(f"{k}: {v}" for k, v in headers))
        self.subprotocols.setText(", ".join(subprotocols))
        index = self.policy.findData(policy)
        if index >= 0:  # a policy this transport does not offer (server retry elsewhere than SSE): kept as is
            self.policy.setCurrentIndex(index)
        self.interval.setValue(interval_s)
        self.resume.setChecked(resume)

    def remember_url(self, url: str) -> None:
        idx = self.url.findText(url)
        if idx >= 0:
            self.url.removeItem(idx)
        self.url.insertItem(0, url)
        self.url.setCurrentIndex(0)
        while self.url.count() > MAX_RECENT:
            self.url.removeItem(self.url.count() - 1)

    def recent_urls(self) -> list[str]:
        return [self.url.itemText(i) for i in range(self.url.count())]

    def _on_policy_current_index_changed(self, *_args: object) -> None:
        self.interval.setEnabled(self.policy.currentData() != "server")

    def _on_connect_button_clicked(self) -> None:
        if self._connected:
            self.disconnectRequested.emit()
        else:
            self.connectRequested.emit()
