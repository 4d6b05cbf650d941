"""One asyncio loop in a daemon thread: where the kit's clients, proxies and admin calls run.

A test awaits the kit's coroutines on its own loop (:meth:`BackgroundLoop.awaitable`); a fixture's teardown,
which may run when that loop is closed or was never there, calls :meth:`BackgroundLoop.run`. Either way the
work happens here, on a loop that outlives every test that used it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Callable, Coroutine, TypeVar

T = TypeVar("T")

STOP_S = 5.0  # how long stop() waits for the loop's thread


async def called(fn: Callable[[], T]) -> T:
    """``fn()`` as a coroutine: a plain call to make on the kit's loop (what it reads or changes lives there)."""
    return fn()


class BackgroundLoop:
    def __init__(self, name: str = "duplex-testkit") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
        # stopped: whatever still runs is cancelled and allowed to finish its cleanup
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.wait(pending, timeout=STOP_S))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        if not self.alive:
            coro.close()
            raise RuntimeError("Duplex's test loop has stopped (the test session is over).")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` here and wait for it from another thread, at most ``timeout`` seconds."""
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"Duplex's test loop did not finish within {timeout:g} s") from None

    async def awaitable(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro``, run here, from the caller's own loop (cancelling the caller cancels it)."""
        return await asyncio.wrap_future(self.submit(coro))

    def call(self, fn: Any, *args: Any) -> None:
        if self.alive:
            self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        if self.alive:
            self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self._thread:
            self._thread.join(STOP_S + 1)
