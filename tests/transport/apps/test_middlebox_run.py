"""Compare → Middleboxes below the UI: every transport through each middlebox preset on one lab (here in
this process), with the remedy's pass beside the failure's."""

from __future__ import annotations

import pytest

from tests.helpers import lab_starter
from transport.apps.middlebox_run import MiddleboxRun, table

pytestmark = pytest.mark.xdist_group("middleboxes")


async def test_every_transport_through_every_middlebox():
    seen: list[str] = []
    run = MiddleboxRun(lab_starter(), rate=50, seconds=2.0, on_pass=lambda p, i, n: seen.append(p.title))
    rows = await run.run()
    by = {(r.pass_title, r.transport): r for r in rows}
    print(table(rows))
    assert len(seen) == 7 and len(rows) == 7 * 7

    def row(title_part: str, transport: str):
        return next(r for (title, t), r in by.items() if title_part in title and t == transport)

    # behind the firewall WebSocket fails with the proxy's reason; SSE and the polls work; Socket.IO falls back
    ws = row("Corporate firewall", "websocket")
    assert ws.messages == 0 and "blocks WebSocket upgrades" in ws.said and "use SSE" in ws.advice
    for t in ("sse", "short_poll", "long_poll", "stream", "socketio", "socketio_polling"):
        assert row("Corporate firewall", t).messages > 0, t
    assert row("Upgrade stripped", "websocket").messages == 0
    assert row("Upgrade stripped", "socketio").messages > 0
    # behind the buffering proxy the streams come late until the lab says X-Accel-Buffering: no; WebSocket never
    for t in ("sse", "stream"):
        late, fine = row("without X-Accel", t), row("with X-Accel", t)
        assert late.p50_ms is not None and fine.p50_ms is not None and late.p50_ms > 4 * max(fine.p50_ms, 20), t
        assert "X-Accel-Buffering" in late.advice
    assert row("without X-Accel", "websocket").p50_ms < 100
    # behind the idle timeout silent connections are cut; heartbeats keep them
    for t in ("websocket", "sse", "stream"):
        assert row("no heartbeats", t).reconnects >= 1, t
        assert row("heartbeats every", t).reconnects == 0, t
    # the flaky API: every 5th request over all the clients is answered 503 (which client's request that is, is
    # the schedule's luck); those hit retry, every transport delivers, nothing is lost
    flaky = [r for r in rows if "Flaky" in r.pass_title]
    hit = [r for r in flaky if r.errors]
    assert hit and all("503" in r.said and "retry" in r.advice for r in hit), flaky
    assert all(r.messages > 0 and r.lost in (0, None) for r in flaky), flaky
