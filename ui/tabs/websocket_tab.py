"""The WebSocket tab: the shared transport tab plus a send box."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QWidget

from transport.clients.base import JsonSender
from transport.core.events import Event, EventSink

from ..controllers.tab import TabController
from ..widgets.send_box import SendBox
from ..workspace import SavedMessage
from .transport_tab import TransportTab


class WebSocketTab(TransportTab):
    transport = "websocket"

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None,
                 controller: TabController | None = None) -> None:
        super().__init__(sink, cap, parent, controller)
        self.send_box = SendBox()
        self.layout_.insertWidget(1, self.send_box)
        self.send_box.sendRequested.connect(self._on_send_box_send_requested)
        self.send_box.failed.connect(self.controller.report)
        self.timeline.can_resend = True
        self.timeline.resendRequested.connect(self._on_timeline_resend_requested)

    def client_options(self) -> dict[str, Any]:
        return {**super().client_options(), "subprotocols": self.bar.subprotocol_list(),
                "resume": self.bar.resume.isChecked()}

    def _on_send_box_send_requested(self, kind: str, payload: str | bytes) -> None:
        client = self.controller.client
        if client is None or not client.connected:
            self.controller.report("Not connected: connect first, then send.")
            return
        if kind == "json" and isinstance(payload, str) and isinstance(client, JsonSender):
            self.controller.spawn(client.send_json(payload))
        else:
            self.controller.spawn(client.send(payload))

    def saved_messages(self) -> list[SavedMessage]:
        return self.send_box.saved_messages()

    def set_saved_messages(self, messages: list[SavedMessage]) -> None:
        self.send_box.set_saved(messages)

    def _on_timeline_resend_requested(self, e: Event) -> None:
        """An outgoing row sent again, as it was (text or binary)."""
        client = self.controller.client
        if client is None or not client.connected:
            self.controller.report("Not connected: connect first, then resend.")
            return
        if e.data is not None:
            self.controller.spawn(client.send(e.data))
