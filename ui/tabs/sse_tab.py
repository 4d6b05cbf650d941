"""The SSE tab: an EventSource on the lab's /sse or any http(s) event stream."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QSizePolicy, QSpinBox, QWidget

from transport.clients.sse import DEFAULT_RETRY_MS
from transport.events import Event, EventSink

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
        self.side.layout().insertWidget(0, self.checks)
        self.max_event = QSpinBox(suffix=" MiB", minimum=1, maximum=1024, value=16)
        self.max_event.setToolTip("Largest event (data plus an unfinished line) the client reads; "
                                  "a larger one closes the stream with a clear error")
        self.bar.add_option("Max event", self.max_event)
        self.checks.show_default_retry(DEFAULT_RETRY_MS)

    def make_bar(self) -> ConnectionBar:
        return ConnectionBar(placeholder="http(s)://host:port/path of an event stream", subprotocols=False,
                             resume=False, server_retry=True)

    def make_timeline(self) -> TimelineWidget:
        return TimelineWidget(self.controller.model, event_types=True)

    def client_options(self) -> dict[str, Any]:
        return {**super().client_options(), "max_event_size": self.max_event.value() << 20}

    def on_events(self, events: list[Event]) -> None:
        self.checks.show_events(events)
        for e in events:
            if e.kind == "warning":
                self.controller.statusMessage.emit(f"SSE: {e.data}")
