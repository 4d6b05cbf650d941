"""The lab server as a child process, owned by the window.

Started with ``python -m transport.server --port 0 --watch-parent``; its first
stdout line announces the URL and admin token. The child holds our pipe on its
stdin: when this process dies, even by SIGKILL, the child reads EOF and exits.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

log = logging.getLogger("duplex.lab")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class LabProcess(QObject):
    listening = Signal(str, str)  # url, admin token
    failed = Signal(str)  # one sentence
    stopped = Signal()

    def __init__(self, rate: float = 5.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rate = rate
        self.url = ""
        self.token = ""
        self._buffer = b""
        self._announced = False
        self._stopping = False
        self.proc = QProcess(self)
        self.proc.setProgram(sys.executable)
        self.proc.setArguments(["-m", "transport.server", "--port", "0", "--rate", f"{rate:g}",
                                "--watch-parent", "--log-level", "WARNING"])
        self.proc.setWorkingDirectory(str(PROJECT_ROOT))
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        self.proc.setProcessEnvironment(env)
        self.proc.readyReadStandardOutput.connect(self._on_proc_ready_read_stdout)
        self.proc.readyReadStandardError.connect(self._on_proc_ready_read_stderr)
        self.proc.errorOccurred.connect(self._on_proc_error_occurred)
        self.proc.finished.connect(self._on_proc_finished)

    @property
    def running(self) -> bool:
        return self.proc.state() != QProcess.ProcessState.NotRunning

    def pid(self) -> int:
        return int(self.proc.processId())

    def start(self) -> None:
        self._stopping = False
        self._announced = False
        self._buffer = b""
        self.proc.start()

    def stop(self, timeout_ms: int = 2500) -> None:
        """Ask the child to end (SIGTERM), kill it if it has not within the timeout."""
        if not self.running:
            return
        self._stopping = True
        self.proc.terminate()
        if not self.proc.waitForFinished(timeout_ms):  # at shutdown only: bounded
            self.proc.kill()
            self.proc.waitForFinished(1000)

    def _on_proc_ready_read_stdout(self) -> None:
        self._buffer += bytes(self.proc.readAllStandardOutput().data())
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            if not line.strip():
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                log.info("lab: %s", line.decode(errors="replace"))
                continue
            if msg.get("event") == "listening" and not self._announced:
                self._announced = True
                self.url, self.token = msg["url"], msg["admin_token"]
                log.info("lab server listening on %s", self.url)
                self.listening.emit(self.url, self.token)
            elif msg.get("event") == "error":
                self.failed.emit(f"The lab server could not start: {msg.get('error')}")

    def _on_proc_ready_read_stderr(self) -> None:
        text = bytes(self.proc.readAllStandardError().data()).decode(errors="replace")
        for line in text.splitlines():
            if line.strip():
                log.warning("lab: %s", line)

    def _on_proc_error_occurred(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.failed.emit(f"The lab server could not start: {self.proc.errorString()}")

    def _on_proc_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if not self._stopping:
            self.failed.emit(f"The lab server exited unexpectedly (exit code {code}).")
        self.stopped.emit()
