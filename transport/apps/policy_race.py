"""Reconnect policies side by side: one client per policy on the same server and the same faults.

Each entry is a label and a client built as the tab builds its own, with
another reconnect policy. The race counts each client's reconnect attempts
(time and wait) and reads its ledger for the time to recover per episode,
so a view can plot the attempts of every policy on one chart and say which
came back sooner and what each lost.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from transport.core.backoff import Policy
from transport.clients.base import Client
from transport.core.events import Event, EventSink
from transport.apps.storm import stop_clients

KEEP = 1000  # attempts kept per policy

# (label, policy): None is the server's SSE retry (EventSource behaviour)
SOCKET_IO = Policy("exponential", 1.0, 5.0, 2.0, 0.5)
STANDARD: tuple[tuple[str, Policy | None], ...] = (("fixed 1 s", Policy("fixed", 1.0)),
                                                   ("exp. 1→5 s ±50 %", SOCKET_IO))  # Socket.IO's defaults
SERVER_RETRY: tuple[str, Policy | None] = ("server retry", None)


@dataclass
class Runner:
    label: str
    client: Client | None = None  # set once the client is built around this runner's sink
    attempts: deque = field(default_factory=lambda: deque(maxlen=KEEP))  # (t ns, wait s)
    opens: int = 0

    def sink(self, event: Event) -> None:
        if event.kind == "reconnect":
            self.attempts.append((event.t, float(event.meta.get("delay_s") or 0.0)))
        elif event.kind == "open" and event.direction == "state":
            self.opens += 1

    def row(self) -> dict[str, Any]:
        assert self.client is not None, "a runner's client is built in PolicyRace.__init__"
        ledger = self.client.ledger
        recover = [ep.recover_ms for ep in ledger.episodes if ep.recover_ms is not None]
        return {"policy": self.label, "state": self.client.state, "attempts": len(self.attempts),
                "episodes": len(ledger.episodes), "recovered": len(recover),
                "median_recover_ms": round(statistics.median(recover), 1) if recover else None,
                "last_recover_ms": recover[-1] if recover else None,
                "lost": ledger.lost, "duplicated": ledger.duplicated}


class PolicyRace:
    def __init__(self, make: Callable[[EventSink], Client], entries: list[tuple[str, Policy | None]]) -> None:
        """``make(sink)`` builds a client like the tab's; each gets the entry's policy."""
        self.runners: list[Runner] = []
        for label, policy in entries:
            runner = Runner(label)
            client = make(runner.sink)
            client.use_policy(policy)
            runner.client = client
            self.runners.append(runner)
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._tasks = [asyncio.ensure_future(c.run()) for c in self.clients]

    @property
    def clients(self) -> list[Client]:
        return [c for c in (r.client for r in self.runners) if c is not None]

    def rows(self) -> list[dict[str, Any]]:
        return [r.row() for r in self.runners]

    async def stop(self) -> None:
        await stop_clients(self.clients, self._tasks)
        self._tasks = []
