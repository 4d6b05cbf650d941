"""Reconnect policies as pure generators of delays (seconds).

The asyncio layer only sleeps on what these yield; tests iterate them directly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator


def fixed(interval: float) -> Iterator[float]:
    """The same delay before every attempt."""
    if interval < 0:
        raise ValueError("interval must be >= 0")
    while True:
        yield interval


def exponential(
    initial: float = 1.0,
    maximum: float = 5.0,
    factor: float = 2.0,
    jitter: float = 0.5,
    rng: random.Random | None = None,
) -> Iterator[float]:
    """Exponential growth with proportional jitter (Socket.IO style).

    Each delay is ``base * (1 ± jitter)`` where ``base`` doubles (``factor``) from
    ``initial`` up to ``maximum``; the jittered value never exceeds ``maximum``.
    """
    if initial <= 0 or maximum < initial or factor < 1 or not 0 <= jitter <= 1:
        raise ValueError("need 0 < initial <= maximum, factor >= 1, 0 <= jitter <= 1")
    rand = rng or random.Random()
    base = initial
    while True:
        spread = base * jitter
        yield min(maximum, max(0.0, base + rand.uniform(-spread, spread)))
        base = min(maximum, base * factor)


@dataclass(frozen=True, slots=True)
class Policy:
    """A named, user-selectable reconnect policy."""

    name: str  # "fixed" or "exponential"
    interval: float = 1.0  # fixed delay, or the initial delay for exponential
    maximum: float = 5.0
    factor: float = 2.0
    jitter: float = 0.5
    # A connection that closes sooner than this after opening counts as a
    # failed attempt: the delay keeps growing instead of starting over.
    stable_after: float = 2.0

    def delays(self) -> Iterator[float]:
        if self.name == "fixed":
            return fixed(self.interval)
        if self.name == "exponential":
            return exponential(self.interval, max(self.maximum, self.interval), self.factor, self.jitter)
        raise ValueError(f"unknown reconnect policy {self.name!r}")

    def describe(self) -> str:
        if self.name == "fixed":
            return f"fixed {self.interval:g} s"
        return f"exponential {self.interval:g}–{self.maximum:g} s ×{self.factor:g} ±{self.jitter:.0%}"


def event_source_delay(retry_s: float, failures: int, factor: float = 1.5, cap: float = 30.0) -> float:
    """An EventSource's wait before reconnecting, in seconds.

    The reconnection time (``retry_s``: the server's last valid ``retry`` or
    the default) after a stream ends; while attempts keep failing (the server
    is down) it grows by ``factor`` per failed attempt, up to
    ``max(cap, retry_s)``, as the standard allows ("user agents might
    introduce an exponential backoff delay").
    """
    if retry_s < 0 or failures < 0 or factor < 1:
        raise ValueError("need retry_s >= 0, failures >= 0, factor >= 1")
    return min(max(cap, retry_s), retry_s * factor ** min(failures, 64))
