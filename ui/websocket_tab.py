"""The WebSocket tab: the shared transport tab plus a send box."""

from __future__ import annotations

from urllib.parse import urlsplit

from PySide6.QtWidgets import QWidget

from transport.clients.websocket import WebSocketClient, WebSocketOptions
from transport.events import EventSink

from .connection_bar import ConnectionBar
from .send_box import SendBox
from .transport_tab import TransportTab


def lab_ws_url(lab_url: str) -> str:
    parts = urlsplit(lab_url)
    return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}/ws"


class WebSocketTab(TransportTab):
    transport = "websocket"
    title = "WebSocket"

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None) -> None:
        super().__init__(sink, cap, parent)
        self.send_box = SendBox()
        self.layout_.insertWidget(1, self.send_box)
        self.send_box.sendRequested.connect(self._on_send_box_send_requested)
        self.send_box.failed.connect(self.report)

    def make_bar(self) -> ConnectionBar:
        return ConnectionBar()

    def lab_endpoint(self, lab_url: str) -> str:
        return lab_ws_url(lab_url)

    def make_client(self, sink: EventSink | None = None) -> WebSocketClient:
        policy = self.bar.reconnect_policy()
        assert policy is not None  # the WebSocket bar offers no server-retry policy
        return WebSocketClient(WebSocketOptions(
            url=self.target_url(),
            headers=self.bar.header_pairs(),
            subprotocols=self.bar.subprotocol_list(),
            policy=policy,
            resume=self.bar.resume.isChecked(),
            browser=self.browser,
        ), sink or self._sink)

    def _on_send_box_send_requested(self, kind: str, payload: str | bytes) -> None:
        client = self.client
        if client is None or not client.connected:
            self.report("Not connected: connect first, then send.")
            return
        if kind == "binary":
            self._tasks.spawn(client.send_binary(payload))  # type: ignore[arg-type]
        elif kind == "json":
            self._tasks.spawn(client.send_json(payload))  # type: ignore[arg-type]
        else:
            self._tasks.spawn(client.send_text(payload))  # type: ignore[arg-type]
