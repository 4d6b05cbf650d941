"""The feed's history in a file, so that killing the lab process loses nothing.

The first line names the numbering (``{"epoch": "…"}``), then one envelope
per line (the JSON text the clients get). Lines are written
with ``os.write`` on an unbuffered descriptor once per event-loop iteration
(``call_soon``), before any client handler can have sent them: the kernel
holds what was written even if the process is killed with SIGKILL a moment
later. On start the last ``keep`` lines are loaded and the file is rewritten
with just those; it is compacted the same way whenever it holds twice that.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import deque
from pathlib import Path
from typing import Iterable

log = logging.getLogger("duplex.server.journal")

MAX_LINE = 1 << 21  # a line longer than this is damage, not a message


class Journal:
    def __init__(self, path: str | os.PathLike, keep: int) -> None:
        self.path = Path(path)
        self.keep = keep
        self._fd: int | None = None
        self._pending: list[str] = []
        self._lines = 0
        self.skipped = 0  # damaged lines found on load (a torn last write)

    def load(self, epoch: str) -> tuple[str, list[tuple[int, int, str, object, str]]]:
        """The file's numbering (``epoch`` for a new or empty file) and its kept messages as
        (seq, ts, topic, body, text), oldest first; the file is rewritten with them."""
        kept: deque[tuple[int, int, str, object, str]] = deque(maxlen=self.keep)
        if self.path.exists():
            with self.path.open("rb") as f:
                head = f.readline()
                try:
                    named = json.loads(head).get("epoch") if head.endswith(b"\n") else None
                except (ValueError, AttributeError):
                    named = None
                if isinstance(named, str) and named:
                    epoch = named[:64]
                else:
                    f.seek(0)
                for raw in f:
                    item = self._parse(raw)
                    if item is None:
                        self.skipped += 1
                    elif not kept or item[0] > kept[-1][0]:
                        kept.append(item)
                    else:
                        self.skipped += 1
        self.rewrite((m[4] for m in kept), epoch)
        return epoch, list(kept)

    @staticmethod
    def _parse(raw: bytes) -> tuple[int, int, str, object, str] | None:
        if len(raw) > MAX_LINE or not raw.endswith(b"\n"):
            return None
        try:
            text = raw[:-1].decode()
            obj = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            return None
        if not isinstance(obj, dict) or type(obj.get("seq")) is not int or type(obj.get("ts")) is not int:
            return None
        return obj["seq"], obj["ts"], str(obj.get("topic", "")), obj.get("body"), text

    def rewrite(self, texts: Iterable[str], epoch: str) -> None:
        """Replace the file with the numbering's name and ``texts`` (atomically); append from there on."""
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        n = 0
        with tmp.open("w", encoding="utf-8") as f:
            f.write(json.dumps({"epoch": epoch}) + "\n")
            for text in texts:
                f.write(text + "\n")
                n += 1
        os.replace(tmp, self.path)
        self._lines = n
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def append(self, text: str) -> None:
        """Queue a line; it is written at the end of this loop iteration (at once without a loop)."""
        self._pending.append(text)
        if len(self._pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        if not self._pending or self._fd is None:
            return
        data = ("\n".join(self._pending) + "\n").encode()
        self._lines += len(self._pending)
        self._pending.clear()
        try:
            os.write(self._fd, data)
        except OSError as exc:  # a full disk must not stop the feed
            log.error("history file %s not written: %s", self.path, exc)

    def needs_compaction(self) -> bool:
        return self._lines >= 2 * self.keep

    def close(self) -> None:
        if self._fd is not None:
            self.flush()
            os.close(self._fd)
            self._fd = None
