"""One asyncio loop in a native thread of a gevent process (a Locust worker).

Locust runs its users as greenlets; Duplex's clients are asyncio. Each worker process starts
one asyncio loop in a real OS thread (gevent's unpatched ``start_new_thread``: a patched
``threading.Thread`` would be a greenlet) and hands clients to it with
``run_coroutine_threadsafe``. The clients' rows come back through a ``deque`` (append and
popleft are atomic; no lock a greenlet could block the hub on), drained by a greenlet.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections import deque
from typing import Any, Callable, Coroutine

import gevent
from gevent._threading import start_new_thread  # the real OS thread, whatever monkey-patching did
from gevent.monkey import get_original

STEP_S = 0.05  # how often a greenlet looks at a result from the loop's thread


_GETADDRINFO = get_original("socket", "getaddrinfo")


class _Loop(asyncio.SelectorEventLoop):
    """asyncio resolves names in its default executor, whose threads gevent turned into greenlets (of a
    hub this thread does not run: a lookup would never end). Here a lookup is the C library's own, on
    the loop's thread: instant for an IP address or /etc/hosts, one resolver round trip otherwise."""

    async def getaddrinfo(self, host: Any, port: Any, *, family: int = 0, type: int = 0, proto: int = 0,
                          flags: int = 0) -> Any:
        return _GETADDRINFO(host, port, family, type, proto, flags)


class LoopThread:
    def __init__(self) -> None:
        # gevent swapped the selectors module's classes for its own (they wait on the hub, which does
        # not run in this thread): the loop gets the original one
        self.loop = _Loop(get_original("selectors", "DefaultSelector")())
        self.inbox: deque[Any] = deque()  # from the loop's thread to the greenlets, in order
        self._started = False

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        start_new_thread(self._run, ())

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        """Run ``coro`` on the loop (from a greenlet); its future, to poll with :func:`wait`."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, fn: Callable[[], Any]) -> None:
        self.loop.call_soon_threadsafe(fn)

    def stop(self) -> None:
        if self._started:
            self.loop.call_soon_threadsafe(self.loop.stop)


def wait(future: concurrent.futures.Future, timeout: float) -> Any:
    """A future of the loop's thread, awaited from a greenlet without blocking the hub (polled,
    bounded by ``timeout``); None if it did not finish in time."""
    steps = max(1, int(timeout / STEP_S))
    for _ in range(steps):
        if future.done():
            return future.result()
        gevent.sleep(STEP_S)
    return future.result() if future.done() else None
