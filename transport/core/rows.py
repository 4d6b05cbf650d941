"""A timeline's rows as columns, with no Python object per row.

An ``Event`` per row costs about 360 bytes with a 64-byte payload (the
object, its own ``meta`` dict, boxed ints and floats), and a million objects
make every full garbage collection walk a million references (60 ms pauses
in the window at 20 000 msg/s). Here every column is a typed array or one
byte buffer, none of which the collector walks:

- numbers in the narrowest typed array that holds them (columns.py: a
  sequence number in 32 bits while it fits, a connection in 8; a time as a
  32-bit offset from its block's base; ``None`` as the type's least value);
  a size as its difference from the payload's bytes, a wire size as its
  difference from the size, a latency in whole nanoseconds (a row whose
  numbers do not fit these keeps them whole in a sparse dict);
  transport/direction/kind as one interned code;
- the payload as UTF-8 (or raw bytes) in one ``bytearray`` with an end offset
  per row and a kind byte (none, ASCII text, other text, binary);
- ``meta`` as codes when it is one of the shapes the feed's rows have (the
  lab's ``{"topic"}``; an SSE event's ``{"type", "last_event_id" == seq,
  "wire_read"?, "topic"}`` where ``wire_read`` is the byte total of a read
  whose rows share it; a ping's ``"latency": "rtt"`` after them), else kept
  whole in a sparse dict. Key order is kept, so a row's record reads back exactly.

Rows are rebuilt as Events when asked for (the rows on screen, the detail
pane, an export). Dropping the oldest rows moves a start offset; the columns
are compacted only when a quarter is dead. A text filter searches the buffer
itself (numpy over its bytes, either case at once), not a row at a time.

Pure Python (no Qt): the model in timeline_model.py uses it.
"""

from __future__ import annotations

import math
import re
from array import array
from typing import Any, Callable

import numpy as np

from transport.core.columns import NONE, EndColumn, IntColumn, TimeColumn
from transport.core.events import Event, event_from

NAN = math.nan

# payload kinds
P_NONE, P_ASCII, P_TEXT, P_BINARY = 0, 1, 2, 3
# meta shapes (bits), in key order: SSE's type and id, a shared read's total, the topic, the ping's round trip
M_SSE, M_TOPIC, M_RTT, M_SPARSE, M_READ, M_EVENT = 1, 2, 4, 8, 16, 32
M_ODD = 64  # the row's seq, size, wire size and latency are kept whole in ``odd`` (not as differences)
M_META = 63  # the bits that say the meta's shape
SAFE = 1 << 62  # numbers within ±SAFE have differences that fit 64 bits
# a Socket.IO event's name (M_EVENT) is kept in the column of an SSE event's type: a row has one or the other
_KEYS = ((M_SSE, ("type", "last_event_id")), (M_EVENT, ("event",)), (M_READ, ("wire_read",)),
         (M_TOPIC, ("topic",)), (M_RTT, ("latency",)))
_SHAPES: dict[tuple[str, ...], int] = {
    tuple(k for bit, keys in _KEYS if bits & bit for k in keys): bits
    for bits in range(1, 64) if not bits & M_SPARSE and not (bits & M_SSE and bits & M_EVENT)
}
READ_MAX = 0xFFFFFFFF  # a shared read's total fits the column (a read is far smaller)
INT64 = (-(1 << 63) + 1, (1 << 63) - 1)  # what an integer column holds (its least value is None's sentinel)
_PAYLOAD_TYPES = (str, bytes, bytearray, type(None))
Prepared = tuple[tuple[tuple[Any, ...], ...], tuple[array, array, array, array, array, array]]


class FilterError(ValueError):
    """A filter that cannot be applied (a pattern that is not a regular expression): one sentence."""


class RowError(ValueError):
    """A row holds a value no column can: the batch is refused before anything is appended."""


def admit(events: list[Event]) -> list[Event]:
    """``events`` with each row no store can hold replaced by an error row saying why (one sentence per
    message; the others untouched): what a model appends when :meth:`RowStore.prepare` refused a batch."""
    out: list[Event] = []
    for e in events:
        why = unholdable(e)
        if why is None:
            out.append(e)
            continue
        t = e.t if type(e.t) is int and INT64[0] <= e.t <= INT64[1] else 0
        conn = e.conn if type(e.conn) is int and 0 <= e.conn <= INT64[1] else 0
        transport = e.transport if isinstance(e.transport, str) else "import"
        out.append(Event.__new__(Event, transport, "state", "error", t, conn, None, 0, None, None,
                                 f"A message refused: {why}.", {}))
    return out


def unholdable(e: Event) -> str | None:
    """Why a row cannot be held, or None."""
    for name, value, optional in (("time", e.t, False), ("connection", e.conn, False), ("seq", e.seq, True),
                                  ("size", e.size, False), ("wire size", e.wire, True)):
        if value is None and optional:
            continue
        if type(value) is not int and type(value) is not bool:
            return f"its {name} is not an integer ({_short(value)})"
        if not INT64[0] <= value <= INT64[1]:
            return f"its {name} {_short(value)} is outside 64 bits"
    if e.latency_ms is not None:
        if type(e.latency_ms) not in (int, float):
            return f"its latency is not a number ({_short(e.latency_ms)})"
        if not math.isfinite(e.latency_ms) or abs(e.latency_ms) > 1e300:
            return f"its latency {_short(e.latency_ms)} is not a finite number"
    if not isinstance(e.data, _PAYLOAD_TYPES):
        return f"its payload is a {type(e.data).__name__}, not text or bytes"
    if not isinstance(e.meta, dict):
        return "its meta is not an object"
    if not all(isinstance(x, str) for x in (e.transport, e.direction, e.kind)):
        return "its transport, direction or kind is not text"
    return None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:18] + "…" + text[-18:]


_TOPIC_ONLY = ("topic",)
_SSE_TOPIC = ("type", "last_event_id", "topic")
_SSE_READ_TOPIC = ("type", "last_event_id", "wire_read", "topic")


class RowStore:
    __slots__ = ("t", "conn", "seq", "size", "wire", "lat", "code", "topic", "etype", "shape", "read", "buf", "ends",
                 "pkind", "sparse", "odd", "_start", "_dropped", "_codes", "_triples", "_names", "_name_list",
                 "_binary", "_other_text")

    def __init__(self) -> None:
        self._codes: dict[tuple[str, str, str], int] = {}
        self._triples: list[tuple[str, str, str]] = []
        self._names: dict[str, int] = {}  # topic and SSE type strings, interned as 2-byte codes
        self._name_list: list[str] = [""]  # code 0: none
        self._reset()

    def _reset(self) -> None:
        self.t = TimeColumn()
        self.conn = IntColumn()
        self.ends = EndColumn()  # where each row's payload ends in ``buf``
        self.seq = IntColumn()  # seq − the row's absolute number (a feed's seqs count with the rows: a constant)
        self.size = IntColumn()  # size − the payload's bytes
        self.wire = IntColumn(spill=True)  # wire size − size (None: unknown); a handshake's heads kept aside
        self.lat = IntColumn()  # latency in nanoseconds (None: none)
        self.code, self.topic, self.etype = IntColumn(), IntColumn(), IntColumn()
        self.shape, self.pkind = array("B"), array("B")
        self.read = IntColumn()  # a shared read's byte total (M_READ), else 0
        self.buf = bytearray()
        self.sparse: dict[int, dict[str, Any]] = {}  # absolute row → a meta of no coded shape
        self.odd: dict[int, tuple[int | None, int, int | None, float | None]] = {}  # absolute row → (seq, size,
        # wire, latency) kept whole
        self._start = 0  # rows dropped but not compacted yet
        self._dropped = 0  # rows compacted away (absolute row = physical index + this)
        self._binary = 0  # rows whose payload is bytes (the filter reads them as hex)
        self._other_text = 0  # text rows that are not ASCII (the filter lowers them one by one)

    def __len__(self) -> int:
        return len(self.shape) - self._start

    def _code_of(self, triple: tuple[str, str, str]) -> int:
        code = self._codes.get(triple)
        if code is None:
            if len(self._triples) >= 0xFFFF:
                raise OverflowError("more than 65 535 kinds of rows")
            code = self._codes[triple] = len(self._triples)
            self._triples.append(triple)
        return code

    def _name(self, name: str) -> int:
        """The code of a topic or type; 0 when the table is full (the row keeps its meta whole)."""
        code = self._names.get(name)
        if code is None:
            if len(self._name_list) >= 0xFFFF:
                return 0
            code = self._names[name] = len(self._name_list)
            self._name_list.append(name)
        return code

    def extend(self, events: list[Event]) -> None:
        """Append rows; raises :class:`RowError` with nothing appended when one holds a value no column can
        (see :meth:`prepare`)."""
        if events:
            self.commit(self.prepare(events))

    def prepare(self, events: list[Event]) -> Prepared:
        """The numeric columns of ``events`` built aside, nothing in the store changed yet: a value no
        column can hold (an integer outside 64 bits, a non-finite latency, a payload that is neither text
        nor bytes, a meta that is not a dict) raises :class:`RowError` here, so a model can validate a batch
        before it announces the rows (an Event is a tuple: ``zip(*events)`` gives its columns)."""
        cols = tuple(zip(*events))
        _tr, _di, _ki, ts, conns, seqs, sizes, wires, lats, datas, metas = cols
        try:
            numbers = (array("q", ts), array("q", conns),
                       array("q", seqs if None not in seqs else [NONE if s is None else s for s in seqs]),
                       array("q", sizes), array("q", wires if None not in wires else [NONE if w is None else w
                                                                                       for w in wires]),
                       array("d", lats if None not in lats else [NAN if la is None else la for la in lats]))
        except (OverflowError, TypeError) as err:
            raise RowError(f"a row holds a number no column can ({err})") from None
        if np.isinf(np.frombuffer(numbers[5], dtype=np.float64)).any():
            raise RowError("a row's latency is infinite")
        n = len(events)
        types: list[type] = list(map(type, datas))
        if sum(types.count(k) for k in _PAYLOAD_TYPES) != n:
            raise RowError("a row's payload is neither text nor bytes")
        if list(map(type, metas)).count(dict) != n:
            raise RowError("a row's meta is not a dict")
        return cols, numbers

    def commit(self, prepared: Prepared) -> None:
        """Append what :meth:`prepare` built (nothing here can fail half way for a row's values)."""
        (transports, directions, kinds, _ts, _conns, seqs, _sizes, _wires, _lats, datas, metas), numbers = prepared
        codes, code_of = self._codes, self._code_of
        kind_codes = [codes.get(k) or code_of(k) for k in zip(transports, directions, kinds)]  # may refuse: first
        shapes, topics, etypes, reads = self._metas(metas, seqs)
        row0 = self._dropped + len(self.shape)
        lengths = self._payloads(datas)
        t, conn, seq, size, wire, lat = (np.frombuffer(a, dtype=np.int64 if a.typecode == "q" else np.float64)
                                         for a in numbers)
        known = lat == lat  # not NaN (None)
        with np.errstate(over="ignore", invalid="ignore"):  # a latency beyond nanoseconds' reach: kept whole
            lat_ns = np.rint(np.where(known, lat, 0.0) * 1e6)
            exact = ~known | ((lat_ns / 1e6 == lat) & (np.abs(lat_ns) < SAFE) & ~((lat == 0) & np.signbit(lat)))
        fits = (np.abs(size) < SAFE) & ((wire == NONE) | (np.abs(wire) < SAFE)) & exact \
            & ((seq == NONE) | (np.abs(seq) < SAFE))
        if not fits.all():  # hostile numbers: those rows keep theirs whole
            seq, size, wire, lat_ns, known = seq.copy(), size.copy(), wire.copy(), lat_ns.copy(), known.copy()
            for i in np.flatnonzero(~fits).tolist():
                s, w, la = int(seq[i]), int(wire[i]), float(lat[i])
                self.odd[row0 + i] = (None if s == NONE else s, int(size[i]), None if w == NONE else w,
                                      None if la != la else la)
                shapes[i] |= M_ODD
                seq[i], size[i], wire[i], lat_ns[i], known[i] = NONE, lengths[i], NONE, 0.0, False
        rows = np.arange(row0, row0 + len(seq), dtype=np.int64)
        self.t.extend64(t)
        self.conn.extend64(conn)
        self.seq.extend64(np.where(seq == NONE, NONE, seq - rows))
        self.size.extend64(size - lengths)
        self.wire.extend64(np.where(wire == NONE, NONE, wire - size))
        self.lat.extend64(np.where(known, lat_ns.astype(np.int64), NONE))
        self.code.extend64(np.array(kind_codes, dtype=np.int64))
        self.shape.extend(shapes)
        self.topic.extend64(np.array(topics, dtype=np.int64))
        self.etype.extend64(np.array(etypes, dtype=np.int64))
        self.read.extend64(np.array(reads, dtype=np.int64))

    def _payloads(self, datas: tuple[Any, ...]) -> Any:
        """Append the payloads to the buffer and their ends; their byte lengths (int64)."""
        types = list(map(type, datas))
        if types.count(str) == len(datas):  # the usual batch: text only
            ascii_ = [s.isascii() for s in datas]
            if all(ascii_):
                self.pkind.extend(bytes([P_ASCII]) * len(datas))
                lengths = list(map(len, datas))
                self.buf += "".join(datas).encode()
            else:
                encoded = [s.encode() for s in datas]
                self.pkind.extend([P_ASCII if a else P_TEXT for a in ascii_])
                self._other_text += ascii_.count(False)
                lengths = list(map(len, encoded))
                self.buf += b"".join(encoded)
        else:
            parts: list[bytes] = []
            kinds: list[int] = []
            for d, ty in zip(datas, types):
                if ty is str:
                    if d.isascii():
                        kinds.append(P_ASCII)
                    else:
                        kinds.append(P_TEXT)
                        self._other_text += 1
                    parts.append(d.encode())
                elif d is None:
                    kinds.append(P_NONE)
                    parts.append(b"")
                else:
                    kinds.append(P_BINARY)
                    self._binary += 1
                    parts.append(bytes(d))
            self.pkind.extend(kinds)
            lengths = list(map(len, parts))
            self.buf += b"".join(parts)
        sizes = np.array(lengths, dtype=np.int64)
        self.ends.extend(sizes)
        return sizes

    def _metas(self, metas: tuple[dict[str, Any], ...], seqs: tuple[int | None, ...]
               ) -> tuple[list[int], list[int], list[int], list[int]]:
        """Each meta as (shape bits, topic code, type code, read total); what fits no shape goes to ``sparse``."""
        names, name = self._names, self._name
        n = len(metas)
        keys = list(map(tuple, metas))
        if keys.count(_TOPIC_ONLY) == n:  # the lab's messages on WebSocket, polls and streams
            names_of = [m["topic"] for m in metas]
            if list(map(type, names_of)).count(str) == n:
                topics = [names.get(p) or name(p) for p in names_of]
                if 0 not in topics:
                    return [M_TOPIC] * n, topics, [0] * n, [0] * n
        elif (plain := keys.count(_SSE_TOPIC)) + keys.count(_SSE_READ_TOPIC) == n and None not in seqs:
            # the lab's messages on SSE (those of a read of several events share its wire bytes)
            reads = [m.get("wire_read", 0) for m in metas] if plain != n else [0] * n
            if [m["last_event_id"] for m in metas] == list(map(str, seqs)) \
                    and list(map(type, reads)).count(int) == n and 0 <= min(reads) and max(reads) <= READ_MAX \
                    and reads.count(0) == plain:
                names_of = [m["topic"] for m in metas]
                kinds = [m["type"] for m in metas]
                if list(map(type, names_of)).count(str) == n and list(map(type, kinds)).count(str) == n:
                    topics = [names.get(p) or name(p) for p in names_of]
                    etypes = [names.get(k) or name(k) for k in kinds]
                    if 0 not in topics and 0 not in etypes:
                        coded = [M_SSE | M_TOPIC] * n if plain == n else \
                            [M_SSE | M_TOPIC | (M_READ if r else 0) for r in reads]
                        return coded, topics, etypes, reads
        shapes: list[int] = []
        topics = []
        etypes = []
        reads = []
        row = self._dropped + len(self.shape)
        for m, seq in zip(metas, seqs):
            if not m:
                shapes.append(0)
                topics.append(0)
                etypes.append(0)
                reads.append(0)
            else:
                shape = _SHAPES.get(tuple(m), M_SPARSE)
                tc = ec = rd = 0
                if shape & M_TOPIC:
                    topic = m["topic"]
                    tc = (names.get(topic) or name(topic)) if type(topic) is str else 0
                    if not tc:
                        shape = M_SPARSE
                if shape & M_SSE:
                    kind = m["type"]
                    ec = (names.get(kind) or name(kind)) if type(kind) is str else 0
                    if not ec or seq is None or m["last_event_id"] != str(seq):
                        shape = M_SPARSE
                if shape & M_RTT and m["latency"] != "rtt":
                    shape = M_SPARSE
                if shape & M_EVENT:
                    event = m["event"]
                    ec = (names.get(event) or name(event)) if type(event) is str else 0
                    if not ec:
                        shape = M_SPARSE
                if shape & M_READ:
                    rd = m["wire_read"]
                    if type(rd) is not int or not 0 < rd <= READ_MAX:
                        shape, rd = M_SPARSE, 0
                if shape == M_SPARSE:
                    self.sparse[row] = m
                    # a topic and an event's name are still coded, so the topic and event filters read codes only
                    topic = m.get("topic")
                    tc = (names.get(topic) or name(topic)) if type(topic) is str else 0
                    event = m.get("event") or m.get("type")
                    ec = (names.get(event) or name(event)) if type(event) is str else 0
                shapes.append(shape)
                topics.append(tc)
                etypes.append(ec)
                reads.append(rd)
            row += 1
        return shapes, topics, etypes, reads

    def _meta(self, j: int) -> dict[str, Any]:
        shape = self.shape[j] & M_META
        if not shape:
            return {}
        if shape == M_SPARSE:
            return self.sparse[j + self._dropped]
        m: dict[str, Any] = {}
        if shape & M_SSE:
            m["type"] = self._name_list[self.etype.a[j]]
            m["last_event_id"] = str(self._seq(j))
        if shape & M_EVENT:
            m["event"] = self._name_list[self.etype.a[j]]
        if shape & M_READ:
            m["wire_read"] = self.read.a[j]
        if shape & M_TOPIC:
            m["topic"] = self._name_list[self.topic.a[j]]
        if shape & M_RTT:
            m["latency"] = "rtt"
        return m

    def _seq(self, j: int) -> int | None:
        if self.shape[j] & M_ODD:
            return self.odd[j + self._dropped][0]
        d = self.seq.a[j]
        return None if d == self.seq.none else d + j + self._dropped

    def _seqs(self, k: int) -> Any:
        """The seqs of the rows from ``k`` as int64 (NONE: none)."""
        seqs = self.seq.int64(k)
        known = seqs != NONE
        seqs[known] += np.flatnonzero(known) + (k + self._dropped)
        for row, (seq, *_rest) in self.odd.items():  # rows whose seq is kept whole
            if row - self._dropped >= k:
                seqs[row - self._dropped - k] = NONE if seq is None else seq
        return seqs

    def _payload(self, j: int) -> str | bytes | None:
        kind = self.pkind[j]
        if kind == P_NONE:
            return None
        ends = self.ends
        raw = self.buf[ends.start(j):ends.get(j)]
        return bytes(raw) if kind == P_BINARY else raw.decode()

    def event(self, i: int) -> Event:
        """Row ``i`` (0: the oldest kept) as an Event."""
        j = self._start + i
        transport, direction, kind = self._triples[self.code.a[j]]
        if self.shape[j] & M_ODD:
            seq, size, wire, latency = self.odd[j + self._dropped]
        else:
            ends = self.ends
            size = self.size.a[j] + ends.get(j) - ends.start(j)
            w, ns = self.wire.get(j), self.lat.get(j)
            wire = None if w is None else w + size
            latency = None if ns is None else ns / 1e6
            seq = self._seq(j)
        return event_from((transport, direction, kind, self.t.get(j), self.conn.a[j], seq, size, wire,
                           latency, self._payload(j), self._meta(j)))

    def events(self, start: int = 0) -> list[Event]:
        return [self.event(i) for i in range(start, len(self))]

    def drop_oldest(self, n: int) -> None:
        self._start += min(n, len(self))
        if self._start > 4096 and self._start * 4 > len(self.shape):  # compact when a quarter is dead
            self._compact()

    def _compact(self) -> None:
        k = self._start
        cut = self.ends.get(k - 1)
        gone_kinds = self.pkind[:k]
        self._binary -= gone_kinds.count(P_BINARY)
        self._other_text -= gone_kinds.count(P_TEXT)
        for col in (self.t, self.conn, self.seq, self.size, self.wire, self.lat, self.code, self.topic, self.etype,
                    self.read):
            col.drop_front(k)
        self.ends.drop_front(k, cut)
        del self.shape[:k], self.pkind[:k]
        del self.buf[:cut]
        self._dropped += k
        self._start = 0
        if self.sparse:
            self.sparse = {row: m for row, m in self.sparse.items() if row >= self._dropped}
        if self.odd:
            self.odd = {row: v for row, v in self.odd.items() if row >= self._dropped}

    @property
    def physical(self) -> int:
        """Rows held, the dropped but not yet compacted ones included."""
        return len(self.shape)

    def clear(self) -> None:
        self._reset()

    def snapshot(self) -> RowStore:
        """A copy to rebuild Events from off the GUI thread (arrays and buffers copy fast)."""
        copy = RowStore.__new__(RowStore)
        copy._codes, copy._triples = dict(self._codes), list(self._triples)
        copy._names, copy._name_list = dict(self._names), list(self._name_list)
        k = self._start
        cut = self.ends.start(k)
        copy.t, copy.conn, copy.seq, copy.size = self.t.tail(k), self.conn.tail(k), self.seq.tail(k), self.size.tail(k)
        copy.wire, copy.lat, copy.code, copy.topic = self.wire.tail(k), self.lat.tail(k), self.code.tail(k), \
            self.topic.tail(k)
        copy.etype, copy.shape, copy.pkind, copy.read = self.etype.tail(k), self.shape[k:], self.pkind[k:], \
            self.read.tail(k)
        copy.buf = self.buf[cut:]
        copy.ends = self.ends.tail(k, cut)
        copy._dropped = self._dropped + k
        copy.sparse = {row: m for row, m in self.sparse.items() if row >= copy._dropped}
        copy.odd = {row: v for row, v in self.odd.items() if row >= copy._dropped}
        copy._binary, copy._other_text = self._binary, self._other_text
        copy._start = 0
        return copy

    # -- search --------------------------------------------------------------------------------
    def search(self, needle: str, wanted: str | None, type_test: Callable[[Any, str], bool],
               start: int = 0, offset: int = 0, where: dict[str, str] | None = None) -> array:
        """Rows (indices from 0, plus ``offset``) at or after ``start`` whose text contains ``needle`` (lower
        case; "" matches all) and, with ``wanted``, whose event type passes ``type_test(event, wanted)``;
        ``where``: exact qualifiers as :func:`parse_filter` gives them (topic, kind, dir, conn). An
        ``array('q')``: bisect, slices and ``del`` work on it as on a list, and a million rows take 8 MB."""
        found = np.flatnonzero(self._mask(needle, wanted, type_test, start, where)) + (start + offset)
        return array("q", found.astype(np.int64).tobytes())

    def _mask(self, needle: str, wanted: str | None, type_test: Callable[[Any, str], bool], start: int,
              where: dict[str, str] | None) -> Any:
        """The rows from ``start`` the filter keeps, as a mask (each condition a whole-array step)."""
        k = self._start + start
        count = len(self) - start
        mask = self._where(where, start) if where else np.ones(count, dtype=bool)
        if wanted is not None:
            incoming = {c for c, (_t, d, kind) in enumerate(self._triples) if d == "in" and kind == "message"}
            triples = self._triples
            typed = [i for i, c in enumerate(self.code.a[k:])
                     if c in incoming and type_test(_TypeProbe(triples[c], self._meta(k + i)), wanted)]
            kept = np.zeros(count, dtype=bool)
            kept[np.array(typed, dtype=np.int64)] = True
            mask &= kept
        if needle:
            mask &= self._text_mask(needle, k, start, count)
        return mask

    def _text_mask(self, needle: str, k: int, start: int, count: int) -> Any:
        """The rows from ``start`` whose text holds ``needle``: the payload, the kind and direction, the seq's
        digits, a topic's or an event's name (they share the codes)."""
        hit = np.zeros(count, dtype=bool)
        named = [c for c, (_t, d, kind) in enumerate(self._triples) if needle in f"{d} {kind}"]
        if named:
            hit |= _codes_in(self.code, named, k)
        hit[self._payload_rows(needle, k, start) - start] = True
        if needle.isdigit() and needle.isascii():
            hit[_digits_in(self._seqs(k), needle)] = True
        hit |= self._named(lambda name: needle in name.lower(), k)
        return hit

    def _named(self, test: Callable[[str], bool], k: int) -> Any:
        """A mask of the rows from ``k`` whose topic or event name passes ``test`` (they share the codes)."""
        names = [c for c, name in enumerate(self._name_list) if c and test(name)]
        if not names:
            return False
        return _codes_in(self.topic, names, k) | _codes_in(self.etype, names, k)

    def _where(self, where: dict[str, str], start: int) -> Any:
        """A mask over the rows from ``start``: those every qualifier names exactly."""
        k = self._start + start
        mask = np.ones(len(self) - start, dtype=bool)
        for key, value in where.items():
            if key == "re":
                hit = self._regex_mask(value, k, len(mask))
            elif key in ("topic", "event"):
                code = self._names.get(value)
                column = self.topic if key == "topic" else self.etype
                hit = np.zeros_like(mask) if code is None else _codes_in(column, [code], k)
            elif key == "conn":
                hit = self.conn.view()[k:] == int(value) if value.isdigit() and self.conn.holds(int(value)) \
                    else np.zeros_like(mask)
            else:  # kind or dir: the row codes whose triple says so
                at = 2 if key == "kind" else 1
                hit = _codes_in(self.code, [c for c, triple in enumerate(self._triples) if triple[at] == value], k)
            mask &= hit
        return mask

    def _regex_mask(self, pattern: str, k: int, count: int) -> Any:
        """The rows from ``k`` whose payload (binary as hex) or topic or event name a regular expression
        finds, without case; one row at a time (a pattern may anchor at a row's ends). Raises
        :class:`FilterError` with one sentence for a pattern that is not one."""
        try:
            text_re = re.compile(pattern, re.IGNORECASE)
        except re.error as err:
            raise FilterError(f"Not a regular expression: {err}.") from None
        try:
            ascii_re = re.compile(pattern.encode(), re.IGNORECASE)  # the same on ASCII rows, without decoding
        except (re.error, UnicodeEncodeError):
            ascii_re = None
        hit = np.zeros(count, dtype=bool)
        all_ends = self.ends.vector(k)
        view = memoryview(self.buf)
        try:
            at = self.ends.start(k)
            text_search, ascii_search = text_re.search, ascii_re.search if ascii_re is not None else None
            for lo in range(0, count, REGEX_SLICE):  # the ends as Python ints a slice at a time, not a million at once
                ends = all_ends[lo:lo + REGEX_SLICE].tolist()
                for i, kind in enumerate(self.pkind[k + lo:k + lo + len(ends)], lo):
                    end = ends[i - lo]
                    if kind == P_ASCII and ascii_search is not None:
                        hit[i] = ascii_search(view[at:end]) is not None
                    elif kind != P_NONE:
                        raw = bytes(view[at:end])
                        hit[i] = text_search(raw.hex() if kind == P_BINARY else raw.decode()) is not None
                    at = end
        finally:
            view.release()
        hit |= self._named(lambda name: text_re.search(name) is not None, k)
        return hit

    def _payload_rows(self, needle: str, k: int, start: int) -> Any:
        """Rows (from ``start``) whose payload contains ``needle``: text lower-cased as ``str.lower``
        does, binary read as hex."""
        n = len(self.shape)
        if k >= n:
            return np.zeros(0, dtype=np.int64)
        lo = self.ends.start(k)
        ends = self.ends.vector(k)
        kinds = np.frombuffer(self.pkind, dtype=np.uint8)[k:]
        found: list[Any] = []
        if needle.isascii():  # ASCII rows: one search over their bytes, either case (as str.lower does ASCII)
            key = needle.encode()
            at = _find_all(self.buf, key, lo)
            if len(at):
                rows = np.searchsorted(ends, at, side="right")  # the row each hit starts in (it starts < the end)
                rows = rows[at + len(key) <= ends[rows]]  # a hit across two rows is no hit
                if self._other_text or self._binary:  # only ASCII rows count here (an empty row holds no hit)
                    rows = rows[kinds[rows] == P_ASCII]
                found.append(rows)  # repeats are harmless: the caller marks a mask
        others = (P_TEXT,) if needle.isascii() else (P_ASCII, P_TEXT)
        if self._other_text or not needle.isascii():  # text that lower() may change beyond ASCII
            idx = np.flatnonzero(np.isin(kinds, others))
            lower = str.lower
            found.append(np.array([i for i in idx.tolist() if needle in lower(self._payload(k + i))],  # type: ignore[arg-type]
                                  dtype=np.int64))
        if self._binary:
            idx = np.flatnonzero(kinds == P_BINARY)
            found.append(np.array([i for i in idx.tolist() if needle in self._payload(k + i).hex()],  # type: ignore[union-attr]
                                  dtype=np.int64))
        if not found:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate(found) + start


REGEX_SLICE = 1 << 16  # rows a pattern filter takes at a time
CHUNK = 1 << 22  # the buffer is scanned 4 MB at a time (the scratch arrays stay small and warm)
_SAMPLES, _SAMPLE = 16, 1 << 16  # the bytes a search reads first to pick the needle's rarest byte


def _find_all(buf: bytearray, key: bytes, lo: int) -> Any:
    """Where ``key`` (lower case) starts in ``buf[lo:]`` with ASCII letters of either case (as
    ``str.lower`` does ASCII), overlapping starts included. In numpy, without a lowered copy: the
    places of the needle's rarest byte (its two cases at once: ``b | 0x20``) are found a chunk at a
    time, then each other byte of the needle is checked at those places, the rarest first."""
    data = np.frombuffer(buf, dtype=np.uint8)
    try:
        return _find_in(data, key, lo)
    finally:
        del data  # the bytearray can grow again


def _rarity(data: Any, lo: int, key: bytes) -> list[int]:
    """The needle's positions, its rarest byte first (counts from a sample of the buffer, cases folded)."""
    span = len(data) - lo
    step = max(_SAMPLE, span // _SAMPLES)
    counts = np.zeros(256, dtype=np.int64)
    for at in range(lo, len(data), step):
        counts += np.bincount(data[at:at + _SAMPLE] | 0x20, minlength=256)
    return sorted(range(len(key)), key=lambda i: counts[key[i] | 0x20 if _letter(key[i]) else key[i]])


def _letter(b: int) -> bool:
    return 97 <= b <= 122


def _find_in(data: Any, key: bytes, lo: int) -> Any:
    n, width = len(data), len(key)
    if n - lo < width:
        return np.zeros(0, dtype=np.int64)
    order = _rarity(data, lo, key)
    pivot = order[0]
    pb = key[pivot]
    fold = _letter(pb)
    found: list[Any] = [np.zeros(0, dtype=np.int64)]
    size = min(CHUNK, n - lo)
    scratch = np.empty(size, dtype=np.uint8)
    hit = np.empty(size, dtype=bool)
    first, last = lo + pivot, n - width + pivot  # where the pivot byte of a whole hit can lie
    at = first
    while at <= last:
        stop = min(last + 1, at + size)
        piece = data[at:stop]
        m = len(piece)
        if fold:
            np.bitwise_or(piece, 0x20, out=scratch[:m])
            np.equal(scratch[:m], pb, out=hit[:m])
        else:
            np.equal(piece, pb, out=hit[:m])
        starts = np.flatnonzero(hit[:m]) + (at - pivot)
        for i in order[1:]:
            if not len(starts):
                break
            got = data[starts + i]
            b = key[i]
            starts = starts[((got | 0x20) if _letter(b) else got) == b]
        found.append(starts)
        at = stop
    return np.concatenate(found)


def _codes_in(column: IntColumn, wanted: list[int], k: int) -> Any:
    """A mask of the rows from ``k`` whose code in ``column`` is one of ``wanted``."""
    codes = column.view()[k:]
    wanted = [c for c in wanted if column.holds(c)]
    return codes == wanted[0] if len(wanted) == 1 else np.isin(codes, wanted)


def _digits_in(seqs: Any, needle: str) -> Any:
    """Indices of the numbers (NONE: none) whose decimal digits contain ``needle``, as
    ``needle in str(n)`` says, in whole-array arithmetic: a window of len(needle) digits at each place."""
    if len(needle) > 18:  # beyond int64's digits: one at a time
        return np.array([i for i, n in enumerate(seqs.tolist()) if n != NONE and needle in str(n)], dtype=np.int64)
    known = seqs != NONE
    q = np.abs(np.where(known, seqs, 0))
    width, value = 10 ** len(needle), int(needle)
    hit = known & (q == 0) if needle == "0" else np.zeros(len(q), dtype=bool)  # "0" has one digit: 0
    while True:  # the window at this place lies inside the number when q has len(needle) digits left
        hit |= known & (q % width == value) & (q >= width // 10)
        q = q // 10
        if not q.any():
            return np.flatnonzero(hit)


QUALIFIERS = ("topic", "event", "kind", "dir", "conn")


def parse_filter(text: str) -> tuple[str, dict[str, str]]:
    """A filter box's text as (free text, lower case; exact qualifiers): ``topic:chat kind:message
    conn:3 dir:out hello`` keeps the rows of topic "chat" (case kept), kind "message", connection 3,
    outgoing, whose text contains "hello"; ``event:price`` the rows of an SSE event type or a Socket.IO
    event named "price" (case kept). Free text written ``/…/`` is a regular expression (any case) over the
    payload and the topic and event names: ``where["re"]``."""
    free: list[str] = []
    where: dict[str, str] = {}
    for word in text.split(" "):
        key, sep, value = word.partition(":")
        if sep and value and key.lower() in QUALIFIERS:
            where[key.lower()] = value if key.lower() in ("topic", "event") else value.lower()
        else:
            free.append(word)
    text = " ".join(free).strip()
    if len(text) >= 3 and text[0] == text[-1] == "/":
        where["re"] = text[1:-1]
        return "", where
    return text.lower(), where


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
