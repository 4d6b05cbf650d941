"""Driving a storm on Locust from another program (the GUI's Faults page), without importing Locust.

``LocalStorm`` runs ``python -m transport.loadtest.cli … --status`` (Locust's master and local
workers, as ``main.py storm`` does) and reads its status lines and its final ledger; stopping it
asks the storm to end the way its duration would (every user's ledger is collected). ``RemoteStorm``
follows a Locust master the user started elsewhere with Duplex's locustfile and its web UI: it
reads ``/duplex/status`` and stops the test with Locust's own ``/stop``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any, Callable

import aiohttp

from transport.core.child_process import end_group
from transport.core.errors import DuplexError

ROOT = Path(__file__).resolve().parents[2]
LINE_MAX = 1 << 20  # a status or result line (the result has a few histograms)
STDERR_KEEP = 4000  # the end of the storm's stderr, for the sentence when it fails
POLL_S = 1.0
FOREVER_S = 7 * 24 * 3600  # a storm from the GUI runs until stopped

Status = Callable[[dict[str, Any]], None]
Result = Callable[[dict[str, Any] | None, str], None]  # (aggregated ledger or None, a sentence if it failed)


@dataclass(frozen=True, slots=True)
class LocustStormSpec:
    """What the Faults page asks for."""

    users: int
    spawn_rate: float
    workers: int = 2  # local worker processes (Locust's --processes)
    master: str = ""  # a Locust master's web UI (http://host:8089) started elsewhere; "": start one here


def endpoint(info: Any, host: str) -> str:
    """The URL a storm's users connect to: the transport's endpoint on the lab when ``host`` is a server's
    address (no path), else ``host`` itself (Socket.IO's client adds its own path)."""
    if info.name == "socketio" or urlsplit(host).path not in ("", "/"):
        return host
    return str(info.lab_url(host))


def locust_missing() -> str:
    """One sentence when Locust is not installed here ("" when it is); looked up without importing it."""
    if importlib.util.find_spec("locust") is None:
        return "Locust is not installed: pip install 'duplex[load]' (or pip install locust) to run storms on it."
    return ""


class LocalStorm:
    def __init__(self, spec: LocustStormSpec, url: str, transport: str, token: str = "") -> None:
        self.spec, self.url, self.transport, self.token = spec, url, transport, token
        self._proc: asyncio.subprocess.Process | None = None
        self._stopping = False

    def command(self) -> list[str]:
        s = self.spec
        return [sys.executable, "-m", "transport.loadtest.cli", self.url, "--transport", self.transport,
                "--users", str(s.users), "--spawn-rate", f"{s.spawn_rate:g}", "--duration", str(FOREVER_S),
                "--workers", str(s.workers), "--status"]

    async def run(self, on_status: Status, on_result: Result) -> None:
        missing = locust_missing()
        if missing:
            on_result(None, missing)
            return
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", ""))
                                                            if p)}
        if self.token:
            env["DUPLEX_ADMIN_TOKEN"] = self.token  # never on a command line (ps shows those)
        proc = self._proc = await asyncio.create_subprocess_exec(
            *self.command(), cwd=str(ROOT), env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=LINE_MAX, start_new_session=True)
        assert proc.stdout is not None and proc.stderr is not None
        tail = bytearray()

        async def drain_stderr() -> None:
            assert proc.stderr is not None
            while chunk := await proc.stderr.read(65536):
                tail.extend(chunk)
                del tail[:-STDERR_KEEP]

        errors = asyncio.create_task(drain_stderr())
        result: dict[str, Any] | None = None
        try:
            while line := await proc.stdout.readline():
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict) and isinstance(obj.get("duplex_status"), dict):
                    on_status(obj["duplex_status"])
                elif isinstance(obj, dict) and isinstance(obj.get("duplex_storm"), dict):
                    result = obj["duplex_storm"]
            code = await proc.wait()
            await errors
        finally:
            if proc.returncode is None:
                end_group(proc.pid)
                await proc.wait()
            errors.cancel()
        last = bytes(tail).decode("utf-8", "replace").strip().splitlines()
        said = next((line.removeprefix("storm: ") for line in reversed(last) if line.startswith("storm: ")), "")
        if result is None:
            on_result(None, said or f"The storm ended (exit {code}) without its ledger.")
        else:
            on_result(result, "" if result.get("ok") else result.get("verdict", said))

    def stop(self) -> None:
        """End the storm: its users stop and their ledgers are collected (run() then reports them)."""
        proc = self._proc
        if proc is not None and proc.returncode is None and not self._stopping:
            self._stopping = True
            proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            end_group(proc.pid)


class RemoteStorm:
    """A Locust master started elsewhere (``locust -f transport/loadtest/locustfile.py --master``)."""

    def __init__(self, master: str) -> None:
        self.master = master.rstrip("/")
        self._stop = asyncio.Event()

    async def run(self, on_status: Status, on_result: Result) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        stopped = False
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for _ in range(int(FOREVER_S / POLL_S)):
                try:
                    if self._stop.is_set() and not stopped:
                        stopped = True
                        async with session.post(f"{self.master}/stop") as resp:  # Locust's web UI: POST
                            await resp.read()
                    async with session.get(f"{self.master}/duplex/status") as resp:
                        if resp.status == 404:
                            on_result(None, f"{self.master} is a Locust master without Duplex's locustfile "
                                            "(start it with -f transport/loadtest/locustfile.py).")
                            return
                        body = json.loads(await resp.content.read(LINE_MAX))
                except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                    on_result(None, f"The Locust master at {self.master} cannot be read: {exc or type(exc).__name__}.")
                    return
                status, result = body.get("duplex_status"), body.get("duplex_storm")
                if isinstance(status, dict):
                    on_status(status)
                if stopped and isinstance(result, dict):
                    on_result(result, "" if result.get("ok") else str(result.get("verdict", "")))
                    return
                if stopped:
                    await asyncio.sleep(POLL_S / 2)  # the master collects the workers' ledgers: ask again soon
                else:
                    try:
                        await asyncio.wait_for(self._stop.wait(), POLL_S)  # the next reading, or a stop now
                    except TimeoutError:
                        pass
        on_result(None, "The storm ran past its longest run time.")

    def stop(self) -> None:
        self._stop.set()

    def kill(self) -> None:
        self._stop.set()


def storm_runner(spec: LocustStormSpec, url: str, transport: str, token: str = "") -> LocalStorm | RemoteStorm:
    if spec.master:
        if not spec.master.startswith(("http://", "https://")):
            raise DuplexError(f"{spec.master!r} is not the http:// address of a Locust master's web UI.")
        return RemoteStorm(spec.master)
    return LocalStorm(spec, url, transport, token)
