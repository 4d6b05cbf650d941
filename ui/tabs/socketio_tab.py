"""The Socket.IO tab: the shared transport tab (timeline, ledger, Faults and Session pages) with the
Socket.IO options (namespace, auth, transports) and a composer: event name, JSON arguments, ack."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from transport.clients.base import EventEmitter
from transport.core.errors import DuplexError
from transport.core.events import EventSink

from ..controllers.tab import TabController
from ..widgets.connection_bar import ConnectionBar
from ..widgets.timeline import TimelineWidget
from .transport_tab import TransportTab


def parse_args(text: str) -> list[Any]:
    """The composer's arguments: a JSON array, or one JSON value (one argument); empty: none."""
    text = text.strip()
    if not text:
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise DuplexError(f"The arguments are not JSON ({err.msg} at column {err.colno}): "
                          'write an array like ["hello", {"n": 1}] or one value.') from None
    return value if isinstance(value, list) else [value]


class SocketIOTab(TransportTab):
    transport = "socketio"

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None,
                 controller: TabController | None = None) -> None:
        super().__init__(sink, cap, parent, controller)
        self.namespace = QLineEdit("/")
        self.namespace.setMaximumWidth(90)
        self.namespace.setToolTip("The namespace to connect to")
        self.auth = QLineEdit(placeholderText='Auth (JSON), e.g. {"token": "…"}')
        self.auth.setToolTip("The CONNECT packet's auth payload (a lab also gets {after, epoch} when resuming)")
        self.modes = QComboBox()
        for title, mode in (("Polling, then WebSocket", "upgrade"), ("Polling only", "polling"),
                            ("WebSocket only", "websocket")):
            self.modes.addItem(title, mode)
        self.bar.add_option("Namespace", self.namespace)
        self.bar.add_option("Auth", self.auth)
        self.bar.add_option("Transports", self.modes)
        # the composer: event name + JSON arguments + ack
        self.event_name = QLineEdit("chat")
        self.event_name.setMaximumWidth(120)
        self.args = QLineEdit(placeholderText='Arguments (JSON), e.g. {"text": "hello"} or ["a", 1]')
        self.want_ack = QCheckBox("Ack")
        self.want_ack.setChecked(True)
        self.want_ack.setToolTip("Ask the server to acknowledge: its answer and the round trip are a row")
        self.emit_button = QPushButton("Emit")
        composer = QWidget()
        row = QHBoxLayout(composer)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Event"))
        row.addWidget(self.event_name)
        row.addWidget(self.args, 1)
        row.addWidget(self.want_ack)
        row.addWidget(self.emit_button)
        self.layout_.insertWidget(1, composer)
        self.emit_button.clicked.connect(self._on_emit)
        self.args.returnPressed.connect(self._on_emit)

    def make_timeline(self) -> TimelineWidget:
        return TimelineWidget(self.controller.model, event_names=True)  # the Event column: each event's name

    def make_bar(self) -> ConnectionBar:
        return ConnectionBar(placeholder="http(s)://host:port of a Socket.IO server", subprotocols=False,
                             resume=True)

    def tab_options(self) -> dict[str, str | bool]:
        return {"namespace": self.namespace.text(), "auth": self.auth.text(), "transports": str(self.modes.currentData())}

    def set_tab_options(self, options: dict[str, str | bool]) -> None:
        if isinstance(options.get("namespace"), str):
            self.namespace.setText(str(options["namespace"]))
        if isinstance(options.get("auth"), str):
            self.auth.setText(str(options["auth"]))
        index = self.modes.findData(options.get("transports"))
        if index >= 0:
            self.modes.setCurrentIndex(index)

    def client_options(self) -> dict[str, Any]:
        options = {**super().client_options(), "namespace": self.namespace.text().strip() or "/",
                   "transports": self.modes.currentData(), "resume": self.bar.resume.isChecked()}
        auth = self.auth.text().strip()
        if auth:
            try:
                value = json.loads(auth)
            except ValueError:
                raise DuplexError("The auth payload is not JSON: write an object like {\"token\": \"…\"}.") from None
            if not isinstance(value, dict):
                raise DuplexError("The auth payload must be a JSON object.")
            options["auth"] = value
        return options

    def _on_emit(self) -> None:
        client = self.controller.client
        if client is None or not client.connected or not isinstance(client, EventEmitter):
            self.controller.report("Not connected: connect first, then emit.")
            return
        name = self.event_name.text().strip()
        if not name:
            self.controller.report("Name the event to emit.")
            return
        try:
            args = parse_args(self.args.text())
        except DuplexError as err:
            self.controller.report(err.sentence)
            return

        async def emit() -> None:
            answer = await client.emit(name, args, ack=self.want_ack.isChecked())
            if answer is not None:
                self.controller.report(f"{name}: acknowledged with {json.dumps(answer)[:200]}")

        self.controller.spawn(emit())
