"""The Chrome DevTools Protocol over the ``websockets`` library Duplex already uses.

One :class:`CDPConnection` to a browser's DevTools WebSocket: commands get ids
and their answers are matched to them; events go to the listeners, with the
session they belong to (flat sessions: ``Target.attachToTarget`` with
``flatten``), in the order the browser sent them. The connection has no message
size limit (a response body can be large); every command has a time bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from transport.core.errors import DuplexError

log = logging.getLogger("duplex.cdp")

Listener = Callable[[str, dict[str, Any], str | None], None]  # (method, params, session id)
COMMAND_TIMEOUT = 15.0


class CDPError(DuplexError):
    """A DevTools command the browser refused, or a connection to it that failed."""


class CDPConnection:
    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: list[Listener] = []
        self._reader = asyncio.ensure_future(self._read())
        self.closed = asyncio.Event()
        self.close_reason = ""

    @classmethod
    async def connect(cls, url: str, timeout: float = 10.0) -> "CDPConnection":
        try:
            ws = await asyncio.wait_for(websockets.connect(url, max_size=None, ping_interval=None,
                                                           open_timeout=timeout), timeout)
        except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as err:
            raise CDPError(f"Could not reach the browser's DevTools at {url}: {err or type(err).__name__}.") from None
        return cls(ws)

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unlisten(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    async def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
                   timeout: float = COMMAND_TIMEOUT) -> dict[str, Any]:
        """Send a command and return its result (CDPError with the browser's message when it refuses)."""
        if self.closed.is_set():
            raise CDPError(f"The browser's DevTools connection is closed ({self.close_reason or 'closed'}).")
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        try:
            await self._ws.send(json.dumps(message))
            answer = await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise CDPError(f"The browser did not answer {method} within {timeout:g} s.") from None
        except websockets.ConnectionClosed:
            raise CDPError(f"The browser's DevTools connection closed during {method}.") from None
        finally:
            self._waiting.pop(ident, None)
        if "error" in answer:
            err = answer["error"]
            raise CDPError(f"The browser refused {method}: {err.get('message', err)}.")
        result = answer.get("result")
        return result if isinstance(result, dict) else {}

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                try:
                    message = json.loads(raw)
                except ValueError:
                    log.warning("DevTools sent text that is not JSON; ignored")
                    continue
                ident = message.get("id")
                if ident is not None:
                    future = self._waiting.get(ident)
                    if future is not None and not future.done():
                        future.set_result(message)
                    continue
                method = message.get("method")
                if isinstance(method, str):
                    params = message.get("params") or {}
                    for listener in list(self._listeners):
                        try:
                            listener(method, params, message.get("sessionId"))
                        except Exception:  # a listener's bug must not stop the reading
                            log.exception("a DevTools listener failed on %s", method)
        except websockets.ConnectionClosed as err:
            self.close_reason = str(err)
        finally:
            self.closed.set()
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(websockets.ConnectionClosedError(None, None))

    async def close(self) -> None:
        await self._ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        self.closed.set()
