"""The reconnect controller: when to try again, and when to give up. Sans-I/O, written once.

Every client reports what happened to its connection and asks how long to
wait; the controller owns the only copy of the rules:

- **What resets backoff**: a connection that stayed up for the policy's
  ``stable_after`` *and* delivered something new. Then the delays start over
  and the failure count is 0. Nothing else resets them.
- **What is a failed attempt** (one count, the one ``--retries`` reads): an
  attempt that raised (refused, timed out, an error status), and, for
  WebSocket, SSE and NDJSON streams, a connection that ended having
  delivered nothing, whatever status it had (a server that accepts and
  closes at once). Consecutive failures up to ``max_failures`` give up.
- **Pacing**: after a stream ends the client waits by the policy. A poll
  answered with an error waits by the policy; an empty answer is no
  failure, but a long poll answered empty in under a tenth of its hold time
  waits by the policy too (a server that does not hold must not be
  flooded). Short polling keeps the user's fixed interval.
- **A floor under every policy**: attempts after outcomes that delivered
  nothing draw on a token bucket (``BURST`` at once, ``RATE`` per second
  after that), so whatever the policy or the server's ``retry`` says (even
  0), a server that answers at once with nothing gets a few requests per
  second at most. The policy's own delays stand as long as they are slower.

The clock is injected (``clock()`` returns seconds); the client only sleeps
on the delays this returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator

from transport.core.backoff import Policy, event_source_delay

# Attempts after outcomes that delivered nothing: at most BURST at once, then RATE per second.
# A monitor never sends more than a few requests per second to a server that answers at once.
BURST = 8
RATE = 2.0
EVENT_SOURCE_STABLE_AFTER = 2.0  # what counts as stable when the server's SSE retry is the policy
FAST_EMPTY_SHARE = 0.1  # a long poll answered empty in under this share of its hold did not hold


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do next: wait ``delay`` seconds (``why`` says why), or give up."""

    delay: float
    why: str
    attempt: int  # the attempt the wait leads to (1 + consecutive failures)
    give_up: bool = False


class ReconnectController:
    """One client's reconnect state. ``policy`` None is EventSource behaviour: the server's
    reconnection time (``retry()``, seconds) growing while attempts fail."""

    def __init__(self, policy: Policy | None, *, max_failures: int | None = None,
                 retry: Callable[[], float] | None = None, backoff_cap: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if policy is None and retry is None:
            raise ValueError("without a policy the server's retry() is needed")
        if max_failures is not None and max_failures < 1:
            raise ValueError("max_failures must be >= 1")
        self.policy = policy
        self.max_failures = max_failures
        self._retry = retry
        self._cap = backoff_cap
        self._clock = clock
        self.failures = 0  # consecutive failed attempts
        self.resets = 0  # times a healthy connection started the delays over
        self._delays: Iterator[float] | None = policy.delays() if policy is not None else None
        self._up_since: float | None = None  # when the current connection (or run of good polls) began
        self._delivered = False  # it delivered something new since then
        self._tokens = float(BURST)  # the floor's bucket, as of _tokens_at
        self._tokens_at = clock()

    @property
    def stable_after(self) -> float:
        return self.policy.stable_after if self.policy is not None else EVENT_SOURCE_STABLE_AFTER

    # -- what the client reports ------------------------------------------------------
    def opened(self) -> None:
        """A connection opened (a stream's response, a handshake, a poll's first good answer)."""
        if self._up_since is None:
            self._up_since = self._clock()
            self._delivered = False

    def delivered(self) -> None:
        """The open connection delivered something new (a message the ledger had not seen)."""
        self._delivered = True

    def failed(self, sentence: str) -> Decision:
        """The attempt raised (refused, timed out, an error status, dropped under a request)."""
        self._check_healthy()
        self._up_since = None
        return self._count_failure(sentence)

    def ended(self, how: str | None = None) -> Decision:
        """A connection ended (by the server, the network or a drop); ``how`` says how, for the rows.
        For a stream that delivered nothing new this is a failed attempt, whatever its status was."""
        how = how or "the connection ended"
        if self._up_since is None or not self._delivered:
            self._up_since = None
            return self._count_failure(f"{how}, having delivered nothing new")
        self._check_healthy()
        self._up_since = None
        return self._wait(how)

    def polled(self, new: int, answered_in: float, hold: float | None, empty: bool | None = None) -> Decision | None:
        """A poll was answered with ``new`` new messages after ``answered_in`` seconds (``empty``: with
        no item at all; default: no new message); ``hold`` is a long poll's hold time. Returns a wait
        by the policy when a long poll came back empty too soon (the server does not hold), None when
        the client goes on at its own pace."""
        self.opened()
        if new:
            self._delivered = True
        self._check_healthy()
        empty = not new if empty is None else empty
        if not empty or hold is None or (hold > 0 and answered_in >= FAST_EMPTY_SHARE * hold):
            return None
        if hold <= 0:  # asked not to hold: an empty answer is a poll with nothing, paced like one
            return self._wait("the long poll (hold 0 s) was answered empty", idle=True)
        return self._wait(f"the long poll was answered empty after {answered_in * 1000:.0f} ms, under a tenth "
                          f"of its {hold:g} s hold: the server does not hold requests", idle=True)

    # -- the rules ----------------------------------------------------------------------
    def _check_healthy(self) -> None:
        """The one rule that resets backoff: up for ``stable_after`` and delivered something new."""
        if (self._up_since is not None and self._delivered
                and self._clock() - self._up_since >= self.stable_after):
            self.failures = 0
            self.resets += 1
            if self.policy is not None:
                self._delays = self.policy.delays()
            self._up_since = self._clock()  # a new window: the next reset needs another stable stretch
            self._delivered = False

    def _count_failure(self, sentence: str) -> Decision:
        self.failures += 1
        if self.max_failures is not None and self.failures >= self.max_failures:
            return Decision(0.0, f"Giving up after {self.failures} failed attempts: {sentence}",
                            self.failures, give_up=True)
        return self._wait(sentence, idle=True)

    def _wait(self, why: str, idle: bool = False) -> Decision:
        if self._delays is not None:
            delay = next(self._delays)
        else:
            assert self._retry is not None
            delay = event_source_delay(self._retry(), self.failures, cap=self._cap)
        if idle:
            delay = self._floor(delay)
        return Decision(delay, why, self.failures + 1)

    def _floor(self, delay: float) -> float:
        """``delay``, or longer if the attempt after it would overdraw the bucket (BURST, RATE)."""
        now = self._clock()
        tokens = min(float(BURST), self._tokens + max(0.0, now - self._tokens_at) * RATE)
        if tokens + delay * RATE < 1.0:
            delay = (1.0 - tokens) / RATE
        self._tokens = min(float(BURST), tokens + delay * RATE) - 1.0  # spent by the attempt at now + delay
        self._tokens_at = now + delay
        return delay

    def basis(self, server_said: bool = True) -> str:
        """What the waits follow, for the state row (``server_said``: the retry is the server's)."""
        if self.policy is not None:
            return self.policy.describe()
        assert self._retry is not None
        text = f"{'server' if server_said else 'default'} retry {self._retry() * 1000:g} ms"
        return text + (f", backoff after {self.failures} failed" if self.failures else "")
