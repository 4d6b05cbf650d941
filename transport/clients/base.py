"""The small interface every client honours, and the pieces they share.

A client is created with its options and an event sink. ``run()`` connects,
reconnects by its policy and returns when ``close()`` was called or the
connection failed for good (the returned error says why). ``drop()`` aborts
the TCP connection now, to simulate a network failure.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from transport.clients.tls import InsecureMark, uses_tls
from transport.core.backoff import Policy
from transport.core.errors import ConnectFailed, DuplexError, InvalidURL, NotConnected, ServerStopped, explain
from transport.core.events import Event, EventSink, Outbox
from transport.core.ledger import Ledger
from transport.core.receiver import FeedReceiver
from transport.core.reconnect import Decision, ReconnectController
from transport.core.sequence import RuleError, parse_resume, parse_seq
from transport.core.urls import is_loopback, where, with_query
from transport.core.wirestats import WireStats


class Client(Protocol):
    """What the UI, probe, Compare, the storm and the race may use of any client."""

    transport: str
    options: Any
    state: str  # idle, connecting, open, waiting, closed, failed
    last_error: DuplexError | None

    @property
    def ledger(self) -> Ledger: ...
    @property
    def stats(self) -> WireStats: ...
    @property
    def connected(self) -> bool: ...
    async def run(self) -> DuplexError | None: ...
    async def close(self) -> None: ...
    def drop(self) -> bool: ...
    async def send(self, payload: str | bytes) -> None: ...
    def use_policy(self, policy: Policy | None) -> None: ...


@runtime_checkable
class JsonSender(Protocol):
    """A client that sends a JSON text as one message (the WebSocket client)."""

    async def send_json(self, text: str) -> None: ...


@runtime_checkable
class EventEmitter(Protocol):
    """A client that emits named events with arguments, an ack optional (the Socket.IO client)."""

    async def emit(self, event: str, args: list[Any], ack: bool = True) -> list[Any] | None: ...


class Emitter:
    """Stamps events with the client's transport and connection id."""

    def __init__(self, transport: str, sink: EventSink) -> None:
        self.transport = transport
        self._sink = sink
        self.conn = 0

    def __call__(self, direction: str, kind: str, **fields: object) -> Event:
        event = Event(self.transport, direction, kind, conn=self.conn, **fields)  # type: ignore[arg-type]
        self._sink(event)
        return event


class Pause:
    """An interruptible sleep between reconnect attempts."""

    def __init__(self) -> None:
        self._wake = asyncio.Event()

    async def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``; True if woken early by :meth:`wake`."""
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except asyncio.TimeoutError:
            return False
        return True

    def wake(self) -> None:
        self._wake.set()


class ClientBase:
    """What every client shares: the feed receiver, the reconnect controller, the run loop, state, errors.

    A client provides only its I/O: ``_validate(url)`` and ``_connection(url)``, which opens one
    connection, reads it until it ends and returns how it ended (a sentence, or None), or raises
    when the attempt failed. The loop asks the reconnect controller how long to wait and when to
    give up; the receiver turns what was read into events, ledger entries and the resume point.
    """

    transport = ""

    def __init__(self, options: Any, sink: EventSink, log: logging.Logger, *, stats: WireStats | None = None,
                 after: int | None = None) -> None:
        self.options = options
        self.state = "idle"
        self.last_error: DuplexError | None = None
        self._log = log
        if not getattr(options, "verify_tls", True) and uses_tls(options.url):
            sink = InsecureMark(sink)  # the insecure switch: every row of the connection says so
        self._sink = sink
        self._outbox = Outbox(sink)  # the emitter and the receiver write through it, so a batch keeps order
        self._emit = Emitter(self.transport, self._outbox)
        self._closing = False
        self._pause = Pause()
        host = urlsplit(options.url).hostname
        try:  # how another server's messages are numbered and resumed (transport/core/sequence.py)
            seq_rule = parse_seq(getattr(options, "seq_rule", None))
            resume_rule = parse_resume(getattr(options, "resume_rule", None), self.transport)
        except RuleError as exc:
            raise DuplexError(exc.sentence) from None

        self.stats = stats if stats is not None else WireStats()
        self.receiver = FeedReceiver(self.transport, self._outbox, one_way=options.one_way_latency, after=after,
                                     stats=self.stats, same_machine=is_loopback(host), seq_rule=seq_rule,
                                     resume_rule=resume_rule)
        self.reconnect = self._make_reconnect()
        self._delivered_mark = 0

    def _make_reconnect(self) -> ReconnectController:
        return ReconnectController(getattr(self.options, "policy", None),
                                   max_failures=getattr(self.options, "max_failures", None))

    def use_policy(self, policy: Policy | None) -> None:
        """Reconnect by ``policy`` from now on (None: the server's retry, where the transport has one)."""
        self.options.policy = policy
        self.reconnect = self._make_reconnect()

    # -- the Client protocol ------------------------------------------------------------
    @property
    def ledger(self) -> Ledger:
        return self.receiver.ledger

    @property
    def epoch(self) -> str | None:
        return self.receiver.epoch

    @property
    def connected(self) -> bool:
        return self.state == "open"

    async def run(self) -> DuplexError | None:
        """Connect and keep connected until close(), a fatal error, or too many failed attempts."""
        try:
            url = self._validate(self.options.url)
        except InvalidURL as err:
            return self._fail(err)
        try:
            while not self._closing:
                self._emit.conn += 1
                self.receiver.conn = self._emit.conn
                failure: DuplexError | None = None
                try:
                    how = await self._connection(url)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # every failure becomes one sentence (ours pass through)
                    failure = explain(exc, where(url), timeout=self.options.open_timeout)
                    if failure.fatal:
                        stopped = isinstance(failure, ServerStopped)  # its close row says it all
                        return self._fail(failure, row=not stopped, state="closed" if stopped else "failed")
                    if self.last_error is not failure:
                        self._error(failure)
                self._note_progress()
                if self._closing:
                    break
                rc = self.reconnect  # as it is now (use_policy may have replaced it)
                decision = rc.failed(failure.sentence) if failure is not None else rc.ended(how)
                if decision.give_up:
                    return self._fail(failure.restated(decision.why) if failure is not None
                                      else ConnectFailed(decision.why))
                await self._wait_to_reconnect(decision)
        finally:
            await self._finish()
        self._set_state("closed")
        return None

    async def close(self) -> None:
        self._closing = True
        self._pause.wake()
        await self._close_connection()

    def drop(self) -> bool:
        """Cut the connection now, as a network failure would; False if nothing is open."""
        raise NotImplementedError

    async def send(self, payload: str | bytes) -> None:
        """Send a message on the connection; a receive-only transport says so."""
        raise NotConnected(f"{self.transport.replace('_', ' ')} only receives: send from the WebSocket or "
                           "AJAX tab (the lab broadcasts to every transport).")

    # -- for subclasses: the I/O ------------------------------------------------------------
    def _validate(self, url: str) -> str:
        raise NotImplementedError

    async def _connection(self, url: str) -> str | None:
        """One connection from attempt to end; returns how it ended (None: said already), raises on failure."""
        raise NotImplementedError

    async def _close_connection(self) -> None:
        """close() was called: end the open connection, if any."""

    async def _finish(self) -> None:
        """The run is over: release what the client holds (sessions)."""

    # -- helpers for the I/O ----------------------------------------------------------------
    def _opened(self) -> None:
        """The connection is open: the controller starts timing it, from what was delivered so far."""
        self._delivered_mark = self.receiver.delivered
        self.reconnect.opened()

    def _new_since_mark(self) -> int:
        """Messages delivered new since the last look (the mark moves on)."""
        new = self.receiver.delivered - self._delivered_mark
        self._delivered_mark = self.receiver.delivered
        return new

    def _note_progress(self) -> None:
        """Tell the controller whether the open connection delivered anything new."""
        if self._new_since_mark():
            self.reconnect.delivered()

    @property
    def _jar(self) -> Any:
        browser = getattr(self.options, "browser", None)
        return browser.jar if browser is not None else None

    def _carried(self, url: str) -> str:
        """``url`` as the browser sends it (``?sid=`` with the query carrier)."""
        browser = getattr(self.options, "browser", None)
        return browser.with_carrier(url) if browser is not None else url

    def _resume_url(self, url: str) -> str:
        """The URL a (re)connect asks for: with the lab, ``?after=<last seq>`` (unless the user turned
        resuming off); with any other server the user's URL, changed only by a ``query:NAME`` resume rule."""
        receiver = self.receiver
        after = receiver.after
        if receiver.lab:
            return with_query(url, after=after) if getattr(self.options, "resume", True) and after is not None else url
        return receiver.resume_rule.url(url, after)

    def _resume_message(self) -> str | None:
        """What a ``message:TEMPLATE`` resume rule sends first after a reconnect (never to the lab)."""
        receiver = self.receiver
        return None if receiver.lab else receiver.resume_rule.message(receiver.after)

    def _request_headers(self) -> list[tuple[str, str]]:
        """The user's extra headers, and the lab's numbering once known (a resume point is only
        meaningful in it)."""
        return list(getattr(self.options, "headers", ())) + self.receiver.epoch_headers()

    async def _wait_to_reconnect(self, decision: Decision, verb: str = "reconnecting") -> None:
        """The waiting state, a ``reconnect`` row that says how long and why, then the (wakeable) wait."""
        self._set_state("waiting")
        basis, extra = self._reconnect_basis()
        said = "".join(f", {k.replace('_', '-').title()}: {v}" for k, v in extra.items() if v)
        self._emit("state", "reconnect", data=f"{verb} in {decision.delay:.2f} s ({decision.why}; attempt "
                   f"{decision.attempt}, {basis}{said})",
                   meta={"delay_s": round(decision.delay, 3), "attempt": decision.attempt, "why": decision.why,
                         "basis": basis, "policy": basis, **extra})
        await self._pause.sleep(decision.delay)

    def _reconnect_basis(self) -> tuple[str, dict[str, Any]]:
        """What the waits follow, and what else a reconnect row should say (a subclass adds its own)."""
        return self.reconnect.basis(), {}

    def _error(self, err: DuplexError) -> None:
        self.last_error = err
        self._log.warning("%s", err.sentence)
        meta: dict[str, object] = {"error": type(err).__name__, "fatal": err.fatal,
                                   "status": getattr(err, "status", None)}
        if getattr(err, "read_by", None):
            meta["read_by"] = err.read_by  # type: ignore[attr-defined]
        self._emit("state", "error", data=err.sentence, meta=meta)

    def _fail(self, err: DuplexError, row: bool = True, state: str = "failed") -> DuplexError:
        """End for good: an error row (unless ``row`` is False), the final state."""
        if row and self.last_error is not err:
            self._error(err)
        self.last_error = err
        self._set_state(state)
        return err

    def _set_state(self, state: str) -> None:
        self.state = state
