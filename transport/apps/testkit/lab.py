"""A lab process for a test session: ``python -m transport.server`` on 127.0.0.1, an OS-chosen port, a token
of its own, ended with the session (and by the kernel, with ``--watch-parent``, if the session dies)."""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Generator

from transport.clients.lab_admin import lab_stats, post_fault
from transport.core import announce
from transport.core.errors import DuplexError
from transport.core.wire import SSE_PATH, WS_PATH

from .loop import BackgroundLoop

START_S = 30.0  # the lab's first line: imports and a bind (~0.5 s here; slow CI machines take longer)
CALL_S = 10.0  # one admin call
BACK_S = 30.0  # a restarted lab answering again


class LabError(RuntimeError):
    """The lab could not start or answer: one sentence, with what it wrote on stderr."""


def _line(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    """The lab's first line, or LabError after ``timeout`` seconds; never hangs."""
    assert proc.stdout is not None
    fd, buf, deadline = proc.stdout.fileno(), b"", time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise LabError(f"the lab wrote no first line within {timeout:g} s")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise LabError("the lab exited before it listened")
            buf += chunk
    return buf.split(b"\n", 1)[0]


class Done:
    """What :meth:`Lab.restart` returns: the restart is asked for already; awaiting it also waits until the
    lab answers again (so ``lab.restart(1)`` and ``await lab.restart(1)`` both read well)."""

    def __init__(self, then: Callable[[], Any]) -> None:
        self._then = then

    def __await__(self) -> Generator[Any, None, None]:
        return self._then().__await__()


class Lab:
    """``url``, ``admin_token``, ``ws_url``, ``sse_url``, ``port``; ``restart(down_s)``; ``stop()``."""

    def __init__(self, kit: BackgroundLoop, *, rate: float = 20.0, mark: Callable[[str, None], None] | None = None,
                 extra: tuple[str, ...] = ()) -> None:
        self._kit = kit
        self._mark = mark or (lambda text, through: None)  # through no proxy: every client of the lab
        self._stderr = tempfile.TemporaryFile(prefix="duplex-lab-")
        cmd = [sys.executable, "-m", "transport.server", "--host", "127.0.0.1", "--port", "0", "--rate", str(rate),
               "--log-level", "WARNING", "--watch-parent", *extra]
        root = str(Path(__file__).resolve().parents[3])  # the checkout (an editable install runs from it)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     env=env)
        try:
            said = announce.parse(_line(self.proc, START_S))
            if said is None or said.event != "listening":
                raise LabError(f"the lab did not start: {said.error if said is not None else 'no first line'}")
        except BaseException as exc:
            self.stop()
            if isinstance(exc, LabError):
                raise LabError(f"{exc}{self._said()}") from None
            raise
        self.url: str = said.url
        self.port: int = said.port
        self.admin_token: str = said.admin_token
        self.ws_url = f"ws://127.0.0.1:{self.port}{WS_PATH}"
        self.sse_url = f"{self.url}{SSE_PATH}"

    def _said(self) -> str:
        self._stderr.seek(0)
        tail = self._stderr.read()[-800:].decode("utf-8", "replace").strip()
        return f"; it said: {tail}" if tail else ""

    def __repr__(self) -> str:
        return f"<duplex lab {self.url}>"

    def restart(self, down_s: float = 2.0) -> Done:
        """Restart the lab's server: every connection ends, nothing listens for ``down_s`` seconds, then it
        serves again with its history (a client that resumes loses nothing). Await it to wait until it
        answers again."""
        self._mark(f"lab restart (down {down_s:g} s)", None)
        self._kit.run(post_fault(self.url, self.admin_token, {"action": "restart", "down_s": down_s}), CALL_S)
        return Done(lambda: self._kit.awaitable(self._back(down_s)))

    async def _back(self, down_s: float) -> None:
        deadline = time.monotonic() + down_s + BACK_S
        while True:  # bounded: BACK_S past the downtime
            try:
                await lab_stats(self.url, self.admin_token, timeout=2.0)
                return
            except DuplexError as exc:
                if time.monotonic() > deadline:
                    raise LabError(f"the lab did not answer {down_s + BACK_S:g} s after its restart: "
                                   f"{exc.sentence}") from None
            await asyncio.sleep(0.05)  # polling a port that is closed on purpose: no event to wait on

    async def fault(self, action: str, **fields: Any) -> dict[str, Any]:
        """Any fault action of the lab's admin API (``close_websockets``, ``end_streams``, ``burst``…)."""
        self._mark(f"lab {action}" + (f" {fields}" if fields else ""), None)
        return await self._kit.awaitable(post_fault(self.url, self.admin_token, {"action": action, **fields}))

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """End the process (SIGTERM, then SIGKILL after 5 s); idempotent."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()
