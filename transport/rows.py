"""A timeline's rows as columns: about half the memory of one Event object per row.

An ``Event`` per row costs about 360 bytes with a 64-byte payload (the
object, its own empty ``meta`` dict, boxed ints and floats). Here the numbers
live in typed arrays, transport/direction/kind in one interned 2-byte code,
an empty ``meta`` is not kept, and only the payload stays an object: about
180 bytes per such row. Rows are rebuilt as Events when asked for (the few
rows on screen, the detail pane, an export). Dropping the oldest rows moves
a start offset; the arrays are compacted only when a quarter is dead, so a
full timeline taking new rows does not copy megabytes per batch.

Pure Python (no Qt): the model in timeline_model.py uses it.
"""

from __future__ import annotations

import math
from array import array

import numpy as np
from typing import Any, Callable
from .events import Event

NONE = -(1 << 63)  # None in an integer column
NAN = math.nan


class RowStore:
    __slots__ = ("t", "conn", "seq", "size", "wire", "lat", "code", "topic", "data", "meta", "_start", "_codes",
                 "_triples", "_topic_codes", "_topics", "_binary")

    def __init__(self) -> None:
        self._codes: dict[tuple[str, str, str], int] = {}
        self._triples: list[tuple[str, str, str]] = []
        # a meta that is only {"topic": T} (every lab message) is kept as a 2-byte code, not a dict per row
        self._topic_codes: dict[str, int] = {}
        self._topics: list[str] = [""]  # code 0: no topic-only meta
        self._reset()

    def _reset(self) -> None:
        self.t, self.conn, self.seq, self.size, self.wire = (array("q") for _ in range(5))
        self.lat = array("d")
        self.code = array("H")
        self.topic = array("H")
        self.data: list = []
        self._binary = 0  # rows whose payload is bytes (the filter reads them as hex)
        self.meta: list = []
        self._start = 0

    def __len__(self) -> int:
        return len(self.data) - self._start

    def _code(self, e: Event) -> int:
        triple = (e.transport, e.direction, e.kind)
        code = self._codes.get(triple)
        if code is None:
            if len(self._triples) >= 0xFFFF:
                raise OverflowError("more than 65 535 kinds of rows")
            code = self._codes[triple] = len(self._triples)
            self._triples.append(triple)
        return code

    def extend(self, events: list[Event]) -> None:
        t, conn, seq, size, wire, lat = (self.t.append, self.conn.append, self.seq.append, self.size.append,
                                         self.wire.append, self.lat.append)
        code, data, meta, topic = self.code.append, self.data.append, self.meta.append, self.topic.append
        codes, topic_codes = self._codes, self._topic_codes
        for e in events:
            t(e.t)
            conn(e.conn)
            s = e.seq
            seq(NONE if s is None else s)
            size(e.size)
            w = e.wire
            wire(NONE if w is None else w)
            la = e.latency_ms
            lat(NAN if la is None else la)
            c = codes.get((e.transport, e.direction, e.kind))
            code(self._code(e) if c is None else c)
            d = e.data
            data(d)
            if type(d) is bytes:
                self._binary += 1
            m = e.meta
            tc = 0
            if m:
                name = m.get("topic")
                if type(name) is str:  # every row's topic is a code (the filter reads codes, not dicts)
                    tc = topic_codes.get(name) or self._topic_code(name)
            topic(tc)
            meta(None if tc and len(m) == 1 else (m or None))  # a topic-only meta is the code alone

    def _topic_code(self, name: str) -> int:
        if len(self._topics) >= 0xFFFF:
            return 0  # too many topics to code: the row keeps its meta dict
        code = self._topic_codes[name] = len(self._topics)
        self._topics.append(name)
        return code

    def _meta(self, j: int) -> dict[str, Any]:
        m = self.meta[j]
        if m is not None:
            return m
        tc = self.topic[j]
        return {"topic": self._topics[tc]} if tc else {}

    def _codes_in(self, column: array, wanted: list[int], k: int, start: int) -> Any:
        """Rows (from ``start``) whose code in ``column`` is one of ``wanted`` (a scan in numpy)."""
        codes = np.frombuffer(column[k:], dtype=np.uint16)  # a copy: the column itself may grow later
        return np.flatnonzero(np.isin(codes, wanted)) + start

    def event(self, i: int) -> Event:
        """Row ``i`` (0: the oldest kept) as an Event."""
        j = self._start + i
        transport, direction, kind = self._triples[self.code[j]]
        s, w, la = self.seq[j], self.wire[j], self.lat[j]
        return Event(transport, direction, kind, self.t[j], self.conn[j], None if s == NONE else s, self.size[j],
                     None if w == NONE else w, None if la != la else la, self.data[j], self._meta(j))

    def events(self, start: int = 0) -> list[Event]:
        return [self.event(i) for i in range(start, len(self))]

    def drop_oldest(self, n: int) -> None:
        self._start += min(n, len(self))
        if self._start > 4096 and self._start * 4 > len(self.data):  # compact when a quarter is dead
            k = self._start
            for col in (self.t, self.conn, self.seq, self.size, self.wire, self.lat, self.code, self.topic):
                del col[:k]
            del self.data[:k], self.meta[:k]
            self._start = 0

    def clear(self) -> None:
        self._reset()

    def snapshot(self) -> "RowStore":
        """A copy to rebuild Events from off the GUI thread (arrays and lists copy fast)."""
        copy = RowStore.__new__(RowStore)
        copy._codes, copy._triples = dict(self._codes), list(self._triples)
        copy._topic_codes, copy._topics = dict(self._topic_codes), list(self._topics)
        k = self._start
        copy.t, copy.conn, copy.seq, copy.size = self.t[k:], self.conn[k:], self.seq[k:], self.size[k:]
        copy.wire, copy.lat, copy.code, copy.topic = self.wire[k:], self.lat[k:], self.code[k:], self.topic[k:]
        copy.data, copy.meta = self.data[k:], self.meta[k:]
        copy._binary = self._binary
        copy._start = 0
        return copy

    # -- search --------------------------------------------------------------------------------
    def search(self, needle: str, wanted: str | None, type_test: Callable[[Any, str], bool],
               start: int = 0) -> list[int]:
        """Rows (indices from 0) at or after ``start`` whose text contains ``needle`` (lower case; "" matches
        all) and, with ``wanted``, whose event type passes ``type_test(event, wanted)``."""
        k = self._start + start
        typed: list[int] | None = None
        if wanted is not None:
            incoming = {c for c, (_t, d, kind) in enumerate(self._triples) if d == "in" and kind == "message"}
            triples = self._triples
            typed = [i for i, c in enumerate(self.code[k:], start)
                     if c in incoming and type_test(_TypeProbe(triples[c], self._meta(self._start + i)), wanted)]
        if not needle:
            return typed if typed is not None else list(range(start, len(self)))
        parts: list[Any] = []
        named = [c for c, (_t, d, kind) in enumerate(self._triples) if needle in f"{d} {kind}"]
        if named:
            parts.append(self._codes_in(self.code, named, k, start))
        lower = str.lower  # the payload: text rows in one pass, binary rows (as hex) only if there are any
        parts.append(np.array([i for i, s in enumerate(self.data[k:], start) if type(s) is str and needle in lower(s)],
                              dtype=np.int64))
        if self._binary:
            parts.append(np.array([i for i, s in enumerate(self.data[k:], start)
                                   if type(s) is bytes and needle in s.hex()], dtype=np.int64))
        if needle.isdigit():
            parts.append(np.array([i for i, s in enumerate(self.seq[k:], start) if s != NONE and needle in str(s)],
                                  dtype=np.int64))
        topics = [c for c, name in enumerate(self._topics) if c and needle in name.lower()]
        if topics:
            parts.append(self._codes_in(self.topic, topics, k, start))
        mask = np.zeros(len(self) - start, dtype=bool)  # the union, in row order, without a sort
        for part in parts:
            mask[part - start] = True
        if typed is not None:
            kept = np.zeros_like(mask)
            kept[np.array(typed, dtype=np.int64) - start] = True
            mask &= kept
        return (np.flatnonzero(mask) + start).tolist()


class _TypeProbe:
    """Just what a type filter reads of an event (its kind, direction and meta)."""

    __slots__ = ("transport", "direction", "kind", "meta")

    def __init__(self, triple: tuple[str, str, str], meta: dict | None) -> None:
        self.transport, self.direction, self.kind = triple
        self.meta = meta or {}


# Event-type filters of a timeline (SSE): every event, the named ones, or one type.
ALL_EVENTS = "*events"
NAMED = "*named"
UNNAMED = "message"


def type_matches(e: Event, wanted: str) -> bool:
    if e.kind != "message" or e.direction != "in":
        return False
    t = e.meta.get("type")
    if wanted == ALL_EVENTS:
        return True
    if wanted == NAMED:
        return t is not None and t != UNNAMED
    return t == wanted
