"""The polling family's tabs: short polling, long polling, HTTP streaming."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QWidget)

from transport.core.events import Event, EventSink

from ..controllers.tab import TabController
from ..widgets.connection_bar import ConnectionBar
from ..widgets.wire_panel import WirePanel
from .transport_tab import TransportTab


class FeedTab(TransportTab):
    """A transport tab with a wire panel."""

    timing = ""

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None,
                 controller: TabController | None = None) -> None:
        super().__init__(sink, cap, parent, controller)
        self.wire = WirePanel(self.timing)
        self.side_layout.insertWidget(0, self.wire)
        self._shown_stats: Any = None

    def make_bar(self) -> ConnectionBar:
        bar = ConnectionBar(placeholder=f"http(s)://host:port{self.controller.info.lab_path}", subprotocols=False,
                            resume=False)
        bar.policy.setToolTip("How to retry after a failure; the client always resumes from its last seq")
        return bar

    def on_events(self, events: list[Event]) -> None:
        client = self.controller.client
        if client is not None:
            self._shown_stats = client.stats  # after the client ends, its last figures stay
        if self._shown_stats is not None:
            self.wire.show_stats(self._shown_stats)


class ShortPollTab(FeedTab):
    transport = "short_poll"
    timing = "staleness"

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None,
                 controller: TabController | None = None) -> None:
        super().__init__(sink, cap, parent, controller)
        self.interval = QDoubleSpinBox(suffix=" s", decimals=2, minimum=0.05, maximum=600.0, value=1.0)
        self.interval.setToolTip("Time between the starts of two polls; messages wait half of it on average")
        self.bar.add_option("Poll every", self.interval)
        self.conditional = QCheckBox("Conditional requests")
        self.conditional.setToolTip("Ask again with If-None-Match (the last answer's ETag): a server with nothing "
                                    "new answers 304 Not Modified with no body (a row of its own, its bytes counted)")
        self.bar.add_option("", self.conditional)

    def client_options(self) -> dict[str, Any]:
        return {**super().client_options(), "interval": float(self.interval.value()),
                "conditional": self.conditional.isChecked()}

    def tab_options(self) -> dict[str, str | bool]:
        return {"conditional": self.conditional.isChecked()}

    def set_tab_options(self, options: dict[str, str | bool]) -> None:
        if isinstance(options.get("conditional"), bool):
            self.conditional.setChecked(bool(options["conditional"]))


class LongPollTab(FeedTab):
    transport = "long_poll"
    timing = "hold"

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None,
                 controller: TabController | None = None) -> None:
        super().__init__(sink, cap, parent, controller)
        self.hold = QDoubleSpinBox(suffix=" s", decimals=1, minimum=0.0, maximum=120.0, value=25.0)
        self.hold.setToolTip("How long the server may hold a request before answering [] (?timeout=)")
        self.bar.add_option("Hold up to", self.hold)

    def client_options(self) -> dict[str, Any]:
        return {**super().client_options(), "hold": float(self.hold.value())}


class StreamTab(FeedTab):
    transport = "stream"
    timing = "chunks"

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None,
                 controller: TabController | None = None) -> None:
        super().__init__(sink, cap, parent, controller)
        self.method = QComboBox()
        self.method.addItems(["GET", "POST"])
        self.method.setToolTip("POST: send a body and read the NDJSON stream that answers it")
        self.body = QLineEdit(placeholderText="POST body")
        self.content_type = QLineEdit("application/json")
        self.content_type.setMaximumWidth(150)
        self.retry_post = QCheckBox("Retry POST")
        self.retry_post.setToolTip("A POST is not idempotent: it is not sent again when its stream ends, unless this "
                                   "is ticked")
        self.bar.add_option("Method", self.method)
        self.post_row = QWidget()
        row = QHBoxLayout(self.post_row)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (QLabel("Body"), self.body, QLabel("Content-Type"), self.content_type, self.retry_post):
            row.addWidget(widget, 1 if widget is self.body else 0)
        self.layout_.insertWidget(1, self.post_row)
        self.post_row.setVisible(False)
        self.method.currentTextChanged.connect(lambda m: self.post_row.setVisible(m != "GET"))
        self.open_in_sse = QPushButton("Open in the SSE tab")
        self.open_in_sse.setToolTip("The server answered an event stream: the SSE tab reads it (the same URL, "
                                    "method, body and content type)")
        self.open_in_sse.hide()
        self.open_in_sse.clicked.connect(lambda: self.openInRequested.emit("sse", self.request_settings()))
        self.layout_.insertWidget(2, self.open_in_sse)

    def request_settings(self) -> dict[str, Any]:
        """What another tab needs to send the same request."""
        return {"url": self.bar.url_text(), "method": self.method.currentText(), "body": self.body.text(),
                "content_type": self.content_type.text()}

    def on_events(self, events: list[Event]) -> None:
        super().on_events(events)
        for e in events:
            if e.kind == "error" and e.meta.get("read_by") == "sse":
                self.open_in_sse.show()
            elif e.kind == "response" and e.direction == "in":
                self.open_in_sse.hide()

    def client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = super().client_options()
        if self.method.currentText() != "GET":
            options.update(method=self.method.currentText(), body=self.body.text(),
                           content_type=self.content_type.text().strip() or "application/json",
                           retry_post=self.retry_post.isChecked())
        return options
