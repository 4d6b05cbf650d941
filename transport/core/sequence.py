"""Sequence and resume rules: how Duplex numbers *any* server's messages, and how it asks that server to
resume after a drop. Sans-I/O.

The lab's own protocol (the envelope's ``seq``, its ``gap`` / ``live`` items, ``?after=``, the epoch) is
used only with a server that marks itself as the lab (``Duplex-Epoch``: see :mod:`transport.core.receiver`).
For every other server the user says how its messages are numbered and how it resumes:

- a **sequence rule** (``--seq``): ``none``; ``id`` (the SSE event id, as an integer); a JSON pointer
  (RFC 6901: ``/seq``, ``/data/offset``; for Socket.IO it reads the event's first argument); or
  ``re:PATTERN`` (the first group of a regular expression over the message text, as an integer);
- a **resume rule** (``--resume``): ``none``; ``last-event-id`` (SSE); ``query:NAME`` (reconnect to the
  user's URL with ``NAME=<last seq>`` set in its query); ``message:TEMPLATE`` (after each reconnect, send
  ``TEMPLATE`` with every literal ``{seq}`` replaced by the last seq — a plain text substitution, so JSON
  braces stay as they are; for Socket.IO the template is ``EVENT JSON-ARGS``).

``auto`` (the default of both) means: the lab's protocol with the lab; for SSE, ``Last-Event-ID`` as a
browser sends it and the event id as the number when the server's ids are integers; otherwise none.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

AUTO = "auto"
NONE = "none"
MAX_SEQ = (1 << 53) - 1  # a number a JSON peer can mean exactly (and a row can hold)
_SCAN = 1 << 20  # a regular expression reads at most the first MiB of a message
_INT = re.compile(r"[0-9]{1,16}")


class RuleError(ValueError):
    """A rule that makes no sense; its text is the sentence to show."""

    @property
    def sentence(self) -> str:
        """The text as one sentence of its own (capital, full stop), for a status line or an error."""
        text = str(self)
        return f"{text[:1].upper()}{text[1:]}."


def _as_seq(value: object) -> int | None:
    """A value that is a sequence number: a non-negative integer (or a string of digits) a JSON peer can
    mean exactly; anything else is not one."""
    if type(value) is int:
        return value if 0 <= value <= MAX_SEQ else None
    if isinstance(value, str) and _INT.fullmatch(value):
        n = int(value)
        return n if n <= MAX_SEQ else None
    return None


def integer_id(event_id: str | None) -> int | None:
    """An SSE event id that is an integer (``"42"``), else None."""
    return _as_seq(event_id) if event_id else None


def _pointer(spec: str) -> tuple[str, ...]:
    if spec == "":
        return ()
    if not spec.startswith("/"):
        raise RuleError(f"the JSON pointer {spec!r} must start with '/' (RFC 6901), like /seq or /data/offset")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in spec[1:].split("/"))


def resolve(value: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` (a parsed JSON pointer) in ``value``, or None where there is none."""
    for key in path:
        if isinstance(value, dict):
            if key not in value:
                return None
            value = value[key]
        elif isinstance(value, list):
            if not key.isdigit() or (len(key) > 1 and key[0] == "0") or int(key) >= len(value):
                return None
            value = value[int(key)]
        else:
            return None
    return value


@dataclass(frozen=True)
class SeqRule:
    """How a message of a server that is not the lab is numbered."""

    spec: str = AUTO
    kind: str = AUTO  # auto, none, id, pointer, re
    path: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None

    @property
    def explicit(self) -> bool:
        """The user chose a rule (``none`` included), so no default replaces it."""
        return self.kind != AUTO

    def number(self, text: str | bytes, value: Any = None, event_id: str | None = None,
               parsed: bool = False) -> int | None:
        """The message's number by this rule, or None. ``value``: the message already parsed (a poll
        item, a Socket.IO event's first argument) when ``parsed``; ``event_id``: an SSE event's id."""
        kind = self.kind
        if kind == "id" or (kind == AUTO and event_id is not None):
            return integer_id(event_id)
        if kind == "pointer":
            if not parsed:
                if isinstance(text, bytes) or text[:1] not in "{[":
                    return None
                try:
                    value = json.loads(text)
                except (ValueError, RecursionError):
                    return None
            return _as_seq(resolve(value, self.path))
        if kind == "re" and self.pattern is not None:
            if isinstance(text, bytes):
                return None
            m = self.pattern.search(text, 0, _SCAN)
            if m is None:
                return None
            return _as_seq(m.group(1) if self.pattern.groups else m.group(0))
        return None

    def describe(self) -> str:
        return {"auto": "automatic", "none": "none", "id": "the event id"}.get(self.kind, self.spec)


def parse_seq(spec: str | None) -> SeqRule:
    """``none``, ``auto``, ``id``, a JSON pointer (``/seq``) or ``re:PATTERN``; RuleError says what is wrong."""
    spec = (spec or "").strip() or AUTO
    if spec in (AUTO, NONE, "id"):
        return SeqRule(spec, spec)
    if spec.startswith("re:"):
        try:
            pattern = re.compile(spec[3:])
        except re.error as exc:
            raise RuleError(f"the sequence rule's regular expression {spec[3:]!r} does not compile: {exc}") from None
        if not spec[3:]:
            raise RuleError("re: needs a pattern whose first group is the number, like re:\"n\":(\\d+)")
        return SeqRule(spec, "re", pattern=pattern)
    if spec.startswith("/"):
        return SeqRule(spec, "pointer", path=_pointer(spec))
    raise RuleError(f"unknown sequence rule {spec!r}: one of none, id, a JSON pointer like /seq, or re:PATTERN")


@dataclass(frozen=True)
class ResumeRule:
    """How a reconnect asks a server that is not the lab for what it missed."""

    spec: str = AUTO
    kind: str = AUTO  # auto, none, last-event-id, query, message
    arg: str = ""

    @property
    def explicit(self) -> bool:
        return self.kind != AUTO

    def url(self, url: str, seq: int | None) -> str:
        """The user's URL with ``NAME=<seq>`` set in its query (``query:NAME``); else unchanged."""
        if self.kind != "query" or seq is None:
            return url
        parts = urlsplit(url)
        pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != self.arg]
        pairs.append((self.arg, str(seq)))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(pairs), parts.fragment))

    def message(self, seq: int | None) -> str | None:
        """The first message to send after a reconnect (``message:TEMPLATE``), or None."""
        if self.kind != "message" or seq is None:
            return None
        return self.arg.replace("{seq}", str(seq))

    def describe(self) -> str:
        return {"auto": "automatic", "none": "none", "last-event-id": "Last-Event-ID"}.get(self.kind, self.spec)


RESUME_KINDS = ("none", "last-event-id", "query:NAME", "message:TEMPLATE")


def parse_resume(spec: str | None, transport: str | None = None) -> ResumeRule:
    """``none``, ``auto``, ``last-event-id``, ``query:NAME`` or ``message:TEMPLATE``; checked against
    the transport it is for (``last-event-id`` is SSE's; a message needs a transport that sends)."""
    spec = (spec or "").strip() or AUTO
    if spec in (AUTO, NONE):
        return ResumeRule(spec, spec)
    if spec == "last-event-id":
        if transport is not None and transport != "sse":
            raise RuleError("last-event-id is how an SSE client resumes: use query:NAME or message:TEMPLATE "
                            f"with {transport.replace('_', ' ')}")
        return ResumeRule(spec, spec)
    kind, sep, arg = spec.partition(":")
    if sep and kind == "query":
        if not arg or any(c in arg for c in "&=#? "):
            raise RuleError(f"query:NAME needs a parameter name without & = # ? or spaces, not {arg!r}")
        return ResumeRule(spec, "query", arg)
    if sep and kind == "message":
        if transport is not None and transport not in ("websocket", "socketio"):
            raise RuleError("message:TEMPLATE is sent on the connection: it needs WebSocket or Socket.IO, "
                            f"not {transport.replace('_', ' ')}")
        if "{seq}" not in arg:
            raise RuleError("message:TEMPLATE must contain {seq}, where the last seq goes")
        if transport == "socketio":
            socketio_message(arg.replace("{seq}", "0"))
        return ResumeRule(spec, "message", arg)
    raise RuleError(f"unknown resume rule {spec!r}: one of {', '.join(RESUME_KINDS)}")


def socketio_message(text: str) -> tuple[str, list[Any]]:
    """A Socket.IO resume message ``EVENT JSON-ARGS``: the event's name, and its arguments (a JSON array is
    the argument list; any other JSON value is the one argument; nothing after the name: no argument)."""
    name, _sep, rest = text.strip().partition(" ")
    if not name:
        raise RuleError("a Socket.IO resume message is 'EVENT JSON-ARGS', like resume {\"after\": {seq}}")
    rest = rest.strip()
    if not rest:
        return name, []
    try:
        value = json.loads(rest)
    except ValueError as exc:
        raise RuleError(f"the arguments of the Socket.IO resume message are not JSON ({exc}): {rest[:80]!r}") from None
    return name, value if isinstance(value, list) else [value]
