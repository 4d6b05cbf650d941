"""Integer columns near their values' size, for the timeline's rows (rows.py).

A million rows of a feed hold small numbers: a connection id, a sequence
number, a size that equals the payload's bytes, a latency of microseconds.
In 64-bit arrays they cost 8 bytes each whatever they hold; here:

- :class:`IntColumn` keeps integers (and None) in the narrowest typed array
  that holds every value so far (8, 16, 32 or 64 bits), and widens itself once,
  in place, when a value does not fit. None is the type's least value. A column
  read one row at a time may keep a rare outlier aside instead (``spill``).
- :class:`TimeColumn` keeps nanosecond times as a 32-bit offset from the base
  of their block; a new block starts where a time does not fit the last one
  (earlier than its base, or 4.29 s after it). A fast feed's rows take 4 bytes
  each; a slow feed's few rows a block each.
- :class:`EndColumn` keeps where each row's bytes end in a buffer as an offset
  from its 64-row block's base (2 bytes for a feed's rows).

Every value reads back exactly. Pure Python and numpy (no Qt).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import Any

import numpy as np

NONE = -(1 << 63)  # None in an int64 view (rows.py's sentinel)
_WIDER = {"b": "h", "h": "i", "i": "q"}
_DTYPES = {"b": np.int8, "h": np.int16, "i": np.int32, "q": np.int64}
_LIMITS = {code: (-(1 << (8 * array(code).itemsize - 1)), (1 << (8 * array(code).itemsize - 1)) - 1)
           for code in _DTYPES}
OFFSET_MAX = 0xFFFFFFFF


class IntColumn:
    """Integers or None in the narrowest of int8/16/32/64 that holds them (None: the type's least value).

    ``spill``: a column read one row at a time (never as a whole array) keeps a rare value that does not fit
    aside instead of widening for it — one row in SPILL_RATE at most, the type's greatest value marking it —
    so one handshake row's wire size does not double a million rows' column."""

    __slots__ = ("a", "none", "top", "spill", "out", "first")

    SPILL_RATE = 512

    def __init__(self, code: str = "b", spill: bool = False) -> None:
        self.spill = spill
        self.out: dict[int, int] = {}  # absolute row → a value kept aside (spill only)
        self.first = 0  # the absolute row of physical row 0 (spill only)
        self._use(array(code))

    def _use(self, a: array) -> None:
        self.a = a
        self.none, self.top = _LIMITS[a.typecode]

    def __len__(self) -> int:
        return len(self.a)

    def _holds(self, lo: int, hi: int) -> bool:
        return self.none < lo and hi <= (self.top - 1 if self.spill else self.top)

    def _fit(self, lo: int, hi: int) -> None:
        if self._holds(lo, hi):
            return
        if self.out:  # widening anyway: the values kept aside go back in the array (those it can hold)
            lo, hi = min(lo, *self.out.values()), max(hi, *self.out.values())
        code: str = self.a.typecode
        while code in _WIDER:  # the narrowest type that holds them all (int64 at most)
            code = _WIDER[code]
            least, most = _LIMITS[code]
            if least < lo and hi <= (most - 1 if self.spill else most):
                break
        old = self.view()
        wide = old.astype(_DTYPES[code])
        wide[old == self.none] = _LIMITS[code][0]
        if self.spill:
            wide[old == self.top] = _LIMITS[code][1]
        self._use(array(code, wide.tobytes()))
        kept = {}
        for row, value in self.out.items():
            if self._holds(value, value):
                self.a[row - self.first] = value
            else:  # int64's greatest value, which marks the values kept aside
                kept[row] = value
        self.out = kept

    def extend64(self, values: Any) -> None:
        """Append an int64 numpy array in which :data:`NONE` stands for None."""
        if not len(values):
            return
        missing = values == NONE
        some = bool(missing.any())
        known = values[~missing] if some else values
        if len(known):
            lo, hi = int(known.min()), int(known.max())
            rare = self.spill and not self._holds(lo, hi) and \
                len(self.out) + int(self._outside(values, missing).sum()) <= \
                (len(self.a) + len(values)) // self.SPILL_RATE + 1
            if rare:  # those values go aside; the column fits the others
                inside = known[(known > self.none) & (known < self.top)]
                lo, hi = (int(inside.min()), int(inside.max())) if len(inside) else (0, 0)
            self._fit(lo, hi)  # (widening keeps aside only what int64 cannot mark)
        aside: Any = np.flatnonzero(self._outside(values, missing)) if self.spill else ()
        if len(aside):
            row0 = self.first + len(self.a)
            for i in aside.tolist():
                self.out[row0 + i] = int(values[i])
            values = values.copy()
            values[aside] = 0
        out = values.astype(_DTYPES[self.a.typecode])
        if some:
            out[missing] = self.none
        if len(aside):
            out[aside] = self.top
        self.a.frombytes(out.tobytes())

    def _outside(self, values: Any, missing: Any) -> Any:
        """The values this column's type cannot hold as they are (a spill column: its greatest value marks)."""
        return ~missing & ((values <= self.none) | (values >= self.top))

    def get(self, j: int) -> int | None:
        v = self.a[j]
        if v == self.none:
            return None
        if v == self.top and self.spill:
            return self.out[j + self.first]
        return v

    def view(self) -> Any:
        """The column as a numpy array of its own type (no copy; None is :attr:`none`)."""
        return np.frombuffer(self.a, dtype=_DTYPES[self.a.typecode])

    def int64(self, start: int = 0) -> Any:
        """From ``start``, as int64 with :data:`NONE` for None (a copy)."""
        v = self.view()[start:]
        out = v.astype(np.int64)
        if self.a.typecode != "q":
            out[v == self.none] = NONE
        return out

    def holds(self, value: int) -> bool:
        """Whether ``value`` can be in the column at all (a filter for a value beyond it matches nothing)."""
        return self.none < value <= self.top

    def drop_front(self, k: int) -> None:
        del self.a[:k]
        self.first += k
        if self.out:
            self.out = {row: v for row, v in self.out.items() if row >= self.first}

    def tail(self, k: int) -> IntColumn:
        copy = IntColumn.__new__(IntColumn)
        copy.spill, copy.first = self.spill, self.first + k
        copy.out = {row: v for row, v in self.out.items() if row >= copy.first}
        copy._use(self.a[k:])
        return copy

    def nbytes(self) -> int:
        return len(self.a) * self.a.itemsize + len(self.out) * 100


class TimeColumn:
    """Nanosecond times: a 32-bit offset per row from its block's 64-bit base."""

    __slots__ = ("off", "starts", "bases", "first")

    def __init__(self) -> None:
        self.off = array("I")
        self.starts = array("q")  # the absolute row each block starts at (absolute = physical + first)
        self.bases = array("q")
        self.first = 0  # the absolute row of physical row 0

    def __len__(self) -> int:
        return len(self.off)

    def extend64(self, values: Any) -> None:
        """Append an int64 numpy array of times."""
        if not len(values):
            return
        if self.bases:
            last = self.bases[-1]
            lo, hi = int(values.min()), int(values.max())
            if lo >= last and hi - last <= OFFSET_MAX:  # the usual batch: within the last block
                self.off.frombytes((values - last).astype(np.uint32).tobytes())
                return
        row = self.first + len(self.off)
        base = self.bases[-1] if self.bases else None
        for t in values.tolist():  # a batch that starts a block (once per 4.29 s of a feed at most)
            if base is None or not 0 <= t - base <= OFFSET_MAX:
                base = t
                self.starts.append(row)
                self.bases.append(t)
            self.off.append(t - base)
            row += 1

    def get(self, j: int) -> int:
        b = bisect_right(self.starts, j + self.first) - 1
        return self.bases[b] + self.off[j]

    def drop_front(self, k: int) -> None:
        del self.off[:k]
        self.first += k
        b = bisect_right(self.starts, self.first) - 1  # the block physical row 0 is now in
        if b > 0:
            del self.starts[:b]
            del self.bases[:b]

    def tail(self, k: int) -> TimeColumn:
        copy = TimeColumn()
        copy.off, copy.starts, copy.bases, copy.first = self.off[:], self.starts[:], self.bases[:], self.first
        copy.drop_front(k)
        return copy

    def nbytes(self) -> int:
        return len(self.off) * 4 + len(self.starts) * 16


class EndColumn:
    """Where each row's bytes end in a buffer: as a small offset from its block's base (a block: 64 rows by
    their absolute number), so a lab row's end takes 2 bytes, not 8. The first row held starts at 0 (the
    buffer loses what the dropped rows held)."""

    __slots__ = ("rel", "bases", "first", "block0")

    SHIFT = 6  # 64 rows a block

    def __init__(self) -> None:
        self.rel = IntColumn()
        self.bases = array("q")  # each block's base: where its first row starts in the buffer
        self.first = 0  # the absolute row of physical row 0
        self.block0 = 0  # the absolute block of bases[0]

    def __len__(self) -> int:
        return len(self.rel)

    def last(self) -> int:
        """The end of the last row (0 with none)."""
        return self.get(len(self.rel) - 1) if len(self.rel) else 0

    def extend(self, lengths: Any) -> None:
        """Append rows of these byte lengths (int64)."""
        n = len(lengths)
        if not n:
            return
        ends = np.cumsum(lengths) + self.last()
        starts = ends - lengths
        rows = np.arange(self.first + len(self.rel), self.first + len(self.rel) + n, dtype=np.int64)
        blocks = rows >> self.SHIFT
        if not self.bases:  # the first block's base: where the first row held starts
            self.block0 = int(blocks[0])
            self.bases.append(int(starts[0]))
        new = np.flatnonzero(blocks >= self.block0 + len(self.bases))  # rows of blocks with no base yet…
        new = new[(rows[new] & ((1 << self.SHIFT) - 1)) == 0]  # …each block's first row
        if len(new):
            self.bases.frombytes(starts[new].astype(np.int64).tobytes())
        base = np.frombuffer(self.bases, dtype=np.int64)[blocks - self.block0]
        self.rel.extend64(ends - base)

    def get(self, j: int) -> int:
        return self.bases[((j + self.first) >> self.SHIFT) - self.block0] + self.rel.a[j]

    def start(self, j: int) -> int:
        return self.get(j - 1) if j else 0

    def vector(self, k: int = 0) -> Any:
        """The ends of the rows from physical ``k``, as int64."""
        n = len(self.rel) - k
        row = self.first + k
        block = (row >> self.SHIFT) - self.block0  # the block of row k, and the rows of it before k
        last = ((self.first + len(self.rel) - 1) >> self.SHIFT) - self.block0 + 1
        skip = row & ((1 << self.SHIFT) - 1)
        out = np.repeat(np.frombuffer(self.bases, dtype=np.int64)[block:last], 1 << self.SHIFT)[skip:skip + n]
        out += self.rel.view()[k:]
        return out

    def drop_front(self, k: int, cut: int) -> None:
        """The first ``k`` rows and the ``cut`` bytes they held are gone from the buffer."""
        self.rel.drop_front(k)
        self.first += k
        gone = (self.first >> self.SHIFT) - self.block0  # blocks wholly before the new first row
        if gone > 0:
            del self.bases[:gone]
            self.block0 += gone
        if self.bases:
            bases = np.frombuffer(self.bases, dtype=np.int64)
            bases -= cut
            del bases

    def tail(self, k: int, cut: int) -> EndColumn:
        copy = EndColumn()
        copy.rel = self.rel.tail(0)
        copy.bases, copy.first, copy.block0 = self.bases[:], self.first, self.block0
        copy.drop_front(k, cut)
        return copy

    def nbytes(self) -> int:
        return self.rel.nbytes() + len(self.bases) * 8
