"""The lab's log: a client gone mid-answer is one INFO line, not aiohttp's traceback."""

from __future__ import annotations

import logging

from aiohttp import ClientConnectionResetError

from transport.server.logs import ClientGone


def record(exc: BaseException) -> logging.LogRecord:
    """What aiohttp's server logs for a handler that raised ``exc``."""
    return logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error handling request", (),
                             (type(exc), exc, None))


def test_a_client_gone_mid_answer_is_one_info_line():
    rec = record(ClientConnectionResetError("Cannot write to closing transport"))
    logging.getLogger("aiohttp.server").setLevel(logging.INFO)
    assert ClientGone().filter(rec)
    assert rec.levelname == "INFO" and rec.exc_info is None
    assert logging.Formatter().format(rec) == "a client went away mid-answer (Cannot write to closing transport)"


def test_any_other_error_keeps_its_traceback():
    rec = record(ValueError("a bug"))
    assert ClientGone().filter(rec)
    assert rec.levelname == "ERROR" and rec.exc_info is not None
