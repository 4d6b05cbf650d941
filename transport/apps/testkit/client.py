"""A watched client for a test: Duplex's client for any transport (the registry's, built as ``probe`` builds
it: the same reconnect, sequence and resume rules, defaults and checks), run on the kit's loop, its rows kept
and its ledger readable from the test; ``assert_nothing_lost()`` says what a developer needs to act on."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Callable, Iterable, Mapping

from transport.apps.probe import ArgsError, check_args, make_client
from transport.clients.base import Client
from transport.core.events import Event, now_ns
from transport.core.loss_report import loss_report, row_text

from .loop import BackgroundLoop, called

MAX_ROWS = 200_000  # rows kept per client (the oldest go first; the report says how many went)
CLOSE_S = 5.0
SNAPSHOT_S = 10.0
_ALIASES = {"websocket": "ws", "socket.io": "socketio", "http_stream": "stream"}


class LossError(AssertionError):
    """``assert_nothing_lost()`` failed: what was lost, duplicated or not recovered, and where."""


class WaitTimeout(AssertionError):
    """``wait_for()`` ran out of time: what it waited for and the client's last state."""


class LedgerView(dict[str, Any]):
    """The ledger as it was when read: a dict (``ledger["lost"]``) whose keys are attributes too
    (``ledger.lost``): received, lost, duplicated, replayed, reordered, episodes, recovered, verdict, ok,
    lost_seqs, episode_list…"""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def client_args(url: str, transport: str | None = None, *, seq: str = "auto", resume: str = "auto",
                headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
                **options: Any) -> Any:
    """``probe``'s arguments for these keywords (``policy="fixed"``, ``interval=0.2``, ``retries=5``,
    ``namespace="/chat"``, ``sio_transport="websocket"``, ``idle_timeout=5``…), checked as ``probe`` checks
    them; ValueError with the sentence when they do not make a client."""
    argv = [url]
    if transport is not None:
        name = _ALIASES.get(transport, transport)
        if name == "browser":
            raise ValueError("duplex_client runs Duplex's own clients; a real browser is probe --transport browser")
        argv += ["--transport", name]
    argv += ["--seq", seq, "--resume", resume]
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
    for name, value in pairs:
        argv += ["--header", f"{name}: {value}"]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                argv += [flag, str(v)]
        else:
            argv += [flag, str(value)]
    try:
        return check_args(argv)
    except ArgsError as exc:
        raise ValueError(f"duplex_client: {exc}") from None


class _Waiter:
    __slots__ = ("ready", "loop", "future")

    def __init__(self, ready: Callable[[], bool], loop: asyncio.AbstractEventLoop,
                 future: asyncio.Future[None]) -> None:
        self.ready, self.loop, self.future = ready, loop, future


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if not future.done():
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


def _answer(w: _Waiter, error: BaseException | None) -> None:
    """Settle a waiter's future on its own loop (the test's); a loop that is gone has no one waiting."""
    if w.future.done():
        return
    try:
        w.loop.call_soon_threadsafe(_settle, w.future, error)
    except RuntimeError:  # the test's loop is closed: its test is over
        pass


class WatchedClient:
    """``await wait_for(messages=N)``, ``events``, ``ledger``, ``await send(…)``, ``await emit(…)``,
    ``await drop()``, ``mark(text)``, ``assert_nothing_lost()``, ``await close()``."""

    def __init__(self, kit: BackgroundLoop, args: Any, *, max_rows: int = MAX_ROWS,
                 on_close: Callable[[WatchedClient], None] | None = None) -> None:
        self._kit = kit
        self.args = args
        self.url: str = args.url
        self.transport: str = args.transport
        self._rows: deque[Event] = deque(maxlen=max_rows)
        self._evicted = 0
        self._received = 0
        self._waiters: list[_Waiter] = []
        self._on_close = on_close
        self._client: Client | None = None
        self._run: asyncio.Task[Any] | None = None
        self.stopped: str | None = None  # why the client stopped for good (its last sentence)
        self.started_ns = now_ns()
        self.closed = False

    def __repr__(self) -> str:
        return f"<duplex client {self.transport} {self.url}>"

    @property
    def what(self) -> str:
        return f"{self.transport} {self.url}"

    # -- on the kit's loop ------------------------------------------------------------------------
    def _sink(self, event: Event) -> None:
        rows = self._rows
        if len(rows) == rows.maxlen:
            self._evicted += 1
        rows.append(event)
        if event.direction == "in" and event.kind == "message":
            self._received += 1
        if self._waiters:
            self._check()

    def _check(self) -> None:
        keep = []
        for w in self._waiters:
            if w.future.done():
                continue
            try:
                ready = w.ready()
            except Exception as exc:  # noqa: BLE001 (a condition that cannot be read fails its wait)
                _answer(w, exc)
                continue
            if ready:
                _answer(w, None)
            elif self.stopped is not None:
                _answer(w, WaitTimeout(f"{self.what}: the client stopped for good before the wait was met: "
                                       f"{self.stopped}"))
            else:
                keep.append(w)
        self._waiters = keep

    async def _start(self) -> None:
        self._client = make_client(self.args, self._sink)
        self._run = asyncio.create_task(self._watch(self._client))

    async def _watch(self, client: Client) -> None:
        try:
            err = await client.run()
        except Exception as exc:  # noqa: BLE001 (said in every wait and in the report)
            self.stopped = f"{type(exc).__name__}: {exc}"
        else:
            if not self.closed:
                self.stopped = err.sentence if err is not None else "the connection closed"
        self._check()

    async def _add_waiter(self, waiter: _Waiter) -> None:
        self._waiters.append(waiter)
        self._check()

    async def _close(self) -> None:
        self.closed = True
        client, run = self._client, self._run
        if client is not None:
            await client.close()
        if run is not None and not run.done():
            done, _ = await asyncio.wait({run}, timeout=CLOSE_S)
            if not done:
                run.cancel()
                await asyncio.wait({run}, timeout=CLOSE_S)
        for w in self._waiters:
            _answer(w, WaitTimeout(f"{self.what}: the client was closed"))
        self._waiters = []

    def _inject(self, text: str, fault: str) -> None:
        """A fault row in this client's rows (a proxy's, the lab's, the test's own ``mark``)."""
        transport = self._client.transport if self._client is not None else "websocket"
        self._sink(Event(transport, "state", "fault", data=text, meta={"fault": fault}))

    def _snapshot(self) -> tuple[list[Event], dict[str, Any], int]:
        assert self._client is not None
        return list(self._rows), self._client.ledger.to_json(), self._evicted

    # -- from the test ----------------------------------------------------------------------------
    def _read(self, fn: Callable[[], Any]) -> Any:
        """``fn`` on the kit's loop (the rows and the ledger change there), or here once it stopped."""
        if self._kit.alive and not self._kit.in_loop():
            return self._kit.run(called(fn), SNAPSHOT_S)
        return fn()

    @property
    def events(self) -> list[Event]:
        """Every row so far (up to the newest ``max_rows``): ``Event`` records with ``direction``, ``kind``,
        ``seq``, ``data``, ``meta``, ``t`` (monotonic ns)."""
        return list(self._read(lambda: list(self._rows)))

    @property
    def messages(self) -> list[Event]:
        """The incoming messages (WebSocket messages, SSE events, Socket.IO events, poll answers' messages)."""
        return [e for e in self.events if e.direction == "in" and e.kind == "message"]

    @property
    def ledger(self) -> LedgerView:
        """The loss ledger now: received, lost, duplicated, replayed, reordered, episodes, recovered,
        verdict, ok, lost_seqs, and each episode in ``episode_list``."""
        if self._client is None:
            return LedgerView()
        client = self._client
        return LedgerView(self._read(lambda: client.ledger.to_json()))

    @property
    def received(self) -> int:
        return self._received

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def wait_for(self, messages: int | None = None, *, seq: int | None = None, recovered: int | None = None,
                       episodes: int | None = None, sessions: int | None = None,
                       timeout: float = 10.0) -> LedgerView:
        """Wait until ``messages`` incoming messages came in all (duplicates too), the highest seq reached
        ``seq``, ``recovered`` drop episodes ended with a new message, ``episodes`` drops happened, a server
        with connection-state recovery (Socket.IO) said after ``sessions`` reconnects whether it recovered
        the session (all that are given); WaitTimeout after ``timeout`` s, saying what came. Returns the
        ledger then."""
        if messages is None and seq is None and recovered is None and episodes is None and sessions is None:
            raise ValueError("wait_for needs messages=, seq=, recovered=, episodes= or sessions=")
        client = self._client
        assert client is not None

        def ready() -> bool:
            led = client.ledger
            return ((messages is None or self._received >= messages)
                    and (seq is None or (led.high is not None and led.high >= seq))
                    and (recovered is None or led.recovered >= recovered)
                    and (episodes is None or len(led.episodes) >= episodes)
                    and (sessions is None or led.sessions_recovered + led.sessions_missed >= sessions))
        want = ", ".join(f"{k}={v}" for k, v in (("messages", messages), ("seq", seq), ("recovered", recovered),
                                                   ("episodes", episodes), ("sessions", sessions)) if v is not None)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        await self._kit.awaitable(self._add_waiter(_Waiter(ready, loop, future)))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise WaitTimeout(f"{self.what}: waited {timeout:g} s for {want}; {self.state()}") from None
        return self.ledger

    def state(self) -> str:
        """The client's last state in one paragraph: what came, the ledger, the last error, the last rows."""
        rows, led, _ = self._read(self._snapshot)
        last_error = self._client.last_error if self._client is not None else None
        parts = [f"{self._received:,} messages came, highest seq {led.get('high')}, "
                 f"{led.get('episodes', 0)} drop episodes ({led.get('recovered', 0)} recovered)",
                 f"connected: {self.connected}"]
        if self.stopped:
            parts.append(f"stopped for good: {self.stopped}")
        elif last_error is not None:
            parts.append(f"last error: {last_error.sentence}")
        parts.append(f"ledger: {led.get('verdict')}")
        tail = "\n".join("    " + row_text(e, self.started_ns) for e in rows[-10:])
        return "; ".join(parts) + ("\n  the last rows:\n" + tail if tail else "")

    async def send(self, payload: str | bytes) -> None:
        """Send on the connection (WebSocket; Socket.IO: a ``message`` event)."""
        client = self._client
        assert client is not None
        await self._kit.awaitable(client.send(payload))

    async def emit(self, event: str, *args: Any, ack: bool = False, timeout: float = 10.0) -> list[Any] | None:
        """Socket.IO: emit ``event`` with ``args``; with ``ack``, the server's answer."""
        client = self._client
        emit = getattr(client, "emit", None)
        if emit is None:
            raise TypeError(f"{self.transport} has no events to emit: use send()")
        result = await asyncio.wait_for(self._kit.awaitable(emit(event, list(args), ack)), timeout)
        return result if isinstance(result, list) or result is None else [result]

    async def drop(self) -> bool:
        """Cut the connection now, as the window's Drop does (a TCP abort); False if nothing was open."""
        client = self._client
        assert client is not None
        return await self._kit.awaitable(called(client.drop))

    def mark(self, text: str) -> None:
        """A fault row of the test's own ("restarted my server"): the report names the last one before each
        drop."""
        self._kit.call(self._inject, text, "mark")

    def assert_nothing_lost(self) -> None:
        """Fails (LossError) unless the ledger proves every numbered message came once and every drop
        recovered; without a sequence rule it fails too ("no sequence rule: loss cannot be checked")."""
        __tracebackhide__ = True  # noqa: F841 (pytest shows the test's line, not this one)
        rows, led, evicted = self._read(self._snapshot)
        message = loss_report(rows, led, started_ns=self.started_ns, what=self.what, evicted=evicted)
        if message is not None:
            raise LossError(message)

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self._kit.awaitable(self._close())
        if self._on_close is not None:
            self._on_close(self)

    def close_now(self) -> None:
        """:meth:`close` from a teardown, whatever loop the test had (or none)."""
        if not self.closed and self._kit.alive and not self._kit.in_loop():
            try:
                self._kit.run(self._close(), CLOSE_S * 3)
            except TimeoutError:
                pass
        self.closed = True
        if self._on_close is not None:
            self._on_close(self)


async def start_client(kit: BackgroundLoop, args: Any, **kw: Any) -> WatchedClient:
    c = WatchedClient(kit, args, **kw)
    await kit.awaitable(c._start())
    return c

