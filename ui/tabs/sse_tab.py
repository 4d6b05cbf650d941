"""The SSE tab: an EventSource on the lab's /sse or any http(s) event stream."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (QCheckBox, QComboBox, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit,
                               QSizePolicy, QSpinBox, QVBoxLayout, QWidget)

from transport.clients.sse import DEFAULT_RETRY_MS
from transport.core.events import Event, EventSink

from ..controllers.tab import TabController
from ..widgets.connection_bar import ConnectionBar
from ..widgets.stream_checks import StreamChecks
from ..widgets.timeline import TimelineWidget
from .transport_tab import TransportTab


class SSETab(TransportTab):
    transport = "sse"

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None,
                 controller: TabController | None = None) -> None:
        super().__init__(sink, cap, parent, controller)
        self.checks = StreamChecks()
        self.checks.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)  # never squeezed
        self.side_layout.insertWidget(0, self.checks)
        self.max_event = QSpinBox(suffix=" MiB", minimum=1, maximum=1024, value=16)
        self.max_event.setToolTip("Largest event (data plus an unfinished line) the client reads; "
                                  "a larger one closes the stream with a clear error")
        self.bar.add_option("Max event", self.max_event)
        # a stream that answers a request with a body (an LLM API, MCP): what an EventSource cannot send
        self.method = QComboBox()
        self.method.addItems(["GET", "POST"])
        self.method.setToolTip("POST: send a body and read the answer's stream (OpenAI-style chat completions, "
                               "MCP streamable HTTP); a browser's EventSource can only GET")
        self.body = QLineEdit(placeholderText='POST body, e.g. {"messages": [{"role": "user", "content": "hi"}], '
                                              '"stream": true}')
        self.content_type = QLineEdit("application/json")
        self.content_type.setMaximumWidth(150)
        self.retry_post = QCheckBox("Retry POST")
        self.retry_post.setToolTip("A POST is not idempotent: its stream is not sent again when it ends, unless this "
                                   "is ticked")
        self.bar.add_option("Method", self.method)
        self.post_row = QWidget()  # the body line: shown for POST only
        row = QHBoxLayout(self.post_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Body"))
        row.addWidget(self.body, 1)
        row.addWidget(QLabel("Content-Type"))
        row.addWidget(self.content_type)
        row.addWidget(self.retry_post)
        self.layout_.insertWidget(1, self.post_row)
        self.post_row.setVisible(False)
        self.method.currentTextChanged.connect(lambda m: self.post_row.setVisible(m != "GET"))
        self.text_box = QGroupBox("Text: the answer so far (choices[0].delta.content)")
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setMaximumBlockCount(10_000)
        QVBoxLayout(self.text_box).addWidget(self.text)
        self.side_layout.insertWidget(1, self.text_box)
        self.text_box.setVisible(False)
        self.checks.show_default_retry(DEFAULT_RETRY_MS)
        self.controller.clientStarted.connect(self._on_client_started)

    def _on_client_started(self) -> None:
        self.checks.reset()
        self.checks.show_default_retry(DEFAULT_RETRY_MS)

    def make_bar(self) -> ConnectionBar:
        return ConnectionBar(placeholder="http(s)://host:port/path of an event stream", subprotocols=False,
                             resume=False, server_retry=True)

    def make_timeline(self) -> TimelineWidget:
        return TimelineWidget(self.controller.model, event_types=True)

    def client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {**super().client_options(), "max_event_size": self.max_event.value() << 20}
        if self.method.currentText() != "GET":
            options.update(method=self.method.currentText(), body=self.body.text(),
                           content_type=self.content_type.text().strip() or "application/json",
                           retry_post=self.retry_post.isChecked())
        return options

    def on_events(self, events: list[Event]) -> None:
        self.checks.show_events(events)
        pieces: list[str] = []
        for e in events:
            if e.kind == "request" and e.direction == "out" and pieces == [] and "body_bytes" in e.meta:
                self.text.clear()  # a new POST: a new answer
            delta = e.meta.get("delta") if e.kind == "message" else None
            if isinstance(delta, str) and delta:
                pieces.append(delta)
        if pieces:
            self.text_box.setVisible(True)
            cursor = self.text.textCursor()
            cursor.movePosition(cursor.MoveOperation.End)
            cursor.insertText("".join(pieces))
        for e in events:
            if e.kind == "warning":
                self.controller.statusMessage.emit(f"SSE: {e.text()}")
