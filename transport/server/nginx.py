"""A real reverse proxy in front of the lab: Debian's ``nginx``, started and stopped by Duplex itself.

Unprivileged and self-contained: a configuration written here, its error log (``-e``), pid file and
temporary paths in a folder of its own (removed at the end), ``daemon off`` and ``master_process off``
so it is one process in a process group of its own that dies with Duplex, listening on 127.0.0.1 only.
Run as root it would still switch its worker to ``nobody``; with no master process it stays one process
that never writes a temporary file (``proxy_max_temp_file_size 0``).

Its proxying is nginx's default (``proxy_buffering on``, one page of ``proxy_buffer_size``, HTTP/1.0 to
the upstream): what the ``buffer`` toxic emulates. Measured with Debian's nginx: over HTTP/1.0 a streamed
answer reaches the client in blocks of about 4 KiB; with ``proxy_http_version 1.1`` each chunk passes at
once even with buffering on (docs/decisions.md). ``buffering=False`` writes ``proxy_buffering off``. The
lab's WebSocket paths get nginx's WebSocket recipe (HTTP/1.1, ``Upgrade`` and ``Connection`` passed).

Debian's package also starts a system nginx on port 80 when it is installed; Duplex does not need it
(README: ``systemctl disable --now nginx``).
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
from pathlib import Path
from types import TracebackType

from transport.core.child_process import end_group, free_port, own_group_dying_with_parent
from transport.core.errors import DuplexError

NGINX_NOT_FOUND = "The real reverse proxy needs nginx: install it (Debian: apt install nginx)."
START_S = 10.0


def config(folder: Path, port: int, upstream: str, buffering: bool) -> str:
    temp = "\n".join(f"  {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                          "uwsgi", "scgi"))
    return f"""# written by Duplex: a reverse proxy in front of {upstream}
daemon off;
master_process off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 512; }}
http {{
  access_log off;
{temp}
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  server {{
    listen 127.0.0.1:{port};
    proxy_set_header Host $http_host;
    proxy_read_timeout 3600s;
    proxy_max_temp_file_size 0;
    proxy_buffering {"on" if buffering else "off"};
    # nginx's defaults: HTTP/1.0 to the upstream, buffering on
    location / {{
      proxy_pass http://{upstream};
    }}
    # WebSocket needs HTTP/1.1 and the upgrade passed on (nginx's own WebSocket recipe)
    location ~ ^/(ws|socket[.]io/) {{
      proxy_pass http://{upstream};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
    }}
  }}
}}
"""


class Nginx:
    """``async with Nginx("127.0.0.1:8080") as proxy: proxy.url`` — nginx in front of ``upstream``."""

    def __init__(self, upstream: str, buffering: bool = True) -> None:
        self.upstream, self.buffering = upstream, buffering
        self.port = 0
        self.folder: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if binary is None:
            raise DuplexError(NGINX_NOT_FOUND)
        self.folder = Path(tempfile.mkdtemp(prefix="duplex-nginx-"))
        for attempt in range(3):  # the port picked free may be taken before nginx binds it: try another
            self.port = free_port()
            conf = self.folder / "nginx.conf"
            conf.write_text(config(self.folder, self.port, self.upstream, self.buffering), encoding="utf-8")
            self._proc = await asyncio.create_subprocess_exec(
                binary, "-p", str(self.folder), "-e", str(self.folder / "error.log"), "-c", str(conf),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE, preexec_fn=own_group_dying_with_parent)
            said = await self._listening()
            if said is None:
                return
            if "Address already in use" not in said or attempt == 2:
                await self.stop()
                raise DuplexError(f"nginx did not start: {said}")

    async def _listening(self) -> str | None:
        """None once nginx accepts connections; else what it said as it ended."""
        assert self._proc is not None
        for _ in range(int(START_S / 0.05)):
            if self._proc.returncode is not None:
                assert self._proc.stderr is not None
                said = (await self._proc.stderr.read(4000)).decode("utf-8", "replace").strip()
                log = self.folder / "error.log" if self.folder else None
                if not said and log is not None and log.exists():
                    said = log.read_text(encoding="utf-8", errors="replace").strip()
                return said.splitlines()[-1] if said else f"exit {self._proc.returncode}, no reason given"
            try:
                _r, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return None
            except OSError:
                await asyncio.sleep(0.05)  # not listening yet: bounded
        return f"not listening after {START_S:g} s"

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            end_group(proc.pid, signal.SIGTERM)  # nginx's fast stop: open streams end now
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                end_group(proc.pid)
                await proc.wait()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    async def __aenter__(self) -> Nginx:
        await self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()
