"""The fault proxy's ``message`` toxic: drop, duplicate, delay, reorder or corrupt one message in transit.

Attributes: ``action`` (``drop``, ``duplicate``, ``delay``, ``reorder``, ``corrupt``); which messages —
``every`` (every Nth), ``nth`` (only the Nth), ``match`` (a regular expression over the message's text;
``every`` and ``nth`` then count only the messages that match), neither: all of them; ``delay`` (ms, for
``delay``); ``count`` (applications at most, over all connections; 0 = no limit).

Messages are the transport's own (transport/core/message_units.py), counted per connection and
direction; a copy the toxic made is not counted again. ``delay`` holds the message and what follows it
on the connection (the order of one connection is kept: a later message overtaking is ``reorder``);
``reorder`` holds the message until the next one has passed. In a poll's answer (one JSON array) an
item held for ``reorder`` changes places with the next item; the last item of an answer with the one
before it (the next poll would fetch a held last item again: a duplicate, not a reorder).

Every application is a line of the proxy's ``events`` (the timelines' marker rows) and counts in the
toxic's ``applied``.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Protocol

from transport.core.message_units import ITEM, Unit, corrupt, seq_of

ACTIONS = ("drop", "duplicate", "delay", "reorder", "corrupt")
DEFAULTS: dict[str, float | str] = {"action": "drop", "every": 0, "nth": 0, "match": "", "delay": 0, "count": 0}
LOGGED = 50  # applications of one toxic logged one by one; after that the events still count them

Step = bytes | float  # bytes to send, or seconds to hold what follows


class ToxicError(ValueError):
    """A message toxic's attributes that make no sense (the API answers 400)."""


class Toxic(Protocol):
    name: str
    type: str
    attributes: dict[str, Any]
    applied: int


def check(attributes: dict[str, Any], given: dict[str, Any]) -> None:
    """What a number's range alone cannot say, in one sentence."""
    if attributes["action"] not in ACTIONS:
        raise ToxicError(f"action must be one of {', '.join(ACTIONS)}, got {str(attributes['action'])[:40]!r}")
    for key in ("every", "nth", "count"):
        if not float(attributes[key]).is_integer():
            raise ToxicError(f"{key} must be a whole number, got {attributes[key]:g}")
    for key in ("every", "nth"):
        if key in given and attributes[key] < 1:
            raise ToxicError(f"{key} must be 1 or more (every Nth message; the Nth message), "
                             f"got {attributes[key]:g}")
    if attributes["every"] and attributes["nth"]:
        raise ToxicError("give every (every Nth message) or nth (only the Nth), not both")
    if attributes["match"]:
        try:
            re.compile(attributes["match"])
        except re.error as exc:
            raise ToxicError(f"match is not a regular expression: {exc}") from None
    if attributes["action"] == "delay" and not attributes["delay"]:
        raise ToxicError("a delay action needs delay (ms) above 0")


class MessageFaults:
    """The message toxics of one connection and one direction, applied to its messages in order."""

    def __init__(self, toxics: Callable[[], list[Any]], said: Callable[[str], None], where: str) -> None:
        self._toxics = toxics  # the toxics of type message that hit this connection and direction now
        self._said = said
        self.where = where  # "WebSocket", "SSE", "poll answer", …, for the marker
        self.counts: dict[str, int] = {}  # toxic name → messages it has counted on this connection
        self.held: list[bytes] = []  # reorder: waiting for the next message to pass

    def active(self) -> list[Any]:
        return [t for t in self._toxics() if t.type == "message"]

    def _selects(self, t: Toxic, unit: Unit) -> bool:
        a = t.attributes
        if a["count"] and t.applied >= a["count"]:
            return False
        if a["match"] and unit.text is not None and re.search(a["match"], unit.text) is None:
            return False
        n = self.counts[t.name] = self.counts.get(t.name, 0) + 1
        if a["nth"]:
            return n == a["nth"]
        if a["every"]:
            return n % a["every"] == 0
        return True

    def apply(self, units: list[Unit], last_item: bool = False) -> list[Step]:
        """What to send for ``units`` (bytes, and seconds to wait before what follows)."""
        toxics = self.active()
        out: list[Step] = []
        if not toxics and not self.held:
            return [u.raw for u in units]
        messages = [u for u in units if u.message]
        for unit in units:
            if not unit.message:
                out.append(unit.raw)
                continue
            pieces: list[bytes] = [unit.raw]
            held = False
            for t in toxics:
                if not pieces or not self._selects(t, unit):
                    continue
                t.applied += 1
                action = t.attributes["action"]
                is_last = last_item and unit is messages[-1]
                if action == "drop":
                    pieces = []
                    self._mark(t, unit, "dropped", self._drop_context(unit, is_last))
                elif action == "duplicate":
                    pieces = pieces + [unit.raw]
                    self._mark(t, unit, "duplicated")
                elif action == "delay":
                    out.append(t.attributes["delay"] / 1000)
                    self._mark(t, unit, f"delayed by {t.attributes['delay']:g} ms")
                elif action == "corrupt":
                    data, how = corrupt(unit)
                    pieces = [data]
                    self._mark(t, unit, "corrupted", f"({how})")
                else:  # reorder
                    held = True
                    self._mark(t, unit, "held back", "until the next one passed (reorder)")
            if held:
                self.held.extend(pieces)
                continue
            out.extend(pieces)
            if pieces and self.held:
                out.extend(self.held)
                self.held = []
        return out

    def _drop_context(self, unit: Unit, is_last: bool) -> str:
        if unit.kind != ITEM:
            return ""
        if is_last:
            return ("(the last item of a poll answer: the next poll asks after the item before it and "
                    "fetches it again)")
        return "(from the middle of a poll answer: the next poll asks after the answer's last item, so this " \
               "hole is never filled)"

    def flush(self) -> list[bytes]:
        """The stream ends: a message held for reorder goes last rather than never."""
        held, self.held = self.held, []
        return held

    def _mark(self, t: Toxic, unit: Unit, verb: str, context: str = "") -> None:
        seq = seq_of(unit)
        which = f"seq {seq}" if seq is not None else f"#{self.counts.get(t.name, 0)} (no seq)"
        text = f"proxy {verb} message {which} ({self.where}, toxic {t.name})" + (f" {context}" if context else "")
        self._said(text)


def reorder_in_answer(steps: list[Step], faults: MessageFaults) -> list[Step]:
    """A poll answer ends with an item held for reorder: it changes places with the item before it."""
    held = faults.flush()
    if not held:
        return steps
    for i in range(len(steps) - 1, -1, -1):
        if isinstance(steps[i], bytes):
            return steps[:i] + held + steps[i:]
    return steps + held
