"""Ending a lab process with its parent: stdin reaches EOF (the parent held its end), or the parent pid
changes (re-parented). ``--watch-parent`` of a worker and of a cluster's supervisor."""

from __future__ import annotations

import asyncio
import logging
import os
import threading

log = logging.getLogger("duplex.server")


def watch_parent(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Stop when stdin closes (the parent held its end) or we are re-parented."""
    parent = os.getppid()

    def read_stdin() -> None:
        try:  # raw reads: no buffered-reader lock to trip over at shutdown
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=read_stdin, name="parent-watch", daemon=True).start()

    async def poll_ppid() -> None:
        while not stop.is_set():
            if os.getppid() != parent:
                log.info("parent %d is gone: exiting", parent)
                stop.set()
            await asyncio.sleep(0.5)  # a periodic check, not a wait for a condition

    loop.create_task(poll_ppid())
