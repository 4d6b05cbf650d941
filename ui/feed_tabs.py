"""The polling family's tabs: short polling, long polling, HTTP streaming."""

from __future__ import annotations

from urllib.parse import urlsplit

from PySide6.QtWidgets import QDoubleSpinBox, QWidget

from transport.clients.feed_http import FeedOptions, HttpFeedClient
from transport.clients.polling import LongPollClient, ShortPollClient
from transport.clients.stream import StreamClient
from transport.events import Event, EventSink

from .connection_bar import ConnectionBar
from .transport_tab import TransportTab
from .wire_panel import WirePanel


class FeedTab(TransportTab):
    """A transport tab with a wire panel; subclasses name the path and build the client."""

    path = ""
    timing = ""

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None) -> None:
        super().__init__(sink, cap, parent)
        self.wire = WirePanel(self.timing)
        self.side.layout().insertWidget(0, self.wire)
        self._shown_client: HttpFeedClient | None = None

    def make_bar(self) -> ConnectionBar:
        bar = ConnectionBar(placeholder=f"http(s)://host:port{self.path}", subprotocols=False, resume=False)
        bar.policy.setToolTip("How to retry after a failure; the client always resumes from its last seq")
        return bar

    def lab_endpoint(self, lab_url: str) -> str:
        parts = urlsplit(lab_url)
        return f"{parts.scheme}://{parts.netloc}{self.path}"

    def options(self) -> FeedOptions:
        policy = self.bar.reconnect_policy()
        assert policy is not None
        return FeedOptions(url=self.target_url(), headers=self.bar.header_pairs(), policy=policy,
                           browser=self.browser)

    def on_events(self, events: list[Event]) -> None:
        client = self.client if self.client is not None else self._shown_client
        if client is not None:
            self._shown_client = client
            self.wire.show_stats(client.stats)


class ShortPollTab(FeedTab):
    transport = "short_poll"
    title = "Short polling"
    path = "/api/poll"
    timing = "staleness"

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None) -> None:
        super().__init__(sink, cap, parent)
        self.interval = QDoubleSpinBox(suffix=" s", decimals=2, minimum=0.05, maximum=600.0, value=1.0)
        self.interval.setToolTip("Time between the starts of two polls; messages wait half of it on average")
        self.bar.add_option("Poll every", self.interval)

    def make_client(self, sink: EventSink | None = None) -> ShortPollClient:
        options = self.options()
        options.interval = float(self.interval.value())
        return ShortPollClient(options, sink or self._sink)


class LongPollTab(FeedTab):
    transport = "long_poll"
    title = "Long polling"
    path = "/api/longpoll"
    timing = "hold"

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None) -> None:
        super().__init__(sink, cap, parent)
        self.hold = QDoubleSpinBox(suffix=" s", decimals=1, minimum=0.0, maximum=120.0, value=25.0)
        self.hold.setToolTip("How long the server may hold a request before answering [] (?timeout=)")
        self.bar.add_option("Hold up to", self.hold)

    def make_client(self, sink: EventSink | None = None) -> LongPollClient:
        options = self.options()
        options.hold = float(self.hold.value())
        return LongPollClient(options, sink or self._sink)


class StreamTab(FeedTab):
    transport = "stream"
    title = "HTTP streaming"
    path = "/api/stream"
    timing = "chunks"

    def make_client(self, sink: EventSink | None = None) -> StreamClient:
        return StreamClient(self.options(), sink or self._sink)
