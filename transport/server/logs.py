"""The lab's log: what a user should act on is a warning; a client that went away is one INFO line.

aiohttp logs a handler that raised as ``Error handling request`` with the whole traceback; when the
exception is only the client going away mid-answer (``ConnectionResetError``, aiohttp's
``ClientConnectionResetError`` among them: "Cannot write to closing transport"), that is 20 lines for
what happens every time a tab is closed. :class:`ClientGone` turns such a record into one INFO line.
"""

from __future__ import annotations

import logging


class ClientGone(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ConnectionResetError):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = "a client went away mid-answer (%s)", (str(exc) or type(exc).__name__,)
            record.exc_info = record.exc_text = None
            return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        return True


def install() -> None:
    """On aiohttp's server logger (the lab's process calls it once)."""
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientGone) for f in server.filters):
        server.addFilter(ClientGone())
