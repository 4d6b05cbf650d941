"""What a failed "nothing lost" says: which seqs are missing, which came twice, in which drop episode, after
which fault, and the rows around the first hole. Pure: the events a client produced and its ledger's
``to_json()`` in, one message out (``None`` when the ledger proves nothing was lost).

The pytest plugin's ``assert_nothing_lost()`` and ``probe --junit-xml`` say it; a developer reads it in a CI
log, so every number in it is one the ledger or a row proves.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Sequence

from transport.core.events import Event

ROWS_AROUND = 20  # rows shown around the first hole
SHOWN_SEQS = 30  # seqs listed by number before "…"


def spans(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted seqs as runs: [3, 4, 5, 9] → [(3, 5), (9, 9)]."""
    out: list[tuple[int, int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


def span_text(runs: Sequence[tuple[int, int]], limit: int = SHOWN_SEQS) -> str:
    parts, shown = [], 0
    for first, last in runs:
        if shown >= limit:
            parts.append("…")
            break
        parts.append(str(first) if first == last else f"{first}–{last}")
        shown += 1
    return ", ".join(parts)


def _at(t_ns: int, started_ns: int) -> str:
    return f"+{(t_ns - started_ns) / 1e9:.3f} s"


def row_text(e: Event, started_ns: int) -> str:
    """One row as a CI log shows it: time from the client's start, direction, kind, seq, the payload's start."""
    seq = f"seq={e.seq}" if e.seq is not None else ""
    verdict = e.meta.get("ledger") if isinstance(e.meta, dict) else None
    text = e.text().replace("\n", "⏎")
    if len(text) > 70:
        text = text[:70] + "…"
    flag = f" [{verdict}]" if verdict else ""
    return f"{_at(e.t, started_ns):>11}  {e.direction:<5} {e.kind:<12} {seq:<12}{text}{flag}".rstrip()


class _Faults:
    """The fault rows (a proxy's, the lab's, the client's own Drop), in time order."""

    def __init__(self, events: Sequence[Event]) -> None:
        self.rows = [e for e in events if e.direction == "state" and e.kind == "fault"]

    def before(self, t_ns: int) -> Event | None:
        last = None
        for e in self.rows:
            if e.t > t_ns:
                break
            last = e
        return last


def _episode_of_seq(seq: int, episodes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The drop episode across which ``seq`` went missing: lost after its last seq, before its first after."""
    for ep in episodes:
        before, after = ep.get("last_before"), ep.get("first_after")
        if (before is None or seq > before) and (after is None or seq < after):
            return ep
    return None


def _episode_at(t_ns: int, episodes: list[dict[str, Any]]) -> dict[str, Any] | None:
    found = None
    for ep in episodes:
        if ep["started_ns"] <= t_ns:
            found = ep
    return found


def loss_report(events: Sequence[Event], ledger: dict[str, Any], *, started_ns: int, what: str,
                evicted: int = 0) -> str | None:
    """``None`` when the ledger proves that nothing was lost or duplicated and every drop recovered; else what
    a developer needs to act on. ``ledger`` is ``Ledger.to_json()`` with each episode's ``started`` (monotonic
    seconds); ``what`` names the client (transport and URL); ``evicted``: oldest rows no longer kept."""
    episodes = [dict(ep, started_ns=int(ep["started"] * 1e9)) for ep in ledger.get("episode_list", [])]
    faults = _Faults(events)
    if not ledger.get("numbered"):
        verdict = ledger.get("verdict", "")
        if ledger.get("rule") is None:
            got = ledger.get("received", 0)
            return (f"{what}: no sequence rule: loss cannot be checked ({got:,} messages received). Give the "
                    "client a seq rule (seq=\"id\" for SSE event ids, a JSON pointer like \"/seq\", or "
                    "\"re:PATTERN\") so each message's number can be checked.")
        if verdict == "nothing received yet":
            return f"{what}: nothing received: loss cannot be checked."
        return f"{what}: {verdict}"
    lost, dup = int(ledger.get("lost", 0)), int(ledger.get("duplicated", 0))
    still_open = [ep for ep in episodes if not ep.get("recovered")]
    if not lost and not dup and not still_open:
        return None
    lines = [f"{what}: {lost} lost, {dup} duplicated of {ledger.get('received', 0):,} messages received, "
             f"across {len(episodes)} drop episode{'s' if len(episodes) != 1 else ''}."]
    lost_seqs: list[int] = list(ledger.get("lost_seqs") or [])
    if lost:
        listed = "" if len(lost_seqs) >= lost else f" (the lowest {len(lost_seqs)} of {lost})"
        lines.append(f"  missing seqs{listed}: {span_text(spans(lost_seqs))}")
        by_episode: dict[int, list[int]] = {}
        live: list[int] = []
        for s in lost_seqs:
            ep = _episode_of_seq(s, episodes)
            if ep is None:
                live.append(s)
            else:
                by_episode.setdefault(ep["index"], []).append(s)
        for index, seqs in by_episode.items():
            lines.append(f"    {span_text(spans(seqs))}: across drop episode {index}")
        if live:
            lines.append(f"    {span_text(spans(live))}: on a live connection (no drop): something between the "
                         "server and the client lost them, and no resume asks for them again")
    dup_at = [i for i, e in enumerate(events)  # the rows the ledger called duplicates, in order
              if e.seq is not None and isinstance(e.meta, dict) and e.meta.get("ledger") == "duplicate"]
    dups = Counter(events[i].seq for i in dup_at)
    if dup:
        if dups:
            first_dup: dict[int | None, Event] = {}
            for i in dup_at:
                first_dup.setdefault(events[i].seq, events[i])
            where: dict[str, list[int]] = {}
            for s in sorted(seq for seq in dups if seq is not None):
                ep = _episode_at(first_dup[s].t, episodes)
                key = f"after drop episode {ep['index']}" if ep is not None else "on the first connection"
                where.setdefault(key, []).append(s)
            twice = ", ".join(f"{span_text(spans(seqs))} ({key})" for key, seqs in where.items())
            more = "" if sum(dups.values()) >= dup else f" (rows of {dup - sum(dups.values())} more are no longer kept)"
            lines.append(f"  arrived more than once: {twice}{more}")
        else:
            lines.append(f"  {dup} arrived more than once (their rows are no longer kept)")
    for ep in episodes:
        fault = faults.before(ep["started_ns"])
        cause = f" (after the fault \"{fault.text()}\" at {_at(fault.t, started_ns)})" if fault is not None else ""
        state = (f"recovered in {ep['recover_ms']:,.0f} ms, first seq after it {ep.get('first_after')}"
                 if ep.get("recovered") else "NOT recovered: no new message came after the reconnect")
        asked = _resume_request(events, ep)
        lines.append(f"  episode {ep['index']}{cause}: the connection was lost at "
                     f"{_at(ep['started_ns'], started_ns)} after seq {ep.get('last_before')}; "
                     + (f"the reconnect asked {asked}; " if asked else "")
                     + f"{state}; replayed {ep.get('replayed', 0)}, lost {ep.get('lost', 0)}, "
                     f"duplicated {ep.get('duplicated', 0)}"
                     + (f"; the server said the session was {ep['session']}" if ep.get("session") else ""))
    if not episodes and faults.rows:
        lines.append("  faults: " + "; ".join(f"\"{f.text()}\" ({_at(f.t, started_ns)})" for f in faults.rows[-5:]))
    lines.append(f"  ledger: {ledger.get('verdict', '')}")
    lines += _rows_around(events, lost_seqs[0] if lost_seqs else None, dup_at[0] if dup_at else None, started_ns,
                          evicted)
    return "\n".join(lines)


def _resume_request(events: Sequence[Event], ep: dict[str, Any]) -> str:
    """What the request that reconnected after ``ep`` asked for (its URL, its Last-Event-ID): the last request
    before the first message after the drop (a WebSocket's: the URL it opened; its resume message, if any)."""
    asked, opened = "", ""
    for e in events:
        if e.t < ep["started_ns"]:
            continue
        if e.direction == "in" and e.seq is not None:
            break
        if e.direction == "out" and e.kind == "request":
            meta = e.meta if isinstance(e.meta, dict) else {}
            last_id = meta.get("last_event_id")
            asked = e.text() + (f" with Last-Event-ID: {last_id}" if last_id else
                                " without Last-Event-ID" if e.transport == "sse" else "")
        elif e.transport == "websocket" and e.direction == "state" and e.kind == "open":
            opened = f"GET {e.text()}"
        elif e.transport == "websocket" and e.direction == "out" and opened \
                and e.kind not in ("ping", "pong", "close"):
            opened += f", then sent {e.text()[:80]}"
    return asked or opened


def _rows_around(events: Sequence[Event], first_lost: int | None, first_dup: int | None, started_ns: int,
                 evicted: int) -> list[str]:
    """The last ROWS_AROUND rows up to just past the first hole (else the first duplicate: its row's index),
    the hole marked."""
    hole_at = None
    if first_lost is not None:
        hole_at = next((i for i, e in enumerate(events)
                        if e.direction == "in" and e.seq is not None and e.seq > first_lost), None)
    mark = None if first_lost is not None else first_dup
    at = hole_at if hole_at is not None else mark
    if at is None:
        if not events:
            return ["  (no rows kept)"]
        at = len(events)
    lo = max(0, at - (ROWS_AROUND - 5))
    hi = min(len(events), lo + ROWS_AROUND)
    title = "the first hole" if hole_at is not None else "the first duplicate" if mark is not None else "the end"
    out = [f"  the last {hi - lo} rows around {title}"
           + (f" ({evicted:,} older rows no longer kept)" if evicted else "") + ":"]
    for i in range(lo, hi):
        if i == hole_at and first_lost is not None:
            e = events[i]
            gap_end = (e.seq or first_lost) - 1
            missing = str(first_lost) if gap_end <= first_lost else f"{first_lost}–{gap_end}"
            out.append(f"    {'':>11}  ----- seq {missing} missing here -----")
        out.append("    " + row_text(events[i], started_ns))
    return out
