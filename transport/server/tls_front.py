"""``python -m transport.server --tls``: the lab behind HAProxy as its TLS and HTTP/2 front.

The lab itself keeps serving plain HTTP/1.1 on a loopback port of its own; HAProxy (Debian's ``haproxy``, the
cluster's balancer too) terminates TLS in front of it with a throwaway certificate authority and a certificate
for 127.0.0.1, localhost and ::1 (transport/core/certs.py), made per run in the lab's own folder and removed at
exit. Two listening ports, both loopback unless the lab is exposed:

- the lab's address, with ALPN ``h2`` and ``http/1.1`` (``--http1``: ``http/1.1`` only): browsers multiplex
  every stream of a page over one HTTP/2 connection here, and open WebSockets over it as RFC 8441 says
  (HAProxy announces SETTINGS_ENABLE_CONNECT_PROTOCOL);
- ``http1_url``: the same lab with ALPN ``http/1.1`` only, for the experiments that set the two side by side.

HAProxy speaks HTTP/1.1 to the lab. A request that finds the lab down (a restart) is retried by HAProxy every
second for up to ``RETRY_S`` seconds instead of answering 503: an EventSource fails for good on a 503, and a
restarted server behind a real front is reached again the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transport.core import certs
from transport.core.certs import LabCerts
from transport.core.child_process import end_group, free_port, own_group_dying_with_parent
from transport.server.runner import reachable_host

HAPROXY_NOT_FOUND = ("The TLS lab needs HAProxy as its TLS and HTTP/2 front: install it "
                     "(Debian: apt install haproxy).")
RETRY_S = 40  # a lab restart longer than this reaches its clients as a 503
START_S = 20.0


class FrontError(Exception):
    """One sentence: why the TLS front did not start."""


def tls_bind(host: str, port: int, certs: LabCerts, alpn: tuple[str, ...]) -> str:
    """One HAProxy ``bind`` line serving TLS with ``alpn`` on ``host:port``."""
    address = f"[{host}]" if ":" in host else host
    return f"  bind {address}:{port} ssl crt {certs.server_pem} alpn {','.join(alpn)}"


def haproxy_maxconn() -> int:
    """As many connections as the file limit allows HAProxy (two descriptors each), 1000 to 100 000."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return max(1000, min(100_000, ((hard if hard != resource.RLIM_INFINITY else 200_000) - 200) // 2))


def alpn_for(http1_only: bool) -> tuple[str, ...]:
    return ("http/1.1",) if http1_only else ("h2", "http/1.1")


async def launch_haproxy(config: Path, host: str, port: int, *extra: str) -> asyncio.subprocess.Process:
    """HAProxy on ``config`` (``extra``: more arguments, a reload's ``-sf PID``), returned once ``host:port``
    accepts (bounded); FrontError with HAProxy's own reason when it ends first or never listens."""
    binary = shutil.which("haproxy")
    if binary is None:
        raise FrontError("HAProxy is not installed (Debian: apt install haproxy).")
    proc = await asyncio.create_subprocess_exec(
        binary, "-db", "-f", str(config), *extra, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        preexec_fn=own_group_dying_with_parent)
    for _ in range(int(START_S / 0.05)):
        if proc.returncode is not None:
            assert proc.stderr is not None
            said = (await proc.stderr.read(4000)).decode("utf-8", "replace").strip().splitlines()
            alerts = [line for line in said if "ALERT" in line] or said
            raise FrontError(alerts[0] if alerts else "no reason given")
        try:
            _r, writer = await asyncio.open_connection(host, port)
            writer.close()
            return proc
        except OSError:
            await asyncio.sleep(0.05)  # its port not open yet: bounded
    end_group(proc.pid)
    await proc.wait()
    raise FrontError(f"it did not listen on port {port} within {START_S:g} s")


async def _drain(stream: asyncio.StreamReader) -> None:
    with contextlib.suppress(Exception):
        while await stream.read(65536):
            pass


@dataclass
class TlsLab:
    """One TLS lab's front: its certificates and folder (``prepare`` before the lab starts), HAProxy in front of
    the lab's port (``start``), and all of it gone at ``stop``."""
    folder: Path
    certs: LabCerts
    host: str
    port: int
    http1_port: int
    alpn: tuple[str, ...]
    header_timeout: float
    owned: bool = True  # the folder is ours to remove (not one the window gave with --tls-folder)
    upstream_port: int = 0  # the lab's own plain port, once it listens
    _proc: asyncio.subprocess.Process | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @classmethod
    def prepare(cls, args: Any) -> "TlsLab":
        if shutil.which("haproxy") is None:
            raise FrontError(HAPROXY_NOT_FOUND)
        given = getattr(args, "tls_folder", None)
        folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="duplex-tls-"))
        made = certs.kept(folder) if given else certs.write(folder)
        return cls(folder, made, args.host, args.port or free_port(), free_port(), alpn_for(args.http1),
                   args.header_timeout, owned=not given)

    def config(self) -> str:
        return f"""global
  maxconn {haproxy_maxconn()}
defaults
  mode http
  option http-no-delay
  timeout connect 1s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
  timeout http-request {self.header_timeout:g}s
  timeout client-fin 2s
  timeout server-fin 2s
frontend lab
{tls_bind(self.host, self.port, self.certs, self.alpn)}
{tls_bind(self.host, self.http1_port, self.certs, ("http/1.1",))}
  default_backend lab
backend lab
  # the lab restarting: try again each second (HAProxy's turn-around) rather than answer 503
  retries {RETRY_S}
  retry-on conn-failure empty-response
  http-request disable-l7-retry unless METH_GET || METH_HEAD
  server lab 127.0.0.1:{self.upstream_port}
"""

    async def start(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        path = self.folder / "haproxy-tls.cfg"
        path.write_text(self.config(), encoding="utf-8")
        try:
            self._proc = await launch_haproxy(path, reachable_host(self.host), self.port)
        except FrontError as exc:
            raise FrontError(f"HAProxy (the TLS front) did not start: {exc}") from None
        assert self._proc.stderr is not None
        self._tasks.append(asyncio.ensure_future(_drain(self._proc.stderr)))

    def announce(self) -> dict[str, Any]:
        host = reachable_host(self.host)
        return {"url": https_url(host, self.port), "port": self.port,
                "tls": tls_said(self.certs, self.alpn, https_url(host, self.http1_port))}

    def remove(self) -> None:
        if self.owned:
            shutil.rmtree(self.folder, ignore_errors=True)
        else:
            (self.folder / "haproxy-tls.cfg").unlink(missing_ok=True)

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            end_group(proc.pid)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 5)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.remove()


def https_url(host: str, port: int) -> str:
    return f"https://{f'[{host}]' if ':' in host else host}:{port}"


def tls_said(made: LabCerts, alpn: tuple[str, ...], http1_url: str) -> dict[str, Any]:
    """The first line's ``tls``: which CA to trust, what ALPN offers, the http/1.1-only address, the pin."""
    return {"ca": str(made.ca_file), "alpn": list(alpn), "http1_url": http1_url, "spki": made.spki}
