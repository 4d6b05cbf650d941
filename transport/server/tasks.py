"""The lab's own tasks: each one owned, so that shutdown can cancel it (app.py's on_shutdown)."""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine

from aiohttp import web

from transport.server.keys import TASKS


def spawn(app: web.Application, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """A task the lab owns: kept in ``app[TASKS]`` until it ends, cancelled at shutdown."""
    task = asyncio.ensure_future(coro)
    tasks = app[TASKS]
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task
