"""The feed receiver: what every client that reads the lab's feed does with what it read. Sans-I/O.

Text (or text already parsed as JSON) goes in; :class:`Event` records go
out to the sink. The receiver owns, once for every transport:

- the envelope ``{"seq", "ts", "topic", "body"}`` and the lab's control
  items: ``gap`` (history no longer holds the resume point; ``reset``: the
  lab restarted without history and numbers from 1 again) and ``live`` (the
  replay is over);
- the :class:`~transport.core.ledger.Ledger` (new, duplicate, reordered; drop
  episodes and what a resume replayed);
- the resume point (``after``), the lab's numbering epoch (the
  ``Duplex-Epoch`` header, echoed when resuming);
- one-way latency against the lab's clock (same machine), and the counts a
  wire panel shows (messages, payload, staleness).

All of that is the lab's protocol, and it is *negotiated, never assumed*: it applies only while the
server marks itself as the lab (its last successful response or handshake carried ``Duplex-Epoch``;
an error answer on the way, a balancer's 502 or a fault's 403, changes nothing). With any other server
every message is a message, whatever its JSON, numbered by the connection's sequence rule
(:mod:`transport.core.sequence`) if it has one, and a resume point moves only by that rule.

A client tells it when a connection opened (resuming or not) and was lost;
:attr:`delivered` counts what was new, which is what the reconnect
controller needs to know.
"""

from __future__ import annotations

import json

import re
from typing import Any, Callable, Sequence

from transport.core.envelope import GAP, LIVE, envelope_fields
from transport.core.events import Event, EventSink, Outbox, event_from
from transport.core.ledger import Ledger, gap_sentence
from transport.core.sequence import MAX_SEQ, ResumeRule, SeqRule
from transport.core.wire import EPOCH_HEADER
from transport.core.wirestats import WireStats

MAX_LATENCY_MS = 3_600_000  # a latency beyond an hour is a clock mismatch, not a latency
# The lab's envelope as it writes it (compact, keys in this order): the fields a row needs, with one match.
# Anything else (a control item, other spacing or key order, escapes in the topic) takes the full parser.
_LAB_ENVELOPE = re.compile(r'\{"seq":(\d{1,15}),"ts":(\d{1,19}),"topic":"([^"\\]*)"[,}]')


_UNPARSED: Any = object()  # no parsed value was handed over: a pointer parses the text


def _never(_text: object) -> None:
    """The lab envelope's match, for a server that is not the lab."""
    return None


class FeedReceiver:
    def __init__(self, transport: str, sink: EventSink, *, one_way: bool | None, after: int | None = None,
                 stats: WireStats | None = None, same_machine: bool = True, seq_rule: SeqRule | None = None,
                 resume_rule: ResumeRule | None = None) -> None:
        self.transport = transport
        self.seq_rule = seq_rule if seq_rule is not None else SeqRule()
        self.resume_rule = resume_rule if resume_rule is not None else ResumeRule()
        self.ledger = Ledger()
        self.stats = stats if stats is not None else WireStats()
        self.after = after  # the resume point: the highest seq known delivered (or the user's start)
        self.epoch: str | None = None  # the lab's numbering, echoed when resuming; set: the server is the lab
        self.ledger.rule = self._rule_name()
        self._one_way = one_way  # True / False: forced; None: decided by what the server answers
        self._same_machine = same_machine
        self.delivered = 0  # messages that were new (not duplicates): what the reconnect rule reads
        self.conn = 0  # the client's connection id, stamped on every event
        self._out = sink if isinstance(sink, Outbox) else Outbox(sink)  # one list per read, in order
        self._resuming = False

    @property
    def one_way(self) -> bool:
        """Latency is one way, against the lab's clock: when forced, else when the server is a Duplex
        lab (it named its numbering: the ``Duplex-Epoch`` header) on this machine (one clock). Any
        other server's latency is the ping's round trip, wherever it runs."""
        if self._one_way is not None:
            return self._one_way
        return self._same_machine and self.epoch is not None

    @property
    def lab(self) -> bool:
        """The server marked itself as the lab: its envelope, control items, ``?after=`` and epoch apply."""
        return self.epoch is not None

    def _rule_name(self) -> str | None:
        """What numbers the messages, for the ledger's verdict: ``lab``, the user's rule, or None."""
        if self.epoch is not None:
            return "lab"
        rule = self.seq_rule
        if rule.kind == "auto":
            return "id" if self.transport == "sse" else None
        return None if rule.kind == "none" else rule.spec

    # -- connection lifecycle --------------------------------------------------------
    def note_epoch(self, headers: Any, ok: bool = True) -> None:
        """Read the lab's mark (its numbering) from a response's or handshake's headers (any mapping with
        ``get``). A successful answer without it un-marks the server; an error answer (``ok`` False: a
        balancer's 502, a fault's 403) changes nothing, so resuming goes on through the faults."""
        value = headers.get(EPOCH_HEADER) if headers is not None else None
        if value:
            self.epoch = str(value)[:64]
        elif ok:
            self.epoch = None
        self.ledger.rule = self._rule_name()

    def epoch_headers(self) -> list[tuple[str, str]]:
        """The header a resuming request carries (a resume point only means something in its numbering)."""
        return [(EPOCH_HEADER, self.epoch)] if self.epoch else []

    def resume_started(self) -> None:
        """A connection opened that resumes after a drop: with the lab, what comes before ``live`` is a
        replay. Another server marks no end of its replay: the first new message closes the episode."""
        if self.epoch is None:
            return
        ep = self.ledger.episodes[-1] if self.ledger.episodes else None
        if ep is not None and not ep.recovered:
            self._resuming = True
            self.ledger.replay_started()

    def resume_finished(self) -> None:
        if self._resuming:
            self._resuming = False
            self.ledger.replay_finished()

    def connection_lost(self) -> None:
        self._resuming = False
        self.ledger.connection_lost()

    # -- items -----------------------------------------------------------------------------
    def text(self, text: str, t: int, wire: int | None = None, meta: dict[str, Any] | None = None,
             control: str | None = None, rtt_ms: float | None = None, size: int | None = None,
             event_id: str | None = None, value: Any = _UNPARSED) -> Event | None:
        """One text message (a WebSocket frame, an SSE event's data). With the lab, ``control`` names the
        control item it is by its transport's own marking (an SSE event type); otherwise a JSON object's
        ``"control"`` key does. ``rtt_ms``: the latency to show when one-way latency is unknown (a
        ping's round trip); ``size``: its UTF-8 bytes, if the caller counted them already. With another
        server: ``event_id``, an SSE event's own id; ``value``, what a sequence rule's pointer reads if not
        the text's JSON (a Socket.IO event's first argument). Returns the message event, None for a
        control item."""
        if self.epoch is None:
            return self._foreign(text, t, wire, meta, rtt_ms, size, event_id, value)
        seq, ts, topic, obj = envelope_fields(text)
        if obj is not None:
            kind = control if control is not None else obj.get("control")
            if kind is not None and self._control(kind, obj, text, t, wire, meta, strict=control is not None):
                return None
        elif seq is None and text[:1] in ("{", "["):
            self._not_json(text, t, wire)
        return self._message(text, t, wire, seq, ts, topic, meta, rtt_ms, size)

    def _not_json(self, text: str, t: int, wire: int | None) -> None:
        """The lab sends JSON: a message that looks like it and is not was damaged on the way."""
        try:
            json.loads(text)
        except ValueError as exc:
            self._out(Event(self.transport, "state", "error", t, self.conn, None, len(text), wire, None,
                            f"A message is not JSON ({exc}): {text[:60]!r}… counted without a seq.",
                            {"error": "not JSON", "fatal": False}))

    def texts(self, messages: Sequence[tuple[str | bytes, int, int | None]], t: int, rtt_ms: float | None = None,
              metas: Sequence[dict[str, Any]] | None = None, other: Callable[[int], object] | None = None,
              event_ids: Sequence[str | None] | None = None) -> int:
        """The messages of one read, in order, all arrived at ``t``: ``(payload, bytes, wire bytes or
        None)`` each (WebSocket frames, SSE events' data, NDJSON lines, a poll answer's items), handed
        to the sink as one list. The lab's own envelopes take one loop without helper calls; any other
        message ``i`` goes to ``other(i)`` (the transport's own handling) or, without it, :meth:`text`
        / :meth:`binary`. ``metas``: each message's meta to start from (an SSE event's type and id);
        ``event_ids``: each SSE event's own id (what a sequence rule may number it by).
        Returns how many were lab envelopes (none when the server is not the lab)."""
        match = _LAB_ENVELOPE.match if self.epoch is not None else _never
        record = self.ledger.record
        stats = self.stats
        staleness = stats.staleness_ms
        one_way = self.one_way
        transport, conn = self.transport, self.conn
        out = self._out
        payload_bytes = found = delivered = 0
        after = self.after
        with out.batch() as add:
            for i, (payload, size, wire) in enumerate(messages):
                m = match(payload) if type(payload) is str else None
                if m is None or payload[-1] != "}":  # not the lab's envelope: the general path
                    self.after = after
                    if other is not None:
                        other(i)
                    elif isinstance(payload, str):
                        self.text(payload, t, wire, metas[i] if metas is not None else None, rtt_ms=rtt_ms,
                                  size=size, event_id=event_ids[i] if event_ids is not None else None)
                    else:
                        self.binary(payload, t, wire, rtt_ms)
                    after = self.after
                    continue
                seq_text, ts_text, topic = m.groups()
                seq = int(seq_text)
                verdict = record(seq)
                if verdict != "duplicate":
                    delivered += 1
                meta: dict[str, Any]
                if metas is not None:  # the keys in the order the general path writes them
                    meta = metas[i]
                    if verdict != "new":
                        meta["ledger"] = verdict
                    meta["topic"] = topic
                else:
                    meta = {"topic": topic} if verdict == "new" else {"ledger": verdict, "topic": topic}
                if after is None or seq > after:
                    after = seq
                latency = None
                if one_way:
                    lat = (t - int(ts_text)) / 1e6
                    if 0 <= lat < MAX_LATENCY_MS:
                        latency = lat
                        staleness.total += lat
                        staleness.count += 1
                if latency is None and rtt_ms is not None:
                    latency = rtt_ms
                    meta["latency"] = "rtt"
                payload_bytes += size
                found += 1
                add(event_from((transport, "in", "message", t, conn, seq, size, wire, latency, payload, meta)))
            self.after = after
            self.delivered += delivered
            stats.messages += found
            stats.payload += payload_bytes
        return found

    def binary(self, data: bytes, t: int, wire: int | None = None, rtt_ms: float | None = None) -> Event:
        """One binary message: no envelope; a regular expression may still number it as text."""
        seq = None if self.epoch is not None else self.seq_rule.number(data)
        return self._message(data, t, wire, seq, None, None, None, rtt_ms, len(data))

    def value(self, text: str, value: Any, t: int, wire: int | None = None) -> Event | None:
        """One item already parsed as JSON (a poll answer's element, an NDJSON line)."""
        if self.epoch is None:
            return self._foreign(text, t, wire, None, None, None, None, value)
        if isinstance(value, dict):
            kind = value.get("control")
            if kind is not None and self._control(kind, value, text, t, wire, None, strict=False):
                return None
            seq, ts, topic = value.get("seq"), value.get("ts"), value.get("topic")
            return self._message(text, t, wire, seq if type(seq) is int else None, ts if type(ts) is int else None,
                                 topic if isinstance(topic, str) else None, None)
        return self._message(text, t, wire, None, None, None, None)

    def _message(self, text: str | bytes, t: int, wire: int | None, seq: int | None, ts: int | None,
                 topic: str | None, meta: dict[str, Any] | None, rtt_ms: float | None = None,
                 size: int | None = None) -> Event:
        # the per-message hot path: no helper calls beyond the ledger's
        if size is None:
            size = len(text) if isinstance(text, bytes) or text.isascii() else len(text.encode())
        meta = {} if meta is None else meta
        latency = None
        if seq is not None:
            if not 0 <= seq <= MAX_SEQ:  # no ledger or row can mean it: the message is refused, said once
                return self._refused(text, t, wire, size, seq)
            verdict = self.ledger.record(seq)
            if verdict != "duplicate":  # a late one that fills a hole is news too
                self.delivered += 1
            if verdict != "new":
                meta["ledger"] = verdict
            after = self.after
            if after is None or seq > after:
                self.after = seq
            if topic is not None:
                meta["topic"] = topic
            if self.one_way and ts is not None:
                lat = (t - ts) / 1e6
                if 0 <= lat < MAX_LATENCY_MS:
                    latency = lat
                    self.stats.staleness_ms.add(lat)
        else:
            self.delivered += 1  # no sequence ids: each message is news (loss cannot be checked)
            self.ledger.record_unnumbered()
        if latency is None and rtt_ms is not None:
            latency = rtt_ms
            meta["latency"] = "rtt"
        stats = self.stats
        stats.messages += 1
        stats.payload += size
        event = event_from((self.transport, "in", "message", t, self.conn, seq, size, wire, latency, text, meta))
        self._out(event)
        return event

    def _refused(self, text: str | bytes, t: int, wire: int | None, size: int, seq: int) -> Event:
        shown = str(seq) if len(str(seq)) <= 24 else f"{str(seq)[:10]}…({len(str(seq))} digits)"
        event = Event(self.transport, "state", "error", t, self.conn, None, size, wire, None,
                      f"A message numbered {shown} was refused: a seq is a whole number from 0 to 2**53-1.",
                      {"refused": text[:200] if isinstance(text, str) else text[:200].hex()})
        self._out(event)
        return event

    def _foreign(self, text: str, t: int, wire: int | None, meta: dict[str, Any] | None, rtt_ms: float | None,
                 size: int | None, event_id: str | None, value: Any) -> Event:
        """A message of a server that is not the lab: whatever its JSON, a message, numbered by the rule."""
        rule = self.seq_rule
        if rule.kind == "none" or (rule.kind == "auto" and event_id is None):
            seq = None
        else:
            seq = rule.number(text, value, event_id, parsed=value is not _UNPARSED)
        return self._message(text, t, wire, seq, None, None, meta, rtt_ms, size)

    def _control(self, kind: object, obj: dict[str, Any], text: str, t: int, wire: int | None,
                 meta: dict[str, Any] | None, strict: bool) -> bool:
        """The lab's gap and live items; False when ``obj`` is not one (strict: a remote's own event
        that happens to be named so is a message)."""
        size = len(text) if text.isascii() else len(text.encode())
        extra = meta or {}
        if kind == GAP:
            after, first = obj.get("after"), obj.get("first_available")
            if type(after) is not int or type(first) is not int or not 0 <= after <= MAX_SEQ \
                    or not 0 <= first <= MAX_SEQ:
                if strict:
                    return False
                self._row("state", GAP, t, size, wire, text, {**extra, "after": after, "first_available": first})
                return True
            reset = obj.get("reset") is True
            missing = obj.get("missing", "?")
            self.ledger.gap(after, first, reset)
            if reset:  # the server numbers from 1 again: resume in its numbering
                self.after = first - 1
            self._row("state", GAP, t, size, wire, text, {
                **extra, "after": after, "first_available": first, "missing": missing, "reset": reset,
                "sentence": gap_sentence(after, first, missing, reset)})
            return True
        if kind == LIVE:
            seq = obj.get("seq")
            if strict and (set(obj) != {"seq"} or type(seq) is not int):
                return False
            if type(seq) is int and 0 <= seq <= MAX_SEQ and (self.after is None or seq > self.after):
                self.after = seq
            self.resume_finished()
            self._row("state", LIVE, t, size, wire, text, {**extra, "seq": seq})
            return True
        if strict:
            return False
        self._row("in", "control", t, size, wire, text, dict(extra))
        return True

    def _row(self, direction: str, kind: str, t: int, size: int, wire: int | None, data: str,
             meta: dict[str, Any]) -> None:
        self._out(Event(self.transport, direction, kind, t, self.conn, None, size, wire, None, data, meta))
