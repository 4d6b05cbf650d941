"""What a client's traffic cost: bytes on the socket against the payload they carried.

Pure bookkeeping, updated by the HTTP clients per exchange. ``sent`` and
``received`` come from the socket counter; ``payload`` is the bytes of the
messages themselves; everything else is overhead: HTTP heads (of which
cookies) and framing (JSON list punctuation, NDJSON newlines, chunk sizes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Mean:
    total: float = 0.0
    count: int = 0

    def add(self, value: float) -> None:
        self.total += value
        self.count += 1

    @property
    def value(self) -> float | None:
        return self.total / self.count if self.count else None


@dataclass(slots=True)
class WireStats:
    """``counter`` is anything with ``sent`` and ``received`` byte totals (the socket counter)."""

    counter: Any = None
    requests: int = 0
    responses: int = 0
    empty: int = 0  # responses (or stream lines) that carried no feed message
    messages: int = 0
    payload: int = 0
    heads: int = 0  # request and response heads
    cookies: int = 0  # Cookie and Set-Cookie header lines (part of heads)
    chunks: int = 0
    not_modified: int = 0  # 304 answers to a conditional poll (If-None-Match)
    idle_wire: int = 0  # bytes on the socket of the polls that carried no message (heads, `[]`, a 304)
    staleness_ms: Mean = field(default_factory=Mean)
    hold_ms: Mean = field(default_factory=Mean)
    rearm_ms: Mean = field(default_factory=Mean)
    rtt_ms: Mean = field(default_factory=Mean)  # request sent → response read (AJAX)

    @property
    def sent(self) -> int:
        return self.counter.sent if self.counter is not None else 0

    @property
    def received(self) -> int:
        return self.counter.received if self.counter is not None else 0

    @property
    def wire(self) -> int:
        return self.sent + self.received

    @property
    def overhead(self) -> int:
        return max(0, self.wire - self.payload)

    @property
    def framing(self) -> int:
        return max(0, self.overhead - self.heads)

    def per_message(self, value: int) -> float | None:
        return value / self.messages if self.messages else None

    @property
    def per_idle_poll(self) -> float | None:
        """Bytes on the socket per poll that carried no message: what waiting costs."""
        return self.idle_wire / self.empty if self.empty else None

    @property
    def empty_share(self) -> float | None:
        return self.empty / self.responses if self.responses else None
