"""Run the lab server: bind, announce, go down and come back, stop cleanly.

``LabRunner`` owns the listening socket. ``go_down(S)`` closes every
WebSocket with 1012 (service restart), ends every SSE stream, stops listening, drops open HTTP
connections, and after S seconds listens again on the same port. The feed and
its history live on, so clients can resume where they stopped.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from transport.server.admin import close_websockets
from transport.server.app import create_app
from transport.server.config import ServerConfig
from transport.server.keys import CONNECTIONS, GO_DOWN
from transport.server.sse import end_streams

log = logging.getLogger("duplex.server")

REBIND_ATTEMPTS = 40
REBIND_DELAY_S = 0.25


def reachable_host(host: str) -> str:
    """An address that reaches a bind on ``host``: loopback for a wildcard bind (0.0.0.0, ::)."""
    return "::1" if host == "::" else "127.0.0.1" if host in ("0.0.0.0", "") else host


class LabRunner:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.app = create_app(config)
        self.app[GO_DOWN] = self.go_down
        self.app[CONNECTIONS] = self.connections
        # aiohttp's keep-alive timer also runs while a request's head is incomplete: it is the header timeout
        self._runner = web.AppRunner(self.app, shutdown_timeout=config.shutdown_timeout,
                                     keepalive_timeout=config.header_timeout, handle_signals=False, access_log=None)
        self._site: web.TCPSite | None = None
        self._down_lock = asyncio.Lock()
        self.port = config.port
        self.down = False

    @property
    def url(self) -> str:
        """A URL that reaches the lab: a wildcard bind (0.0.0.0, ::) is reachable on loopback."""
        host = reachable_host(self.config.host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def start(self) -> int:
        await self._runner.setup()
        await self._listen(self.config.port)
        return self.port

    async def _listen(self, port: int) -> None:
        site = web.TCPSite(self._runner, self.config.host, port, reuse_address=True)
        await site.start()
        if port == 0:  # read back the port the OS chose
            port = self._runner.addresses[0][1]
        self._site = site
        self.port = port

    async def go_down(self, down_s: float) -> None:
        async with self._down_lock:
            self.down = True
            log.info("going down for %.1f s", down_s)
            await close_websockets(self.app, 1012, "service restart")
            end_streams(self.app)
            if self._site is not None:
                await self._site.stop()
                self._site = None
            server = self._runner.server
            if server is not None:
                for conn in server.connections:
                    conn.force_close()
            await asyncio.sleep(down_s)  # the outage itself, not a wait for a condition
            for attempt in range(1, REBIND_ATTEMPTS + 1):
                try:
                    await self._listen(self.port)
                    break
                except OSError as exc:
                    log.warning("port %d not free yet (%s), attempt %d", self.port, exc, attempt)
                    await asyncio.sleep(REBIND_DELAY_S)
            else:
                log.error("could not listen on port %d again", self.port)
                return
            self.down = False
            log.info("listening again on %s", self.url)

    def connections(self) -> int:
        """Open TCP connections to the server (HTTP keep-alive, held requests, streams, WebSockets)."""
        server = self._runner.server
        return len(server.connections) if server is not None else 0

    async def stop(self) -> None:
        await self._runner.cleanup()
