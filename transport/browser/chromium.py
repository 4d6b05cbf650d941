"""The system's Chromium, started and stopped by Duplex, or one the user started (attach).

:func:`launch` starts Chromium with a throwaway profile (a temporary folder,
removed when it stops), DevTools on a port the OS picks, in its own process
group; on Linux the kernel kills it if Duplex dies (``PR_SET_PDEATHSIG``), and
:meth:`Chromium.stop` ends the whole group. :func:`devtools_url` turns the
address a user pastes (``127.0.0.1:9222``, ``http://…``, ``ws://…``) into the
browser's DevTools WebSocket URL.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from transport.core.child_process import own_group_dying_with_parent
from transport.core.errors import DuplexError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
START_TIMEOUT = 20.0
FLAGS = (  # quiet, private, reproducible: no first-run dialogs, no calls home, no background work
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-default-apps",
    "--disable-extensions", "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows", "--password-store=basic", "--use-mock-keychain",
    "--remote-allow-origins=*",
)


class NoChromium(DuplexError):
    fatal = True


def find_chromium() -> str | None:
    """The browser to start: $DUPLEX_CHROMIUM, else the first of the usual names on PATH."""
    named = os.environ.get("DUPLEX_CHROMIUM")
    if named:
        return named if os.path.isfile(named) and os.access(named, os.X_OK) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def no_chromium_sentence() -> str:
    return ("No Chromium found: install it (Debian: apt install chromium) or name it in DUPLEX_CHROMIUM; "
            "or start Chrome with --remote-debugging-port=9222 and attach to 127.0.0.1:9222.")


class Chromium:
    """A running Chromium that Duplex started."""

    def __init__(self, process: asyncio.subprocess.Process, profile: Path, devtools: str) -> None:
        self.process = process
        self.profile = profile
        self.devtools = devtools  # ws://127.0.0.1:PORT/devtools/browser/ID

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self, grace: float = 3.0) -> None:
        """End the browser and every process it started, then remove the profile. Cancelled on the way (a
        window closing), it still ends them and removes the profile, at once."""
        try:
            await self._stop(grace)
        except BaseException:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            remove_when_gone(self.process.pid, self.profile, wait_s=1.0)
            raise

    async def _stop(self, grace: float) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.process.wait(), grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # helpers that outlived the browser
        await asyncio.to_thread(remove_when_gone, self.process.pid, self.profile)


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies do not count)."""
    for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                return True
    return False


def remove_when_gone(pgid: int, profile: Path, wait_s: float = 3.0) -> None:
    """The profile removed once no process of the browser's group can write to it any more (a helper still
    dying after SIGKILL would leave files behind a removal that ran beside it); bounded."""
    deadline = time.monotonic() + wait_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)  # a dying process group: a bounded wait on the condition the removal needs
    for _ in range(3):
        shutil.rmtree(profile, True)
        if not profile.exists():
            _PROFILES.discard(profile)
            return


_PROFILES: set[Path] = set()  # profiles of browsers started here and not removed yet


@atexit.register
def _remove_profiles_left() -> None:
    """A browser never stopped (its process ends with ours): its profile does not outlive us either."""
    for profile in list(_PROFILES):
        shutil.rmtree(profile, True)


async def launch(headless: bool = True, binary: str | None = None, extra: tuple[str, ...] = ()) -> Chromium:
    """Start Chromium on about:blank; returns once its DevTools listen (bounded)."""
    binary = binary or find_chromium()
    if binary is None:
        raise NoChromium(no_chromium_sentence())
    profile = Path(tempfile.mkdtemp(prefix="duplex-chromium-"))
    _PROFILES.add(profile)
    args = [binary, f"--user-data-dir={profile}", "--remote-debugging-port=0", *FLAGS, *extra]
    if headless:
        args += ["--headless=new", "--disable-gpu", "--hide-scrollbars", "--mute-audio"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    args.append("about:blank")
    scratch = profile / "tmp"  # Chromium's own temporary folders (org.chromium.Chromium.*) go with the profile
    scratch.mkdir()
    try:
        process = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.DEVNULL,
                                                       stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=asyncio.subprocess.PIPE,
                                                       env={**os.environ, "TMPDIR": str(scratch)},
                                                       preexec_fn=own_group_dying_with_parent)
    except OSError as err:
        shutil.rmtree(profile, True)
        raise NoChromium(f"Could not start {binary}: {err.strerror or err}.") from None
    drain = asyncio.ensure_future(_keep_last_lines(process))
    browser = Chromium(process, profile, "")
    try:
        browser.devtools = await _wait_for_port(profile, process)
    except BaseException:
        await browser.stop(1.0)
        raise
    finally:
        if process.returncode is not None:
            drain.cancel()
    browser._drain = drain  # type: ignore[attr-defined]  # keeps stderr read (a full pipe would block it)
    return browser


_LAST_LINES: dict[int, list[str]] = {}


async def _keep_last_lines(process: asyncio.subprocess.Process, keep: int = 20) -> None:
    """Read Chromium's stderr to its end (bounded lines kept, for a failure's sentence)."""
    lines = _LAST_LINES.setdefault(process.pid, [])
    assert process.stderr is not None
    while True:
        line = await process.stderr.readline()
        if not line:
            return
        lines.append(line.decode("utf-8", "replace").strip()[:300])
        del lines[:-keep]


async def _wait_for_port(profile: Path, process: asyncio.subprocess.Process) -> str:
    """The DevTools WebSocket URL, from the DevToolsActivePort file Chromium writes in its profile."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.returncode is not None:
            last = "; ".join(_LAST_LINES.get(process.pid, [])[-3:])
            raise NoChromium(f"Chromium exited at start (code {process.returncode})" + (f": {last}" if last else "."))
        with contextlib.suppress(OSError):
            text = marker.read_text()
            lines = text.splitlines()
            if len(lines) >= 2 and lines[0].isdigit():
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        await asyncio.sleep(0.05)  # polling a file Chromium writes once: bounded by the deadline
    raise NoChromium(f"Chromium did not open its DevTools within {START_TIMEOUT:g} s.")


async def devtools_url(address: str, timeout: float = 5.0) -> str:
    """The browser's DevTools WebSocket URL for what a user pastes: ``host:port``, ``http://host:port``
    (asked at ``/json/version``) or the ``ws://…/devtools/browser/…`` URL itself."""
    text = address.strip()
    if text.startswith(("ws://", "wss://")):
        return text
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if not parts.hostname or not parts.port:
        raise DuplexError(f"A DevTools address looks like 127.0.0.1:9222, not {address!r}.")
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, parts.port), timeout)
    except (OSError, asyncio.TimeoutError) as err:
        raise DuplexError(f"Nothing answers at {parts.hostname}:{parts.port} (is the browser started with "
                          f"--remote-debugging-port={parts.port}?): {err or 'timed out'}.") from None
    try:
        writer.write(f"GET /json/version HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
                     "Connection: close\r\n\r\n".encode())
        raw = await asyncio.wait_for(reader.read(1 << 20), timeout)
    except (OSError, asyncio.TimeoutError) as err:
        raise DuplexError(f"{parts.hostname}:{parts.port} did not answer /json/version: {err or 'timed out'}.") \
            from None
    finally:
        writer.close()
    _head, _, body = raw.partition(b"\r\n\r\n")
    try:
        url = json.loads(body)["webSocketDebuggerUrl"]
    except (ValueError, KeyError, TypeError):
        raise DuplexError(f"{parts.hostname}:{parts.port} is not a browser's DevTools (no webSocketDebuggerUrl "
                          "at /json/version).") from None
    return str(url)
