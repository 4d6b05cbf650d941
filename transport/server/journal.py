"""The feed's history in a file, so that killing the lab process loses nothing — and so that a numbering
is never reused.

**The invariant**: no two different messages ever carry the same (epoch, seq). A lab restarted on its
file carries on in the file's epoch only when the file provably holds every message that epoch
published; otherwise it takes a new epoch, and clients resuming from the old one get a declared reset.

The file: a head line of fixed width, ``{"epoch":"…","first":"<20 digits>","published":"<20 digits>"}``
(the first seq the file holds, the last one written), then one envelope per line (the JSON text the clients get). Lines are written with ``os.write`` once per event-loop iteration
(``call_soon``), before any client handler can have sent them (the kernel keeps what was written even
through SIGKILL); then the head is rewritten in place (``pwrite``, which never grows the file) with the
last seq written. So on start:

- a torn last line (killed in the middle of a write) is dropped: no client can have had it;
- a line that cannot be read anywhere else, a seq out of sequence, or a last seq below what the head
  says was written (the file lost its end) is damage: a new epoch;
- a write that failed (a full disk, a file-size limit) marks the head *ended* in place, the feed goes
  on in memory (said once: log, ``/_admin/stats``), and the next start takes a new epoch — even when
  nothing more could be appended.

The last ``keep`` lines are kept; the file is compacted (rewritten) whenever it holds twice that.

And (issue 27):

- each line ends with a tab and a CRC-32 of the epoch and the line (hex): a line edited into other valid
  JSON, or copied from another file, is damage (a new epoch), not a different message under an old seq.
  The head says so (``"sum":"crc32"``); a file of an earlier version, without it, is read as before;
- a rewrite (at start, or a compaction) that fails leaves the old file and its descriptors in place, so
  its head is marked *ended*; a rewrite that fails at start also takes a new numbering for this run
  (the old file may not even take the mark: an immutable file);
- the file is locked (``flock`` on ``<file>.lock``) by the lab that uses it: a second lab on the same
  history file refuses to start, with one sentence.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import logging
import os
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

log = logging.getLogger("duplex.server.journal")

MAX_LINE = 1 << 22  # a line longer than this is damage, not a message
ENDED = 10**20 - 1  # the head's "published" once the epoch is over (no seq reaches it)


@dataclass(slots=True)
class LoadReport:
    """What a start made of the history file (the first stdout line carries it)."""

    loaded: int = 0
    skipped: int = 0  # lines that could not be used
    epoch: str = "new"  # kept or new
    why: str = "no history file yet"

    def to_json(self) -> dict[str, object]:
        return {"loaded": self.loaded, "skipped": self.skipped, "epoch": self.epoch, "why": self.why}


class HistoryInUse(OSError):
    """Another lab holds the history file."""


class Journal:
    def __init__(self, path: str | os.PathLike, keep: int) -> None:
        self.path = Path(path)
        self.keep = keep
        self._lock: int | None = None  # <file>.lock, held while the lab uses the file
        self._fd: int | None = None  # appends
        self._head_fd: int | None = None  # the head, rewritten in place
        self._epoch = ""
        self._first = 0
        self._pending: list[tuple[int, str]] = []
        self._lines = 0
        self.skipped = 0
        self.report = LoadReport()
        self.error: str | None = None  # why the file is no longer written (the feed goes on in memory)

    # -- start ---------------------------------------------------------------------------------
    def load(self, epoch: str) -> tuple[str, list[tuple[int, int, str, object, str]], int]:
        """The numbering to go on with (``epoch`` unless the file's can be carried on), the kept messages
        as (seq, ts, topic, body, text), oldest first, and the last seq of the numbering; the file is
        rewritten with them."""
        self._take_lock()
        fresh = epoch
        kept: deque[tuple[int, int, str, object, str]] = deque(maxlen=self.keep)
        report = self.report
        last = 0
        if self.path.exists():
            named, kept, last, report = self._read(epoch)
            if report.epoch == "kept":
                epoch = named
            else:  # another numbering: what the old one held cannot be resumed from in it
                kept.clear()
                last = 0
            report.loaded = len(kept)
            self.report = report
        self.skipped = report.skipped
        try:
            self.rewrite((m[4] for m in kept), epoch, kept[0][0] if kept else last + 1, last)
        except OSError as exc:
            if report.epoch == "kept":  # the file could not take this run's numbers: never go on in its numbering
                self._mark_ended_at_start(epoch)
                epoch, kept, last = fresh, deque(maxlen=self.keep), 0
                report.epoch, report.loaded = "new", 0
                report.why = f"the history file cannot be rewritten ({exc.strerror or exc}): a new numbering"
            self._broken(exc)
        return epoch, list(kept), last

    def _take_lock(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise HistoryInUse(errno.EBUSY, "another lab is using it (two labs on one history file would "
                                                "number different messages alike)") from None
            raise
        self._lock = fd

    def _mark_ended_at_start(self, epoch: str) -> None:
        """The old file's head, marked ended in place (best effort: an immutable file refuses even that)."""
        try:
            fd = os.open(self.path, os.O_WRONLY)
        except OSError:
            return
        try:
            with self.path.open("rb") as f:
                head = _parse_head(f.readline(MAX_LINE))
            if head is not None:
                os.pwrite(fd, _head(head[0], head[1], ENDED, summed=head[3]), 0)
        except OSError as again:
            log.error("could not mark the history file's numbering as ended: %s", again)
        finally:
            os.close(fd)

    def _read(self, epoch: str) -> tuple[str, deque[tuple[int, int, str, object, str]], int, LoadReport]:
        kept: deque[tuple[int, int, str, object, str]] = deque(maxlen=self.keep)
        report = LoadReport(epoch="new")
        with self.path.open("rb") as f:
            head = _parse_head(f.readline(MAX_LINE))
            if head is None:
                report.why = "its first line names no numbering"
                return epoch, kept, 0, report
            named, first, published, summed = head
            if published >= ENDED:
                report.why = "its numbering was ended (a write had failed)"
                return epoch, kept, 0, report
            raws = f.readlines()
        last = first - 1 if first else None  # an earlier version's file: no first, trusted as before
        for i, raw in enumerate(raws):
            item = _parse_line(raw, named if summed else None)
            if item is None:
                report.skipped += 1
                if i == len(raws) - 1 and not raw.endswith(b"\n"):
                    continue  # a torn last write: no client can have had it
                report.why = f"line {i + 2} is damaged"
                return epoch, kept, 0, report
            if last is not None and item[0] != last + 1:
                report.why = f"seq {item[0]} follows seq {last} (lines are missing)"
                return epoch, kept, 0, report
            last = item[0]
            kept.append(item)
        last = last or 0
        if last < published:
            report.why = f"it ends at seq {last}, but seq {published} had been written (the file lost its end)"
            return epoch, kept, 0, report
        report.epoch, report.why = "kept", "the file holds every message of its numbering"
        return named, kept, last, report

    # -- writing -------------------------------------------------------------------------------
    def rewrite(self, texts: Iterable[str], epoch: str, first: int, published: int) -> None:
        """Replace the file with the numbering's head and ``texts`` (atomically); append from there on.
        Raises OSError when it cannot (the caller marks the journal broken): the old file and its
        descriptors stay as they were until the new one is in place, so its head can still be marked."""
        self.flush()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        n = 0
        try:
            with tmp.open("wb") as f:
                f.write(_head(epoch, first, published))
                for text in texts:
                    f.write(_line(epoch, text))
                    n += 1
            fd = os.open(tmp, os.O_WRONLY | os.O_APPEND)
            try:
                head_fd = os.open(tmp, os.O_WRONLY)
            except OSError:
                os.close(fd)
                raise
            try:
                os.replace(tmp, self.path)
            except OSError:
                os.close(fd)
                os.close(head_fd)
                raise
        except OSError:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            raise
        self._close_fds()
        self._pending.clear()  # ``texts`` held every kept message, those not yet written among them
        self._epoch, self._first = epoch, first
        self._lines = n
        self._fd, self._head_fd = fd, head_fd

    def append(self, seq: int, text: str) -> None:
        """Queue a line; it is written at the end of this loop iteration (at once without a loop)."""
        if self.error is not None:
            return
        self._pending.append((seq, text))
        if len(self._pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        if not self._pending or self._fd is None or self._head_fd is None:
            return
        pending, self._pending = self._pending, []
        epoch = self._epoch
        data = b"".join(_line(epoch, text) for _seq, text in pending)
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(f"only {written} of {len(data)} bytes were written")
            os.pwrite(self._head_fd, _head(self._epoch, self._first, pending[-1][0]), 0)
        except OSError as exc:
            self._broken(exc)
            return
        self._lines += len(pending)

    def compact(self, texts: Iterable[str], first: int, published: int) -> None:
        if self.error is None and self._lines >= 2 * self.keep:
            try:
                self.rewrite(texts, self._epoch, first, published)
            except OSError as exc:
                self._broken(exc)

    def clear(self, published: int) -> None:
        """History evicted (a fault): the file keeps only its head."""
        if self.error is None:
            try:
                self.rewrite((), self._epoch, published + 1, published)
            except OSError as exc:
                self._broken(exc)

    def _broken(self, exc: OSError) -> None:
        """The file cannot be written: end its numbering in place (so the next start takes a new one),
        say so once, and let the feed go on in memory."""
        self.error = f"the history file {self.path} cannot be written ({exc.strerror or exc}): the feed goes on " \
                     "in memory, and the next start takes a new numbering"
        log.error("%s", self.error)
        self._pending.clear()
        if self._head_fd is not None and self._epoch:
            try:
                os.pwrite(self._head_fd, _head(self._epoch, self._first, ENDED), 0)
            except OSError as again:
                log.error("could not mark the history file's numbering as ended either: %s", again)

    def close(self) -> None:
        if self._fd is not None:
            self.flush()
        self._close_fds()
        if self._lock is not None:
            os.close(self._lock)  # the lock goes with it
            self._lock = None

    def _close_fds(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._head_fd is not None:
            os.close(self._head_fd)
            self._head_fd = None


def _head(epoch: str, first: int, published: int, summed: bool = True) -> bytes:
    fields = {"epoch": epoch, "first": f"{first:020d}", "published": f"{published:020d}"}
    if summed:
        fields["sum"] = "crc32"
    return (json.dumps(fields, separators=(",", ":")) + "\n").encode()


def _sum(epoch: str, data: bytes) -> str:
    return f"{zlib.crc32(data, zlib.crc32(epoch.encode())):08x}"


def _line(epoch: str, text: str) -> bytes:
    """A message's line: its envelope, a tab, the CRC-32 of the epoch and the envelope (JSON text never
    holds a raw tab)."""
    data = text.encode()
    return data + b"\t" + _sum(epoch, data).encode() + b"\n"


def _parse_head(raw: bytes) -> tuple[str, int, int, bool] | None:
    """(epoch, first, published, summed); first 0 for a file of an earlier version (no counts: trusted);
    summed: its lines carry checksums (every line must)."""
    if not raw.endswith(b"\n"):
        return None
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("epoch"), str) or not obj["epoch"]:
        return None
    first, published = obj.get("first", "0"), obj.get("published", "0")
    if not (isinstance(first, str) and first.isdigit() and isinstance(published, str) and published.isdigit()):
        return None
    return obj["epoch"][:64], int(first), int(published), obj.get("sum") == "crc32"


def _parse_line(raw: bytes, epoch: str | None) -> tuple[int, int, str, object, str] | None:
    """A line's message, or None when it is damaged (with ``epoch``: its checksum must match)."""
    if len(raw) > MAX_LINE or not raw.endswith(b"\n"):
        return None
    body = raw[:-1]
    if epoch is not None:
        data, tab, summed = body.rpartition(b"\t")
        if not tab or summed.decode("ascii", "replace") != _sum(epoch, data):
            return None
        body = data
    try:
        text = body.decode()
        obj = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(obj, dict) or type(obj.get("seq")) is not int or type(obj.get("ts")) is not int:
        return None
    return obj["seq"], obj["ts"], str(obj.get("topic", "")), obj.get("body"), text
