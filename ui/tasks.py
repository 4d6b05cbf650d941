"""Owned asyncio tasks for widgets: started, tracked, cancelled, never silent."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Coroutine

from transport.core.errors import DuplexError

log = logging.getLogger("duplex.ui")


class TaskGroup:
    """Keeps references to running tasks and reports their failures as sentences."""

    def __init__(self, on_error: Callable[[str], None]) -> None:
        self._tasks: set[asyncio.Task] = set()
        self._on_error = on_error

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, DuplexError):
            log.warning("%s", exc.sentence)
            self._on_error(exc.sentence)
        elif exc is not None:
            log.error("task failed", exc_info=exc)
            self._on_error(f"Internal error: {type(exc).__name__}: {exc} (details in the log)")

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
