"""Middlewares that only look at a request before its handler: plain functions, not coroutines.

aiohttp awaits what a middleware returns. A coroutine middleware that ends in
``return await handler(request)`` keeps its frame alive as long as the
handler runs, and a WebSocket or SSE handler runs as long as its connection:
five such frames were about 1.2 KB of every open connection. A pass-through
middleware returns the handler's awaitable instead (no frame of its own), and
its own answer wrapped by :func:`answered`.
"""

from __future__ import annotations

from aiohttp import web


async def answered(response: web.StreamResponse) -> web.StreamResponse:
    """A pass-through middleware's own response, as the awaitable aiohttp expects."""
    return response
