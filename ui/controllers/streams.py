"""Streams per origin, without widgets: the experiment (transport/browser/streams_experiment.py) over HTTP/1.1
and then over HTTP/2 when the lab speaks TLS, each stream a row in the panel and in the Browser tab's timeline."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from transport.browser.streams_experiment import StreamRow, StreamsExperiment, protocol_series
from transport.core.events import Event

from ..tasks import TaskGroup

NO_TLS = ("The lab speaks plain HTTP: browsers use HTTP/2 only over TLS, so this run shows HTTP/1.1 alone (turn on "
          "'TLS and HTTP/2' in the Server tab for both).")


class StreamsController(QObject):
    progress = Signal(str)
    rowsChanged = Signal(list)  # [{"series", "protocol", "stream", "state", "connection", "opened_ms", …}]
    runningChanged = Signal(bool)

    def __init__(self, mark: Callable[[Event], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.lab_url = ""
        self.tls: dict[str, Any] | None = None  # the TLS lab's tls.* (ca, alpn, http1_url)
        self.rows: list[dict[str, Any]] = []
        self._mark = mark  # the Browser tab's timeline
        self._tasks = TaskGroup(self._failed)

    def set_lab(self, url: str, tls: dict[str, Any] | None) -> None:
        self.lab_url, self.tls = url, tls

    def series(self) -> list[tuple[str, str]]:
        """(title, origin) of each series to run: HTTP/1.1 first, then HTTP/2 when the lab offers it."""
        return protocol_series(self.lab_url, self.tls) if self.lab_url else []

    def run(self, n: int, kind: str) -> None:
        runs = self.series()
        if not runs:
            self.progress.emit("The lab is not running yet.")
            return
        self.rows = []
        self.rowsChanged.emit([])
        self.runningChanged.emit(True)

        async def go() -> None:
            summaries = []
            self.progress.emit(f"Starting a headless Chromium for {n} {kind} streams per page…"
                               + ("" if self.tls else " " + NO_TLS))
            async with StreamsExperiment(ca_file=self.tls.get("ca") if self.tls else None) as experiment:
                await experiment.start([origin for _title, origin in runs])
                for title, origin in runs:
                    self.progress.emit(f"{title}: {n} streams from one page on {origin}…")
                    series = await experiment.run_series(origin, n, kind)
                    for row in series.rows:
                        self._row(title, row)
                    summary = series.summary()
                    summaries.append({"series": title, **summary})
                    self._mark(Event("browser", "state", "experiment", data=_sentence(title, summary),
                                     meta={"experiment": "streams", **summary}))
            self.rowsChanged.emit(list(self.rows))
            self.progress.emit("  ".join(_sentence(s["series"], s) for s in summaries)
                               + ("" if self.tls else " " + NO_TLS))
            self.runningChanged.emit(False)

        self._tasks.spawn(go())

    def _row(self, title: str, row: StreamRow) -> None:
        said = row.to_json()
        self.rows.append({"series": title, **said})
        where = f"on connection {row.connection}" if row.connection is not None else "no connection"
        when = f"opened at {row.opened_ms:,.0f} ms" if row.opened_ms is not None else "never opened"
        if row.after_close:
            when += " (after another stream closed)"
        self._mark(Event("browser", "state", "stream", data=f"{title} stream {row.index} ({row.kind}): {row.state}, "
                         f"{when}, {where}" + (f" · {row.protocol}" if row.protocol else ""),
                         meta={"protocol": row.protocol, "connection": row.connection, **said}))

    def _failed(self, sentence: str) -> None:
        self.progress.emit(sentence)
        self.runningChanged.emit(False)

    async def shutdown(self) -> None:
        await self._tasks.cancel_all()


def _sentence(title: str, s: dict[str, Any]) -> str:
    opened = f"{s['open']} of {s['streams']} open at once on {s['connections']} connection" \
             f"{'s' if s['connections'] != 1 else ''}"
    rest = f", {s['pending']} pending" + (" (one opened once another closed)" if s.get("opened_after_a_close") else "")
    timing = f", all open in {s['all_open_ms']:,.0f} ms" if s.get("all_open_ms") is not None else ""
    return f"{title} ({s['protocol']}): {opened}{rest if s['pending'] else ''}{timing}."
