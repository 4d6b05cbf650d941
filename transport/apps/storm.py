"""A reconnect storm: N clients of one transport, counted, not shown row by row.

When the server comes back after an outage every client reconnects at once
(or spread by its policy's jitter): the storm. ``Storm`` starts N clients
(bounded by MAX_CLIENTS) with a counting sink and keeps per-second history of
opens, reconnect attempts and messages, so a view can draw the storm.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from transport.clients.base import Client
from transport.core.events import Event, EventSink

MAX_CLIENTS = 1000
HISTORY_S = 600


@dataclass(slots=True)
class Second:
    t: float
    connected: int
    opens: int
    reconnects: int
    messages: int


@dataclass
class Storm:
    make: Callable[[EventSink], Client]  # sink → a client built as the tab builds its own
    n: int = 200
    clients: list[Client] = field(default_factory=list)
    opens: int = 0
    reconnects: int = 0
    messages: int = 0
    history: deque = field(default_factory=lambda: deque(maxlen=HISTORY_S))
    _tasks: list[asyncio.Task] = field(default_factory=list)
    _last: tuple[int, int, int] = (0, 0, 0)

    def __post_init__(self) -> None:
        if not 1 <= self.n <= MAX_CLIENTS:
            raise ValueError(f"a storm has 1 to {MAX_CLIENTS} clients")

    def sink(self, event: Event) -> None:
        kind = event.kind
        if kind == "message":
            self.messages += 1
        elif kind == "reconnect":
            self.reconnects += 1
        elif kind == "open":
            self.opens += 1

    @property
    def connected(self) -> int:
        return sum(1 for c in self.clients if c.state == "open")

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def start(self) -> None:
        self.clients = [self.make(self.sink) for _ in range(self.n)]
        self._tasks = [asyncio.ensure_future(c.run()) for c in self.clients]

    def tick(self) -> Second:
        """Once a second: what happened since the last tick."""
        now = (self.opens, self.reconnects, self.messages)
        second = Second(time.monotonic(), self.connected, *(a - b for a, b in zip(now, self._last)))
        self._last = now
        self.history.append(second)
        return second

    async def stop(self) -> None:
        await stop_clients(self.clients, self._tasks)
        self._tasks = []


async def stop_clients(clients: list[Client], tasks: list[asyncio.Task]) -> None:
    """Close ``clients``, give their run tasks 10 s to end, cancel what is left."""
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    if tasks:
        await asyncio.wait(tasks, timeout=10)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
