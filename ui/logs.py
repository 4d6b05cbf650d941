"""Logging for the GUI: stderr and a file, written off the GUI thread."""

from __future__ import annotations

import logging
import logging.handlers
import os
import queue
from pathlib import Path

_listener: logging.handlers.QueueListener | None = None


def log_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "duplex" / "duplex.log"


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Route every record through a queue to stderr and a rotating file (a thread does the I/O)."""
    global _listener
    if _listener is not None:
        return None
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    path: Path | None = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(path, maxBytes=2 << 20, backupCount=2))
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
    return path


def stop_logging() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None
