"""Logging for the GUI: everything to a rotating file in the user's state folder (Help → Show log), only
warnings to the terminal and each kind of warning once; written off the GUI thread."""

from __future__ import annotations

import logging
import logging.handlers
import os
import queue
from pathlib import Path

_listener: logging.handlers.QueueListener | None = None
_path: Path | None = None


class OncePerKind(logging.Filter):
    """Lets the first record of each kind through (a kind: the logger and the message before its
    arguments are filled in), so a warning that repeats every second is said once on the terminal."""

    def __init__(self, limit: int = 1000) -> None:
        super().__init__()
        self.seen: set[tuple[str, str]] = set()
        self.limit = limit  # kinds remembered (a bound: after it, every record passes)

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, str(record.msg))
        if kind in self.seen:
            return False
        if len(self.seen) < self.limit:
            self.seen.add(kind)
        return True


def log_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "duplex" / "duplex.log"


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Route every record through a queue to stderr and a rotating file (a thread does the I/O)."""
    global _listener
    if _listener is not None:
        return None
    global _path
    terminal = logging.StreamHandler()
    terminal.setLevel(logging.WARNING)
    terminal.addFilter(OncePerKind())
    handlers: list[logging.Handler] = [terminal]
    path: Path | None = log_path()
    try:
        file = log_path()
        file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(file, maxBytes=2 << 20, backupCount=2))
    except OSError:
        path = None
    fmt = logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s")
    for h in handlers:
        h.setFormatter(fmt)
    q: queue.SimpleQueue = queue.SimpleQueue()
    root = logging.getLogger()
    root.setLevel(level)
    root.addHandler(logging.handlers.QueueHandler(q))
    _listener = logging.handlers.QueueListener(q, *handlers, respect_handler_level=True)
    _listener.start()
    _path = path
    return path


def current_log() -> Path | None:
    """The log file being written (None: logging to a file failed, or was never set up)."""
    return _path


def stop_logging() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None
