"""Shared test helpers: condition waits with a timeout, the real lab process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, TypeVar

import aiohttp
import pytest

from aiohttp.test_utils import TestServer

from transport.core import announce
from transport.server.app import create_app
from transport.server.config import ServerConfig

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
# One unit of test timing, scaled by DUPLEX_TEST_TIMEOUT_SCALE on slow machines.
SCALE = float(os.environ.get("DUPLEX_TEST_TIMEOUT_SCALE", "1"))
# pytest plugins of this suite's environment that a user's own test suite has no reason to load: a pytest
# run in a process of its own (the pytest plugin's pytester runs, the examples) turns them off and starts in
# ~0.4 s instead of ~2 s (hypothesis and Locust's plugins are most of it)
FOREIGN_PLUGINS_OFF = ("-p", "no:locust", "-p", "no:pytest-qt", "-p", "no:xdist", "-p", "no:hypothesispytest",
                       "-p", "no:anyio")
# How often wait_until re-checks its condition (the DESIGN.md §8 helper: a
# condition wait with a timeout, never a fixed sleep standing in for one).
POLL_S = 0.01
# Tests that run Chromium run one at a time, in one xdist worker (make test: --dist loadgroup): several
# browsers at once on two cores starve each other past any fair timeout
CHROMIUM_GROUP = pytest.mark.xdist_group("chromium")


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition",
                     state: Callable[[], object] | None = None) -> None:
    """Await until ``predicate()`` holds; fail after ``timeout`` seconds (bounded polling), saying
    ``state()`` (the last state the assertion needs) when given."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout * SCALE
    while not predicate():
        if loop.time() > deadline:
            last = f"; last state: {_short(state())}" if state is not None else ""
            raise AssertionError(f"timed out after {timeout * SCALE:g} s waiting for {what}{last}")
        await asyncio.sleep(POLL_S)


async def wait_until_answered(ask: Callable[[], Awaitable[T]], good: Callable[[T], bool], timeout: float = 10.0,
                              what: str = "condition", every: float = 0.1) -> T:
    """``wait_until`` for a condition that takes a request to read (a server's answer): asked every
    ``every`` s until ``good(answer)``; any answer that is not yet the good one — a refused connection, a
    balancer's HTML error page where JSON was expected (ValueError), a timeout — is asked again; fails after
    ``timeout`` s with the last answer or error. Returns the good answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout * SCALE
    last: object = "nothing yet"
    while True:
        try:
            answer = await ask()
            last = answer
        except (OSError, aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            answer, last = None, f"{type(exc).__name__}: {exc}"  # not there yet: asked again
        if answer is not None and good(answer):
            return answer
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout * SCALE:g} s waiting for {what}; last answer: "
                                 f"{_short(last)}")
        await asyncio.sleep(every)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 600 else text[:600] + "…"


async def press(tab: object, label: str, timeout: float = 10.0) -> None:
    """Click a tab's Connect / Disconnect button once it says ``label``: the bar shows the client's state one
    bridge flush after the client has it, and a click means what the button says."""
    button = tab.bar.connect_button
    await wait_until(lambda: button.text() == label, timeout, f"the button to say {label}",
                     state=lambda: button.text())
    button.click()


class ClientRun:
    """A client running in the background, its events collected.

    ``make(sink)`` builds the client around the sink (any transport client).
    """

    def __init__(self, make: Callable[[Callable], object]) -> None:
        self.events: list = []
        self.client = make(self.events.append)
        self.task = asyncio.ensure_future(self.client.run())

    def kinds(self, direction: str | None = None) -> list[str]:
        return [e.kind for e in self.events if direction is None or e.direction == direction]

    def rows(self, kind: str) -> list:
        return [e for e in self.events if e.kind == kind]

    async def result(self, timeout: float = 10.0):
        return await asyncio.wait_for(self.task, timeout * SCALE)

    async def stop(self):
        await self.client.close()
        return await self.result()


def free_port() -> int:
    """A 127.0.0.1 port with nothing listening on it (bound by us, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def drop_then_restart(tab, down_s: int = 1) -> None:
    """Drive a transport tab through Drop connection, then Restart server; wait for
    recovery from each and for live messages after (the buttons a user clicks)."""
    led = lambda: tab.controller.client.ledger  # noqa: E731

    def drop_row():
        return next((e for e in reversed(tab.controller.model.events())
                     if e.kind == "fault" and e.meta.get("fault") == "drop"), None)
    tab.bar.drop_button.click()
    await wait_until(lambda: drop_row() is not None, 15, "the drop's row")
    # an idle short poll's drop has nothing in flight: a row, not a loss episode
    episodes = 1 if drop_row().meta.get("in_flight", True) else 0
    await wait_until(lambda: len(led().episodes) == episodes and (not episodes or led().episodes[-1].recovered),
                     15, "recovery from drop")
    tab.bar.down_s.setValue(down_s)
    tab.bar.restart_button.click()
    await wait_until(lambda: len(led().episodes) == episodes + 1 and led().episodes[-1].recovered, 20,
                     "recovery from restart")
    target = led().received + 10
    await wait_until(lambda: led().received >= target, 15, "live again")


def stop_child(proc: subprocess.Popen, timeout: float = 10) -> None:
    """End a child that exits when its stdin closes; kill it if it has not within ``timeout`` s."""
    proc.stdin.close()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    proc.stdout.close()


def read_line(stream, timeout: float) -> bytes:
    """One line from a pipe, or fail after ``timeout`` seconds (never hangs)."""
    deadline = time.monotonic() + timeout * SCALE
    buf = b""
    fd = stream.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no line within {timeout} s (got {buf!r})")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1)
            if not chunk:
                raise AssertionError(f"stream closed before a full line (got {buf!r})")
            buf += chunk
    return buf


@dataclass
class LabProcess:
    proc: subprocess.Popen
    url: str
    port: int
    token: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdout, self.proc.stdin):
            if stream is not None:
                stream.close()
        return self.proc.returncode


def start_lab(*args: str, rate: float = 50, extra: list[str] | None = None) -> LabProcess:
    cmd = [sys.executable, "-m", "transport.server", "--port", "0", "--rate", str(rate),
           "--log-level", "WARNING", *args, *(extra or [])]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        said = announce.parse(read_line(proc.stdout, 15))
        if said is None or said.event != "listening":
            raise AssertionError(f"the lab did not start: {said}")
    except BaseException:
        proc.kill()
        proc.wait(5)
        raise
    return LabProcess(proc, said.url, said.port, said.admin_token)


@contextlib.asynccontextmanager
async def in_process_lab(config: ServerConfig) -> AsyncIterator[TestServer]:
    """The lab app in this process on 127.0.0.1:0 (``server.port``, ``server.app``), closed after."""
    server = TestServer(create_app(config), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def lab_starter(**settings: object) -> Callable[[float], contextlib.AbstractAsyncContextManager[tuple[str, str]]]:
    """What Compare's runs take to start a lab (``rate`` → ``(url, token)``): an in-process one."""
    @contextlib.asynccontextmanager
    async def start(rate: float) -> AsyncIterator[tuple[str, str]]:
        config = ServerConfig(rate=rate, **settings)  # type: ignore[arg-type]
        async with in_process_lab(config) as server:
            yield f"http://127.0.0.1:{server.port}", config.admin_token
    return start
