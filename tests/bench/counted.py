"""What the benches' clients share, so the same code times each: a count of the messages read, and a
wake-up when it reaches a number."""

from __future__ import annotations

import asyncio


class Counted:
    """What every client in the comparison shares, so the same code times each: a count of the feed
    messages read, and a wake-up when it reaches a number."""

    name = ""

    def reset(self) -> None:
        self.got = 0
        self.want = 1 << 62
        self.done = asyncio.Event()

    def count(self, n: int = 1) -> None:
        self.got += n
        if self.got >= self.want:
            self.done.set()

    def expect(self, n: int) -> None:
        """From now, wake when ``n`` more have been read (called before what sends them: none is missed)."""
        self.want = self.got + n
        self.done.clear()

    async def reached(self) -> None:
        """Until what :meth:`expect` asked for has been read (the caller bounds the time)."""
        if self.got < self.want:
            await self.done.wait()

    async def until(self, n: int) -> None:
        """Until ``n`` more messages have been read."""
        self.expect(n)
        await self.reached()
