"""A counting TCP proxy for tests: the independent measure of bytes on the wire.

It listens on 127.0.0.1:0, forwards every connection to a target, and counts
the TCP payload bytes in each direction, as a packet capture would.
"""

from __future__ import annotations

import asyncio
import contextlib


class CountingProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.upstream = 0  # client → server
        self.downstream = 0  # server → client
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self.port = 0

    async def __aenter__(self) -> "CountingProxy":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def total(self) -> int:
        return self.upstream + self.downstream

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        a = asyncio.ensure_future(self._pipe(reader, up_writer, "upstream"))
        b = asyncio.ensure_future(self._pipe(up_reader, writer, "downstream"))
        self._tasks |= {a, b}
        try:
            await asyncio.gather(a, b, return_exceptions=True)
        finally:
            self._tasks -= {a, b}
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                setattr(self, direction, getattr(self, direction) + len(data))
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.write_eof()
