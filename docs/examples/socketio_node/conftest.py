"""The example's Node server, started for each test on 127.0.0.1 (a port the OS picks), its last seq kept in
the test's tmp_path; ``restart()`` stops it and starts it again on the same port.

It needs Node.js and this folder's packages: ``npm install`` here (Duplex's CI does it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent


class NodeServer:
    def __init__(self, state: Path) -> None:
        self.state, self.port, self.proc = state, 0, None
        self.start()

    def start(self) -> None:
        node = shutil.which("node")
        if node is None or not (HERE / "node_modules" / "socket.io").is_dir():
            raise RuntimeError("this example needs Node.js and its packages: run `npm install` in " + str(HERE))
        self.proc = subprocess.Popen([node, str(HERE / "server.js"), "--port", str(self.port), "--state",
                                      str(self.state)], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # "listening on http://127.0.0.1:PORT" (or EOF if it failed)
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"the Socket.IO example server did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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
def sio_server(tmp_path):
    server = NodeServer(tmp_path / "seq.txt")
    yield server
    server.stop()
