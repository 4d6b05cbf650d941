"""The example's server, started for each test as its own process on 127.0.0.1 (a port the OS picks), with a
history file in the test's tmp_path; ``restart()`` stops it and starts it again on the same port.

Set ``BROKEN_RESUME=1`` to run the tests against the server's deliberate resume bug and see what Duplex's
``assert_nothing_lost()`` says about it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


class SSEServer:
    def __init__(self, store: Path) -> None:
        self.store, self.port, self.proc = store, 0, None
        self.start()

    def start(self) -> None:
        cmd = [sys.executable, str(HERE / "server.py"), "--port", str(self.port), "--store", str(self.store)]
        if os.environ.get("BROKEN_RESUME") == "1":
            cmd.append("--broken-resume")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # "listening on http://127.0.0.1:PORT" (or EOF if it failed)
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"the SSE example server did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def sse_server(tmp_path):
    server = SSEServer(tmp_path / "events.log")
    yield server
    server.stop()
