"""A fake client for widget tests: it honours the Client protocol and feeds the real receiver, with no
socket and no lab process; the test drives what it "receives"."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QObject

from transport.core.events import Event, EventSink
from transport.core.ledger import Ledger
from transport.core.receiver import FeedReceiver
from transport.clients.registry import TRANSPORTS, TransportInfo
from transport.core.wirestats import WireStats
from ui.bridge import EventBridge
from ui.controllers.tab import TabController


class FakeClient:
    made: list[FakeClient] = []  # every fake made, newest last

    def __init__(self, options: Any, sink: EventSink, transport: str) -> None:
        self.transport = transport
        self.options = options
        self.state = "idle"
        self.last_error = None
        self.stats = WireStats()
        self.receiver = FeedReceiver(transport, sink, one_way=True, stats=self.stats)
        self.receiver.note_epoch({"Duplex-Epoch": "fake"})  # it plays the lab: its envelope numbers its feed
        self.sent: list[str | bytes] = []
        self.compare: dict[str, Any] = {}  # AJAX: the last exchange of each kind
        self.dropped = 0
        self._sink = sink
        self._closed = asyncio.Event()
        FakeClient.made.append(self)

    @property
    def ledger(self) -> Ledger:
        return self.receiver.ledger

    @property
    def connected(self) -> bool:
        return self.state == "open"

    async def run(self) -> None:
        self.state = "open"
        self._sink(Event(self.transport, "state", "open", data=self.options.url))
        await self._closed.wait()
        self.state = "closed"
        self._sink(Event(self.transport, "state", "close", data="closed by user"))
        return None

    async def close(self) -> None:
        self._closed.set()

    def drop(self) -> bool:
        if self.state != "open":
            return False
        self.dropped += 1
        self._sink(Event(self.transport, "state", "fault", data="connection dropped", meta={"fault": "drop"}))
        self.receiver.connection_lost()
        return True

    async def send(self, payload: str | bytes) -> None:
        self.sent.append(payload)
        self._sink(Event(self.transport, "out", "message", data=payload))

    async def send_json(self, text: str) -> None:
        json.loads(text)
        await self.send(text)

    def use_policy(self, policy: Any) -> None:
        self.options.policy = policy

    # -- what the test makes it receive -----------------------------------------------------------
    def deliver(self, *seqs: int) -> None:
        for seq in seqs:
            self.receiver.text(json.dumps({"seq": seq, "ts": 0, "topic": "price", "body": seq},
                                          separators=(",", ":")), 1)


def fake_info(transport: str) -> TransportInfo:
    """The registry's row for ``transport`` with the fake client in place of the real one."""
    return replace(TRANSPORTS[transport], client=lambda options, sink: FakeClient(options, sink, transport))


def fake_controller(transport: str, parent: QObject) -> tuple[TabController, EventBridge]:
    """A tab controller on the fake client, its events through a real bridge as in the window."""
    bridge = EventBridge(interval_ms=1, parent=parent)
    controller = TabController(fake_info(transport), bridge, 10_000, parent)
    bridge.delivered.connect(lambda _transport, batch: controller.take(batch))
    return controller, bridge
