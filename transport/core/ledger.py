"""The loss ledger: proof of what a client received across drops.

Pure: fed with sequence numbers and connection events, no I/O. A *drop
episode* starts when a connection that delivered messages is lost and ends
with the first live message after the reconnect. For each episode the ledger
reports the last seq before the drop, the first seq after it, how many
messages the server replayed, how many are lost (a hole that was never
filled, including holes the server declared with a gap notice), duplicated
and reordered.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Episode:
    index: int
    last_before: int | None
    first_after: int | None = None
    replayed: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    gap_declared: int = 0
    seq_reset: bool = False  # the server came back without its history and numbers from 1 again
    recovered: bool = False
    started: float = field(default_factory=time.monotonic)  # when the connection was lost
    recover_ms: float | None = None  # lost → first live message after it
    # a server with connection-state recovery (Socket.IO's pid / offset) said whether it resumed the
    # session: "recovered" (it sent what was missed) or "missed" (it could not; how much is unknown)
    session: str | None = None

    def mark_recovered(self) -> None:
        self.recovered = True
        self.recover_ms = round((time.monotonic() - self.started) * 1000, 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


MAX_TRACKED_HOLE = 100_000  # a hole wider than this is kept as a span (two numbers), not one entry per seq
MAX_SPANS = 64  # wide holes kept open at once; beyond, the oldest is closed for good (counted lost)


@dataclass(slots=True)
class Ledger:
    received: int = 0
    duplicated: int = 0
    reordered: int = 0
    replayed: int = 0
    high: int | None = None  # highest seq seen
    _missing: set[int] = field(default_factory=set)
    # holes that opened on a live connection (no drop episode open): something between the server and the
    # client lost them (a proxy, a bug), and no resume will ask for them (it asks after the highest seq)
    _live: set[int] = field(default_factory=set)
    _declared: set[int] = field(default_factory=set)  # holes the server admitted (at most MAX_TRACKED_HOLE)
    _declared_spans: list[tuple[int, int]] = field(default_factory=list)  # wider admissions, [first, last]
    # holes too wide to list seq by seq ([first, last], inclusive): a server's number may jump by billions
    # (any server's, numbered by a rule), and a set of every missing seq would take the machine's memory
    _spans: list[list[int]] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    _replaying: bool = False
    resets: int = 0  # times the server's numbering started again (history lost)
    _lost_earlier: int = 0  # holes of earlier numberings, closed for good
    _declared_earlier: int = 0
    # no drop episode open and no replay running: the next seq after ``high`` is plainly new, and
    # record() counts it without the episode bookkeeping (the feed's hot path)
    steady: bool = True
    unnumbered: int = 0  # messages that carried no sequence id: nothing can be said of their loss
    sessions_recovered: int = 0  # reconnects the server said it recovered (it replays what was missed)
    sessions_missed: int = 0  # reconnects it could not recover: what it sent meanwhile is missed
    # what numbers the messages: "lab" (the lab's envelope), a sequence rule's spec ("id", "/seq",
    # "re:…"), or None: no rule, so loss cannot be checked (transport/core/sequence.py)
    rule: str | None = None
    # the server says itself whether a reconnect recovered the session (Socket.IO's connection-state
    # recovery): its word, not the first message (its missed events come before it), ends an episode
    session_word: bool = False

    # -- connection lifecycle ------------------------------------------------
    def connection_lost(self) -> None:
        """The connection dropped: open an episode unless one is still open."""
        self.steady = False
        if self.episodes and not self.episodes[-1].recovered:
            return
        self.episodes.append(Episode(index=len(self.episodes) + 1, last_before=self.high))
        self._replaying = False

    def replay_started(self) -> None:
        self._replaying = True
        self.steady = False

    def replay_finished(self) -> None:
        """The server said the replay is over and the stream is live."""
        self._replaying = False
        ep = self._open_episode()
        if ep is not None:
            ep.mark_recovered()
        last = self._current_episode()
        self.steady = last is None or last.first_after is not None  # else record() fills first_after yet

    def session_resumed(self, recovered: bool) -> None:
        """After a drop, the server said whether it recovered the session (connection-state recovery:
        it then sends what it emitted meanwhile). The proof for servers whose messages carry no seq."""
        ep = self._open_episode()
        if recovered:
            self.sessions_recovered += 1
        else:
            self.sessions_missed += 1
        if ep is not None:
            ep.session = "recovered" if recovered else "missed"
            if self.high is None:  # no seq will close it: the server's word does
                ep.mark_recovered()
                self.steady = True

    def gap(self, after: int, first_available: int, reset: bool = False) -> None:
        """The server declared seqs ``after+1 .. first_available-1`` unrecoverable; with ``reset``
        it never reached ``after``: restarted without history, it numbers from 1 again, so
        what this ledger knows of the old numbering is closed and a new one begins."""
        if reset:
            self._lost_earlier += len(self._missing) + self._span_total()
            self._declared_earlier += self.gap_declared - self._declared_earlier
            self._missing.clear()
            self._live.clear()
            self._spans.clear()
            self._declared.clear()
            self._declared_spans.clear()
            self.high = None
            self.resets += 1
            ep = self._current_episode()
            if ep is not None:
                ep.seq_reset = True
            return
        holes = range(after + 1, first_available)
        if not holes:
            return
        if len(holes) + len(self._declared) <= MAX_TRACKED_HOLE:
            self._declared.update(holes)
        else:  # a server may declare billions: kept as a span, at most MAX_SPANS of them (the oldest go)
            self._declared_spans.append((holes[0], holes[-1]))
            del self._declared_spans[:-MAX_SPANS]
        ep = self._current_episode()
        if ep is not None:
            ep.gap_declared += len(holes)

    # -- messages ------------------------------------------------------------
    def record_unnumbered(self) -> None:
        """A message that carried no number. With no sequence rule at all, the first one after a reconnect
        ends the drop episode (the connection delivers again; what it missed cannot be known)."""
        self.unnumbered += 1
        if self.rule is None and not self.session_word and self.episodes and not self._replaying:
            ep = self.episodes[-1]
            if not ep.recovered:
                ep.mark_recovered()
                self.steady = True

    def record(self, seq: int) -> str:
        """Count one delivered message; returns ``new``, ``duplicate`` or ``reordered``."""
        high = self.high
        if self.steady and high is not None and seq == high + 1:  # the plainly next one
            self.high = seq
            self.received += 1
            return "new"
        self.received += 1
        ep = self._current_episode()
        if ep is not None and ep.first_after is None:  # the first seq after the drop, even when the
            ep.first_after = seq  # server's live marker closed the episode before any message came
            if ep.recovered and not self._replaying:
                self.steady = True
        verdict = "new"
        if self.high is None:
            self.high = seq
        elif seq > self.high:
            width = seq - self.high - 1
            if width:
                if width <= MAX_TRACKED_HOLE:
                    self._missing.update(range(self.high + 1, seq))
                    if ep is None or ep.recovered:
                        self._live.update(range(self.high + 1, seq))
                else:
                    self._add_span(self.high + 1, seq - 1)
                if ep is not None:
                    ep.lost += width
            self.high = seq
        elif seq in self._missing or (self._spans and self._fill_span(seq)):
            self._missing.discard(seq)
            self._live.discard(seq)
            self.reordered += 1
            verdict = "reordered"
            if ep is not None:
                ep.reordered += 1
                ep.lost = max(0, ep.lost - 1)
        else:
            self.duplicated += 1
            verdict = "duplicate"
            if ep is not None:
                ep.duplicated += 1
        if self._replaying and verdict != "duplicate":
            self.replayed += 1
            if ep is not None:
                ep.replayed += 1
        if ep is not None and not self._replaying and not ep.recovered and verdict == "new":
            # no replay marker from the server (a remote endpoint): the first
            # new message after the reconnect ends the episode
            ep.mark_recovered()
            self.steady = True
        return verdict

    def _add_span(self, first: int, last: int) -> None:
        self._spans.append([first, last])
        if len(self._spans) > MAX_SPANS:  # the oldest wide hole is closed for good: what it held is lost
            old = self._spans.pop(0)
            self._lost_earlier += old[1] - old[0] + 1

    def _fill_span(self, seq: int) -> bool:
        """``seq`` came late into a wide hole: the hole splits around it. False when no span holds it."""
        for i, (first, last) in enumerate(self._spans):
            if first <= seq <= last:
                parts = [p for p in ([first, seq - 1], [seq + 1, last]) if p[0] <= p[1]]
                self._spans[i:i + 1] = parts
                return True
        return False

    def _span_total(self) -> int:
        return sum(last - first + 1 for first, last in self._spans)

    # -- queries ---------------------------------------------------------------
    @property
    def lost(self) -> int:
        return len(self._missing) + self._lost_earlier + (self._span_total() if self._spans else 0)

    @property
    def lost_live(self) -> int:
        """Lost seqs whose hole opened on a live connection (not across a drop)."""
        return len(self._live & self._missing) if self._live else 0

    def lost_seqs(self, limit: int = 100) -> list[int]:
        """The lowest ``limit`` lost seqs (wide holes as their seqs too, up to the limit)."""
        seqs = heapq.nsmallest(limit, self._missing)
        for first, last in self._spans:
            seqs.extend(range(first, min(last, first + limit) + 1))
        return sorted(seqs)[:limit]

    @property
    def gap_declared(self) -> int:
        """Lost seqs the server had declared unrecoverable (its gap notices), of all the holes."""
        count = (len(self._declared & self._missing) if self._declared else 0) + self._declared_earlier
        for lo, hi in self._declared_spans:  # wide declarations: their overlap with what is missing
            count += sum(1 for seq in self._missing if lo <= seq <= hi and seq not in self._declared)
            count += sum(max(0, min(hi, last) - max(lo, first) + 1) for first, last in self._spans)
        return count

    def summary(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "replayed": self.replayed,
            "lost": self.lost,
            "gap_declared": self.gap_declared,
            "duplicated": self.duplicated,
            "reordered": self.reordered,
            "episodes": len(self.episodes),
            "high": self.high,
            "seq_resets": self.resets,
            "unnumbered": self.unnumbered,
            "sessions_recovered": self.sessions_recovered,
            "sessions_missed": self.sessions_missed,
        }

    @property
    def recovered(self) -> int:
        """Drop episodes that ended: the first new message after the reconnect came (or the lab's live)."""
        return sum(1 for ep in self.episodes if ep.recovered)

    def counts(self) -> dict[str, Any]:
        """The ledger in one flat record: what ``probe`` prints last (``{"ledger": …}``) and the ledger
        panel's export; ``received`` counts every message (``numbered`` those a seq numbered, ``unnumbered``
        the others), ``episodes`` and ``recovered`` count drop episodes."""
        return {"received": self.received + self.unnumbered, "numbered": self.received, "lost": self.lost,
                "duplicated": self.duplicated,
                "replayed": self.replayed, "reordered": self.reordered, "episodes": len(self.episodes),
                "recovered": self.recovered, "gap_declared": self.gap_declared, "unnumbered": self.unnumbered,
                "seq_resets": self.resets, "sessions_recovered": self.sessions_recovered,
                "sessions_missed": self.sessions_missed, "rule": self.rule,
                "lost_live": self.lost_live, "lost_seqs": self.lost_seqs(100),
                "ok": self.checkable and self.lost == 0 and self.duplicated == 0, "verdict": self.verdict()}

    def to_json(self) -> dict[str, Any]:
        """The whole ledger, for export: :meth:`counts` (what ``probe`` prints last), the highest seq, and
        every episode in ``episode_list``."""
        return {**self.counts(), "high": self.high, "episode_list": [ep.to_dict() for ep in self.episodes]}

    @property
    def checkable(self) -> bool:
        """Whether loss can be known at all: some message carried a sequence id."""
        return self.received > 0

    def verdict(self) -> str:
        """The one sentence the UI shows."""
        if not self.checkable:
            if self.unnumbered:
                n = f"{self.unnumbered:,} message{'s' if self.unnumbered != 1 else ''}"
                if self.rule is None and not (self.sessions_recovered or self.sessions_missed):
                    return f"no sequence rule: loss cannot be checked ({n} received)"
                said = "no sequence ids" if self.rule in (None, "lab") else f"the sequence rule {self.rule} found no number"
                return f"{said}: loss cannot be checked ({n} without one)" + self._sessions()
            return "nothing received yet"
        s = f"{self.lost} lost, {self.duplicated} duplicated"
        if self.unnumbered:
            s += f"; {self.unnumbered:,} without sequence ids, not checked"
        if self.gap_declared:
            s += f" ({self.gap_declared} in server-declared gaps)"
        live = self.lost_live
        if live:
            s += (f"; {live} went missing on a live connection (no drop): no resume asks for them again, "
                  "they stay lost")
        if self.lost:
            seqs = self.lost_seqs(9)
            s += "; lost seq " + ", ".join(map(str, seqs[:8])) + (", …" if self.lost > 8 else "")
        if self.resets:
            s += (f"; the server restarted without its history {self.resets} time(s) and numbered from 1 "
                  "again (what it had not delivered then is unknowable)")
        return s + self._sessions()

    def _sessions(self) -> str:
        """What a server with connection-state recovery said of each reconnect."""
        done = self.sessions_recovered + self.sessions_missed
        if not done:
            return ""
        s = f"; the server recovered the session after {self.sessions_recovered} of {done} reconnect" \
            f"{'s' if done != 1 else ''}"
        if self.sessions_missed:
            s += (f", not after {self.sessions_missed}: what it sent while this client was away is missed "
                  "(how much is unknown)")
        return s

    def _current_episode(self) -> Episode | None:
        return self.episodes[-1] if self.episodes else None

    def _open_episode(self) -> Episode | None:
        ep = self._current_episode()
        return ep if ep is not None and not ep.recovered else None


def gap_sentence(after: int, first_available: int, missing: object, reset: bool = False) -> str:
    """What a client says when the server declares a gap."""
    if reset:
        return (f"The server never reached seq {after}: it was restarted without its history and numbers "
                f"from 1 again; what it published after {after} and had not delivered is lost unseen.")
    return f"Server history no longer holds seq {after + 1}–{first_available - 1}: {missing} messages lost."
