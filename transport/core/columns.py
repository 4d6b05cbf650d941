"""Integer columns near their values' size, for the timeline's rows (rows.py).

A million rows of a feed hold small numbers: a connection id, a sequence
number, a size that equals the payload's bytes, a latency of microseconds.
In 64-bit arrays they cost 8 bytes each whatever they hold; here:

- :class:`IntColumn` keeps integers (and None) in the narrowest typed array
  that holds every value so far (8, 16, 32 or 64 bits), and widens itself once,
  in place, when a value does not fit. None is the type's least value.
- :class:`TimeColumn` keeps nanosecond times as a 32-bit offset from the base
  of their block; a new block starts where a time does not fit the last one
  (earlier than its base, or 4.29 s after it). A fast feed's rows take 4 bytes
  each; a slow feed's few rows a block each.

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
    """Integers or None in the narrowest of int8/16/32/64 that holds them (None: the type's least value)."""

    __slots__ = ("a", "none", "top")

    def __init__(self, code: str = "b") -> None:
        self._use(array(code))

    def _use(self, a: array) -> None:
        self.a = a
        self.none, self.top = _LIMITS[a.typecode]

    def __len__(self) -> int:
        return len(self.a)

    def _fit(self, lo: int, hi: int) -> None:
        while not (self.none < lo and hi <= self.top):
            old = self.view()
            wide = old.astype(_DTYPES[_WIDER[self.a.typecode]])
            wide[old == self.none] = _LIMITS[_WIDER[self.a.typecode]][0]
            self._use(array(_WIDER[self.a.typecode], wide.tobytes()))

    def extend64(self, values: Any) -> None:
        """Append an int64 numpy array in which :data:`NONE` stands for None."""
        if not len(values):
            return
        missing = values == NONE
        some = bool(missing.any())
        known = values[~missing] if some else values
        if len(known):
            self._fit(int(known.min()), int(known.max()))
        out = values.astype(_DTYPES[self.a.typecode])
        if some:
            out[missing] = self.none
        self.a.frombytes(out.tobytes())

    def get(self, j: int) -> int | None:
        v = self.a[j]
        return None if v == self.none else v

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

    def tail(self, k: int) -> IntColumn:
        copy = IntColumn.__new__(IntColumn)
        copy._use(self.a[k:])
        return copy

    def nbytes(self) -> int:
        return len(self.a) * self.a.itemsize


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
