"""What the benches' clients share, so the same code times each: a count of the messages read, and a
wake-up when it reaches a number."""

from __future__ import annotations

import asyncio


class Counted:
    """What every client in the comparison shares, so the same code times each: a count of the feed
    messages read, and a wake-up when it reaches a number."""

    name = ""

    def _setup(self) -> None:
        self.got = 0
        self.want = 1 << 62
        self.done = asyncio.Event()

    def _count(self, n: int = 1) -> None:
        self.got += n
        if self.got >= self.want:
            self.done.set()

    async def until(self, n: int) -> None:
        """Until ``n`` more messages have been read (the caller bounds the time)."""
        self.want = self.got + n
        if self.got < self.want:
            self.done.clear()
            await self.done.wait()
