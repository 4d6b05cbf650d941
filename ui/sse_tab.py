"""The SSE tab: an EventSource on the lab's /sse or any http(s) event stream."""

from __future__ import annotations

from urllib.parse import urlsplit

from PySide6.QtWidgets import QSpinBox, QWidget

from transport.clients.sse import SSEClient, SSEOptions
from transport.events import Event, EventSink

from .connection_bar import ConnectionBar
from .stream_checks import StreamChecks
from .timeline import TimelineWidget
from .transport_tab import TransportTab


def lab_sse_url(lab_url: str) -> str:
    parts = urlsplit(lab_url)
    return f"{parts.scheme}://{parts.netloc}/sse"


class SSETab(TransportTab):
    transport = "sse"
    title = "SSE"

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None) -> None:
        super().__init__(sink, cap, parent)
        self.checks = StreamChecks()
        self.side.layout().insertWidget(0, self.checks)
        self.max_event = QSpinBox(suffix=" MiB", minimum=1, maximum=1024, value=16)
        self.max_event.setToolTip("Largest event (data plus an unfinished line) the client reads; "
                                  "a larger one closes the stream with a clear error")
        self.bar.add_option("Max event", self.max_event)

    def make_bar(self) -> ConnectionBar:
        return ConnectionBar(placeholder="http(s)://host:port/path of an event stream", subprotocols=False,
                             resume=False, server_retry=True)

    def make_timeline(self, cap: int) -> TimelineWidget:
        return TimelineWidget(cap, event_types=True)

    def lab_endpoint(self, lab_url: str) -> str:
        return lab_sse_url(lab_url)

    def make_client(self, sink: EventSink | None = None) -> SSEClient:
        client = SSEClient(SSEOptions(
            url=self.target_url(),
            headers=self.bar.header_pairs(),
            policy=self.bar.reconnect_policy(),
            max_event_size=self.max_event.value() << 20,
            browser=self.browser,
        ), sink or self._sink)
        self.checks.show_default_retry(client.options.default_retry_ms)
        return client

    def on_events(self, events: list[Event]) -> None:
        self.checks.show_events(events)
        for e in events:
            if e.kind == "warning":
                self.statusMessage.emit(f"SSE: {e.data}")
