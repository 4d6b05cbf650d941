"""A sans-I/O parser for ``text/event-stream``, as the WHATWG HTML standard defines it.

Section "Server-sent events" → "Parsing an event stream" and "Interpreting an
event stream". Bytes go in through :meth:`EventStreamParser.feed`; what they
completed comes out, in order: :class:`ServerSentEvent` for every dispatched
event, :class:`Comment` for every comment line (heartbeats) and
:class:`Retry` for every valid ``retry`` field. The result does not depend on
how the bytes were split between calls: in the middle of a UTF-8 character,
between the CR and the LF of a CRLF, or one byte at a time.

Rules kept here, all from the standard:
- the stream is UTF-8; one leading BOM is dropped; invalid bytes decode to
  U+FFFD, as browsers do;
- lines end with CRLF, LF or CR;
- an empty line dispatches; a line starting with ``:`` is a comment;
  ``name: value`` loses exactly one space after the colon; a line without a
  colon is a field with an empty value; unknown fields are ignored;
- ``data`` lines are joined with LF; an event without data lines is not
  dispatched (but its ``id`` still becomes the last event ID);
- ``id`` containing NUL is ignored; an empty ``id`` resets the last event ID;
- ``retry`` is used only when it is ASCII digits and nothing else;
- at end of stream an event not terminated by a blank line is discarded.

The last event ID survives :meth:`end`, so the same parser serves the next
connection, as a browser's ``EventSource`` carries it into ``Last-Event-ID``.
"""

from __future__ import annotations

import codecs
from typing import NamedTuple

__all__ = ["Comment", "EventStreamParser", "EventTooLarge", "Retry", "ServerSentEvent"]

_BOM = "\ufeff"
_FOREVER_MS = 10**18


class ServerSentEvent(NamedTuple):
    """A dispatched event; ``type`` is ``"message"`` when the stream gave none."""

    type: str = "message"
    data: str = ""
    last_event_id: str = ""


class Comment(NamedTuple):
    """A comment line (``: text``), usually a heartbeat; one leading space is dropped."""

    text: str


class Retry(NamedTuple):
    """A valid ``retry`` field: the reconnection time is now ``ms`` milliseconds."""

    ms: int


class EventTooLarge(ValueError):
    """An event (or a line) grew past the parser's ``max_size`` characters."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"event of at least {size} characters exceeds the limit of {limit}")
        self.size = size
        self.limit = limit


def _decoder() -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder("utf-8")(errors="replace")


class EventStreamParser:
    """Turns the bytes of one event stream after another into events.

    ``retry`` is the last valid reconnection time in milliseconds (None until
    the stream sets one) and ``last_event_id`` the event source's last event
    ID string: what a reconnect sends as ``Last-Event-ID``. ``max_size``
    bounds an event's data plus an unfinished line, in characters.
    """

    def __init__(self, last_event_id: str = "", max_size: int | None = None) -> None:
        self.last_event_id = last_event_id
        self.retry: int | None = None
        self.max_size = max_size
        self._id_buffer = last_event_id
        self._decoder = _decoder()
        self._at_start = True  # a BOM may still come
        self._skip_lf = False  # the last chunk ended with CR: a leading LF is its CRLF
        self._partial: list[str] = []  # an unfinished line, in pieces
        self._partial_len = 0
        self._data: list[str] = []
        self._data_len = 0
        self._type = ""

    def feed(self, data: bytes) -> list[ServerSentEvent | Comment | Retry]:
        text = self._decoder.decode(data)
        if not text:
            return []
        if self._at_start:
            self._at_start = False
            if text[0] == _BOM:
                text = text[1:]
                if not text:
                    return []
        if self._skip_lf:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
                if not text:
                    return []
        if "\r" in text:
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            self._partial.append(text)
            self._partial_len += len(text)
            self._check_size()
            return []
        lines = text.split("\n")
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = "".join(self._partial)
            self._partial.clear()
        tail = lines.pop()
        if tail:
            self._partial.append(tail)
        self._partial_len = len(tail)
        out = self._lines(lines)
        self._check_size()
        return out

    def end(self) -> list[ServerSentEvent | Comment | Retry]:
        """The stream ended: drop an unfinished line and an undispatched event.

        Returns what the end completed, which by the standard is nothing. The
        parser is then ready for the next connection's stream, keeping
        ``last_event_id`` and ``retry``.
        """
        self._decoder = _decoder()
        self._at_start = True
        self._skip_lf = False
        self._partial.clear()
        self._partial_len = 0
        self._data = []
        self._data_len = 0
        self._type = ""
        self._id_buffer = self.last_event_id
        return []

    # -- internals -------------------------------------------------------------
    def _lines(self, lines: list[str]) -> list[ServerSentEvent | Comment | Retry]:
        out: list[ServerSentEvent | Comment | Retry] = []
        data = self._data
        data_len = self._data_len
        limit = self.max_size
        for line in lines:
            if not line:  # blank line: dispatch
                self.last_event_id = self._id_buffer
                if data:
                    out.append(ServerSentEvent(self._type or "message", "\n".join(data), self.last_event_id))
                    data = []
                    data_len = 0
                self._type = ""
                continue
            if line[0] == ":":
                out.append(Comment(line[2:] if line[1:2] == " " else line[1:]))
                continue
            name, colon, value = line.partition(":")
            if colon and value[:1] == " ":
                value = value[1:]
            if name == "data":
                data.append(value)
                data_len += len(value) + 1
                if limit is not None and data_len > limit:
                    raise EventTooLarge(data_len, limit)
            elif name == "event":
                self._type = value
            elif name == "id":
                if "\0" not in value:
                    self._id_buffer = value
            elif name == "retry":
                if value.isdigit() and value.isascii():
                    try:
                        self.retry = int(value)
                    except ValueError:  # beyond Python's 4300-digit int limit: forever
                        self.retry = _FOREVER_MS
                    out.append(Retry(self.retry))
        self._data = data
        self._data_len = data_len
        return out

    def _check_size(self) -> None:
        limit = self.max_size
        if limit is not None and self._partial_len + self._data_len > limit:
            raise EventTooLarge(self._partial_len + self._data_len, limit)
