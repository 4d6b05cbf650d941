"""Compare → HTTP/1.1 vs HTTP/2 (browser): the same page of N EventSources on the TLS lab over each protocol.

For each protocol a headless Chromium opens the lab's streams page (transport/browser/streams_experiment.py)
through a TCP byte counter in front of the TLS front (byte_counter.py). A row says how many streams opened at
once, on how many connections, how long until all were open, and what the wire carried: until the streams
settled (TLS handshakes, requests and response heads: HPACK's compression shows here) and then per message over
a hold of a few seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from transport.apps.byte_counter import ByteCounter
from transport.browser.streams_experiment import SETTLE_S, StreamsExperiment, protocol_series

HOLD_S = 3.0


@dataclass
class ProtocolRow:
    title: str  # "HTTP/1.1" or "HTTP/2"
    protocol: str  # what Chromium reported
    streams: int
    open: int
    pending: int
    connections: int
    all_open_ms: float | None
    setup_bytes: int  # on the wire until the last stream that could open did: handshakes, page, requests, heads
    setup_per_stream: float | None  # …per stream that opened
    held_messages: int  # messages the page received during the hold
    held_bytes: int  # on the wire during the hold
    bytes_per_message: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def compare_protocols(lab_url: str, tls: dict[str, Any], n: int = 10, hold_s: float = HOLD_S,
                            on_row: Callable[[ProtocolRow], None] | None = None,
                            settle_s: float = SETTLE_S) -> list[ProtocolRow]:
    """One row per protocol: N EventSources from one page, through a byte counter in front of the TLS front."""
    rows: list[ProtocolRow] = []
    runs = protocol_series(lab_url, tls)
    async with StreamsExperiment(ca_file=tls.get("ca")) as experiment:
        await experiment.start([origin for _t, origin in runs])
        for title, origin in runs:
            parts = urlsplit(origin)
            async with ByteCounter(parts.hostname or "127.0.0.1", parts.port or 443) as counter:
                marks: list[int] = []
                opened_at: list[int] = []  # the wire's count as each stream opened (its response headers read)
                series = await experiment.run_series(
                    f"https://127.0.0.1:{counter.port}", n, "sse", hold_s=hold_s, settle_s=settle_s,
                    on_row=lambda row: None if row.after_close else opened_at.append(counter.total),
                    on_hold=lambda _starts: marks.append(counter.total))
            # until the last stream that could open did: the handshakes, the page, the requests and response heads
            # (and the few messages of the streams already open by then), not the settling wait's messages
            setup = max(opened_at) if opened_at else (marks[0] if marks else counter.total)
            held = marks[1] - marks[0] if len(marks) == 2 else 0
            said = series.summary()  # the experiment's own figures, rounded as the probe prints them
            opened = said["open"]
            row = ProtocolRow(title, said["protocol"], n, opened, said["pending"], said["connections"],
                              said["all_open_ms"], setup, round(setup / opened, 1) if opened else None,
                              series.held_messages, held,
                              round(held / series.held_messages, 1) if series.held_messages else None)
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows
