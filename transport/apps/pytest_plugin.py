"""Duplex's pytest plugin: prove in a test that a real-time endpoint loses nothing under faults.

Active through the ``pytest11`` entry point named ``duplex`` once the checkout is installed (``pip install -e
.``); ``-p no:duplex`` turns it off. Three fixtures (docs/pytest.md):

- ``duplex_lab`` (session): a lab process on 127.0.0.1 (``.url``, ``.admin_token``, ``.ws_url``, ``.sse_url``,
  ``.restart(down_s)``);
- ``duplex_proxy``: ``proxy = await duplex_proxy(upstream="127.0.0.1:8080")``, a fault proxy in front of any
  server (``url_for``, ``toxic``, ``down``), removed after the test;
- ``duplex_client``: ``c = await duplex_client(url, transport="sse", seq="id", resume="last-event-id")``,
  Duplex's client with probe's rules (``wait_for``, ``events``, ``ledger``, ``send``, ``drop``,
  ``assert_nothing_lost``), closed after the test.

The factories are awaited on the test's own loop (pytest-asyncio, auto or strict mode, any loop scope); the
clients and proxy calls run on one loop of the plugin's in a thread of its own, so a teardown never depends
on the test's loop, and ``pytest_unconfigure`` ends whatever a failed or interrupted run left. Nothing here
imports Qt; the kit is imported when a fixture is first used.
"""

from __future__ import annotations

import atexit
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterator

import pytest

if TYPE_CHECKING:
    from transport.apps.testkit.client import WatchedClient
    from transport.apps.testkit.lab import Lab
    from transport.apps.testkit.loop import BackgroundLoop
    from transport.apps.testkit.proxy import FaultProxy


class _Session:
    """What the plugin started in this pytest process: one loop, at most one lab, the live clients and
    proxies; :meth:`end` ends all of it (idempotent)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._kit: BackgroundLoop | None = None
        self._lab: Lab | None = None
        self.clients: list[WatchedClient] = []
        self.proxies: list[FaultProxy] = []

    @property
    def kit(self) -> BackgroundLoop:
        if self._kit is None:
            from transport.apps.testkit.loop import BackgroundLoop
            self._kit = BackgroundLoop()
        return self._kit

    @property
    def lab(self) -> Lab:
        if self._lab is None or not self._lab.running:
            from transport.apps.testkit.lab import Lab
            self._lab = Lab(self.kit, rate=self.rate, mark=self.mark)
        return self._lab

    def mark(self, text: str, through: FaultProxy | None) -> None:
        """A fault row in every live client it concerns: the lab's (``through`` None) in all, a proxy's in
        those whose URL goes through it."""
        for c in list(self.clients):
            if through is None or through.leads(c.url):
                self.kit.call(c._inject, text, "lab" if through is None else "proxy")

    def track(self, c: WatchedClient) -> None:
        """A new client; one that starts through a proxy with toxics in place gets a row naming them."""
        self.clients.append(c)
        for proxy in self.proxies:
            said = proxy.in_place()
            if said is not None and proxy.leads(c.url):
                self.kit.call(c._inject, said, "proxy")

    def forget(self, c: WatchedClient) -> None:
        if c in self.clients:
            self.clients.remove(c)

    def end(self) -> None:
        for c in list(self.clients):
            c.close_now()
        for p in list(self.proxies):
            try:
                p.remove_now()
            except Exception:  # noqa: BLE001 (the lab ends next; its proxies end with it)
                pass
        self.proxies.clear()
        if self._lab is not None:
            self._lab.stop()
            self._lab = None
        if self._kit is not None:
            self._kit.stop()
            self._kit = None


_KEY = pytest.StashKey[_Session]()
_CLIENTS = pytest.StashKey[list[Any]]()  # a test's clients, for its report


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("duplex", "Duplex: real-time endpoints under faults")
    group.addoption("--duplex-lab-rate", type=float, default=None, metavar="MSG_PER_S",
                    help="the duplex_lab fixture's feed rate (default 20 messages a second; ini: duplex_lab_rate)")
    parser.addini("duplex_lab_rate", "the duplex_lab fixture's feed rate, messages a second", default="20")


def pytest_configure(config: pytest.Config) -> None:
    rate = config.getoption("--duplex-lab-rate") or float(config.getini("duplex_lab_rate"))
    session = _Session(float(rate))
    config.stash[_KEY] = session
    atexit.register(session.end)  # a run that dies without unconfigure (an exception in a hook)


def pytest_unconfigure(config: pytest.Config) -> None:
    """After the session, also after a failure or Ctrl+C: end every client, proxy and lab process."""
    session = config.stash.get(_KEY, None)
    if session is not None:
        session.end()


def _session(request: pytest.FixtureRequest) -> _Session:
    return request.config.stash[_KEY]


@pytest.fixture(scope="session")
def duplex_lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    """A lab process for the test session: ``.url``, ``.admin_token``, ``.ws_url``, ``.sse_url``,
    ``.restart(down_s)`` (also awaitable: then it waits until the lab answers again), ``await .fault(action)``."""
    session = _session(request)
    lab = session.lab
    yield lab
    session.end()


@pytest.fixture
def duplex_proxy(request: pytest.FixtureRequest) -> Iterator[Callable[..., Awaitable[FaultProxy]]]:
    """A factory: ``proxy = await duplex_proxy(upstream="127.0.0.1:8080")`` (or a URL) gives a fault proxy
    in front of that server, listening on 127.0.0.1; removed after the test."""
    session = _session(request)
    lab = request.getfixturevalue("duplex_lab")
    made: list[FaultProxy] = []

    async def make(upstream: str, name: str | None = None) -> FaultProxy:
        from transport.apps.testkit.proxy import FaultProxy
        proxy = FaultProxy(session.kit, lab, upstream, session.mark, name=name)
        await proxy.create()
        made.append(proxy)
        session.proxies.append(proxy)
        return proxy
    yield make
    for proxy in made:
        if proxy in session.proxies:
            session.proxies.remove(proxy)
        proxy.remove_now()


@pytest.fixture
def duplex_client(request: pytest.FixtureRequest) -> Iterator[Callable[..., Awaitable[WatchedClient]]]:
    """A factory: ``c = await duplex_client(url, transport="sse", seq="id", resume="last-event-id",
    headers={...})`` runs Duplex's client with probe's reconnect, sequence and resume rules; closed after the
    test. Keywords beyond these are probe's options (``policy``, ``interval``, ``max_delay``, ``retries``,
    ``namespace``, ``sio_transport``, ``idle_timeout``, ``subprotocol``…)."""
    session = _session(request)
    made: list[WatchedClient] = []

    async def make(url: str, transport: str | None = None, *, seq: str = "auto", resume: str = "auto",
                   headers: Any = None, max_rows: int | None = None, **options: Any) -> WatchedClient:
        from transport.apps.testkit.client import MAX_ROWS, client_args, start_client
        args = client_args(url, transport, seq=seq, resume=resume, headers=headers, **options)
        c = await start_client(session.kit, args, max_rows=max_rows or MAX_ROWS, on_close=session.forget)
        made.append(c)
        session.track(c)
        return c
    request.node.stash[_CLIENTS] = made
    yield make
    for c in made:
        c.close_now()



@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test that used ``duplex_client`` shows each client's ledger in a section of its own."""
    report: Any = yield
    clients = item.stash.get(_CLIENTS, None)
    if clients and report.when == "call" and report.failed:
        lines = []
        for c in clients:
            try:
                led = c.ledger
                lines.append(f"{c.what}: {led.get('verdict', '')} (when the test ended: received "
                             f"{led.get('received', 0):,}, episodes {led.get('episodes', 0)}, recovered "
                             f"{led.get('recovered', 0)})")
            except Exception as exc:  # noqa: BLE001 (the report must not fail the report)
                lines.append(f"{c.what}: ledger unreadable: {exc}")
        report.sections.append(("duplex ledgers", "\n".join(lines)))
    return report
