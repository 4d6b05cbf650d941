"""The lab server as a child process, owned by the window.

Started with ``python -m transport.server --port 0 --watch-parent``; its first
stdout line announces the URL and admin token. The child holds our pipe on its
stdin: when this process dies, even by SIGKILL, the child reads EOF and exits.

The lab keeps its history in a file of this run's own temporary folder, so
``kill_and_restart`` (SIGKILL, then a new process on the same port) loses
nothing, or, when the user asks, deletes the file first: the new process
numbers from 1 again and clients resuming from the old numbering get a
declared reset.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from transport.clients.tls import trust
from transport.core import announce
from transport.core.errors import DuplexError

log = logging.getLogger("duplex.lab")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


# The app's lab keeps more history than the CLI's default (10 000): a short poll every second must still
# find its resume point at the feed rates the window takes (tens of thousands a second). ~9 MB of lab
# envelopes; --history-bytes bounds it anyway.
APP_HISTORY = 200_000


CLUSTER_STOP_S = 12  # a cluster's supervisor ends 5 processes, each within 5 s: past this it is killed

def lab_level(line: str) -> int:
    """The level the lab logged a stderr line at (its format: ``time name LEVEL message``); a line in no
    such format (a traceback's) is a warning."""
    for word in line.split(" ", 4)[:4]:
        level = logging.getLevelName(word)
        if isinstance(level, int):
            return level
    return logging.WARNING


class LabProcess(QObject):
    listening = Signal(str, str)  # url, admin token
    failed = Signal(str)  # one sentence
    stopped = Signal()
    killed = Signal(float, bool)  # killed on purpose: seconds until the restart, history kept
    clusterChanged = Signal(object)  # a cluster's workers after one was killed or restarted (a list of dicts)

    def __init__(self, rate: float = 5.0, parent: QObject | None = None, extra: tuple[str, ...] = ()) -> None:
        super().__init__(parent)
        self.rate = rate
        self.extra = extra  # more server options (the Compare tab's own lab)
        self.cluster: tuple[int, str, str] = (0, "roundrobin", "shared")  # workers (0: one process), balance, sessions
        self.tls = False  # HTTPS/WSS and HTTP/2 through HAProxy (--tls), its CA kept in this run's folder
        self.url = ""
        self.token = ""
        self.announced: dict = {}  # the whole listening line (last_seq, loaded…)
        self._buffer = b""
        self._announced = False
        self._stopping = False
        self._restart: tuple[float, bool] | None = None  # a kill on purpose: (down seconds, keep history)
        self._port = 0
        self._elsewhere = False  # the restart's port was taken: start again on any port
        self._folder: str | None = None  # made when the lab first starts: a window that never starts one leaves none
        self.proc = QProcess(self)
        self.proc.setProgram(sys.executable)
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

    def start(self, port: int = 0) -> None:
        self._stopping = False
        self._announced = False
        self._buffer = b""
        n, balance, sessions = self.cluster
        # a cluster keeps its history in Redis (the stream), one process in its file
        where = ["--cluster", str(n), "--balance", balance, "--sessions", sessions] if n else \
            ["--history-file", self.history_file]
        tls = ["--tls", "--tls-folder", self.tls_folder] if self.tls else []
        self.proc.setArguments(["-m", "transport.server", "--port", str(port), "--rate", f"{self.rate:g}",
                                "--history", str(APP_HISTORY), *where, *tls,
                                "--watch-parent", "--log-level", "WARNING",
                                *self.extra])
        self.proc.start()

    def kill_and_restart(self, down_s: float, keep_history: bool) -> bool:
        """SIGKILL the lab (no goodbye to anyone), start a new one on the same port after ``down_s``;
        without ``keep_history`` its history file goes first. False if it is not running."""
        if not self.running or self._restart is not None:
            return False
        self._restart = (down_s, keep_history)
        self.proc.kill()
        return True

    def _restart_now(self, keep_history: bool) -> None:
        if not keep_history:
            Path(self.history_file).unlink(missing_ok=True)
        self.start(self._port)

    def stop(self, timeout_ms: int = 2500) -> None:
        """Ask the child to end (SIGTERM), kill it if it has not within the timeout."""
        if not self.running:
            return
        self._stopping = True
        self.proc.terminate()
        if self.cluster[0]:  # a supervisor ends its workers, then HAProxy and Redis, then removes its folder
            timeout_ms = max(timeout_ms, CLUSTER_STOP_S * 1000)
        if not self.proc.waitForFinished(timeout_ms):  # at shutdown only: bounded
            self.proc.kill()
            self.proc.waitForFinished(1000)

    async def stop_async(self, timeout_s: float = 2.5) -> None:
        """``stop`` without blocking the GUI thread: SIGTERM, wait for the exit, SIGKILL after the timeout."""
        if not self.running:
            return
        self._stopping = True
        if self.cluster[0]:  # a supervisor ends its workers, then HAProxy and Redis, then removes its folder
            timeout_s = max(timeout_s, CLUSTER_STOP_S)
        done = asyncio.Event()

        def on_finished(*_args: object) -> None:
            done.set()

        self.proc.finished.connect(on_finished)
        try:
            self.proc.terminate()
            try:
                await asyncio.wait_for(done.wait(), timeout_s)
            except TimeoutError:
                self.proc.kill()
                await asyncio.wait_for(done.wait(), 2.0)
        finally:
            self.proc.finished.disconnect(on_finished)

    async def wait_listening(self, timeout_s: float = 20.0) -> tuple[str, str]:
        """Start and return (url, token) once the lab listens; DuplexError if it does not."""
        ready = asyncio.Event()
        failed: list[str] = []

        def on_failed(sentence: str) -> None:
            failed.append(sentence)
            ready.set()

        def on_listening(*_args: object) -> None:
            ready.set()

        self.listening.connect(on_listening)
        self.failed.connect(on_failed)
        try:
            self.start()
            try:
                await asyncio.wait_for(ready.wait(), timeout_s)
            except TimeoutError:
                raise DuplexError(f"The lab server did not start within {timeout_s:g} s.") from None
        finally:
            self.listening.disconnect(on_listening)
            self.failed.disconnect(on_failed)
        if failed:
            raise DuplexError(failed[0])
        return self.url, self.token

    @property
    def history_file(self) -> str:
        """This run's history file, in a folder of its own made on first use."""
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="duplex-lab-")
        return str(Path(self._folder) / "history.ndjson")

    @property
    def tls_folder(self) -> str:
        """Where the TLS lab's CA and certificate live: kept across the lab's restarts, removed with the run."""
        Path(self.history_file).parent.joinpath("tls").mkdir(mode=0o700, exist_ok=True)
        return str(Path(self.history_file).parent / "tls")

    def remove_files(self) -> None:
        """The history folder of this run (at shutdown, once the lab has stopped)."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def _on_proc_ready_read_stdout(self) -> None:
        self._buffer += bytes(self.proc.readAllStandardOutput().data())
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            if not line.strip():
                continue
            try:
                said = announce.parse(line)
            except announce.AnnounceError as exc:
                self.failed.emit(f"The lab server could not start: {exc}")
                continue
            if said is None:
                log.info("lab: %s", line.decode(errors="replace"))
                continue
            if said.event == "listening" and not self._announced:
                self._announced = True
                self.announced = dict(said.fields)
                self.url, self.token = said.url, said.admin_token
                self._port = said.port
                tls = said.fields.get("tls")
                if isinstance(tls, dict):  # every client of the lab's two TLS ports trusts its CA, and only it
                    trust(self.url, str(tls.get("ca")))
                    trust(str(tls.get("http1_url", "")), str(tls.get("ca")))
                log.info("lab server listening on %s", self.url)
                self.listening.emit(self.url, self.token)
            elif said.event == "cluster" and said.workers is not None:
                self.announced["workers"] = said.workers
                self.announced["balance"] = said.fields.get("balance")
                log.info("lab cluster: %s", said.fields.get("said"))
                self.clusterChanged.emit(said.workers)
            elif said.event == "error":
                if self._port:  # a restart found its port taken: any port is better than none
                    log.warning("lab: %s; trying another port", said.error)
                    self._port = 0
                    self._elsewhere = True
                    continue
                self.failed.emit(f"The lab server could not start: {said.error}")

    def _on_proc_ready_read_stderr(self) -> None:
        text = bytes(self.proc.readAllStandardError().data()).decode(errors="replace")
        for line in text.splitlines():
            if line.strip():
                log.log(lab_level(line), "lab: %s", line)

    def _on_proc_error_occurred(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.failed.emit(f"The lab server could not start: {self.proc.errorString()}")

    def _on_proc_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        restart, self._restart = self._restart, None
        if restart is not None:
            down_s, keep = restart
            self.killed.emit(down_s, keep)
            QTimer.singleShot(int(down_s * 1000), lambda: self._restart_now(keep))
            return
        if self._elsewhere:
            self._elsewhere = False
            self.start(0)
            return
        if not self._stopping:
            self.failed.emit(f"The lab server exited unexpectedly (exit code {code}).")
        self.stopped.emit()
