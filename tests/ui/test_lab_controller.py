"""The lab controller without a window: it starts the lab process, sets its feed, kills and brings it back,
marks every timeline it was given, and computes the rates the Server tab shows."""

from __future__ import annotations

import pytest

from tests.helpers import wait_until
from ui.controllers.lab import LabController, ServerRates


@pytest.fixture
async def lab(qtbot):
    controller = LabController(rate=0)
    said: list[str] = []
    marks: list[str] = []
    controller.said.connect(said.append)
    controller.add_timeline(marks.append)
    controller.start()
    try:
        await wait_until(lambda: controller.url != "", 15, "the lab listening", state=lambda: said)
        yield controller, said, marks
    finally:
        await controller.shutdown()
        assert not controller.running


async def test_the_feed_rate_is_a_setting_marked_in_every_timeline(lab):
    controller, said, marks = lab
    controller.set_rate(20)
    await wait_until(lambda: any("feed rate 0 → 20 messages/s" in m for m in marks), 10, "the marker",
                     state=lambda: (marks, said))
    views: list = []
    controller.viewed.connect(lambda stats, sessions, rates: views.append((stats, rates)))
    await wait_until(lambda: len(views) >= 2, 10, "two views of the lab")
    assert views[-1][0]["feed"]["rate"] == 20.0
    assert set(controller.server_view) >= {"websocket", "sse", "short_poll", "long_poll", "stream", "socketio"}


async def test_a_worker_action_on_one_process_is_refused_with_a_sentence(lab):
    controller, said, marks = lab
    controller.worker_action("kill_worker", "w2")
    await wait_until(lambda: any("one process" in s for s in said), 10, "the refusal", state=lambda: said)
    assert not any("kill" in m for m in marks)


async def test_a_kill_marks_every_timeline_and_the_new_process_says_what_it_remembers(lab):
    controller, said, marks = lab
    ready: list[str] = []
    controller.ready.connect(lambda url, _token: ready.append(url))
    first = controller.pid()
    await controller.restart_lab(0.2, True)
    assert ready and controller.pid() != first
    assert any(m.startswith("lab process killed (SIGKILL); a new one in 0.2 s") for m in marks)
    assert any(m.startswith("lab process back on ") for m in marks)


def test_rates_come_from_two_samples_of_the_same_process_and_the_peak_is_the_minutes():
    rates = ServerRates()
    assert rates.sample({"pid": 1, "uptime_s": 10.0, "requests": {"sse": 100}}) == {}
    assert rates.sample({"pid": 1, "uptime_s": 12.0, "requests": {"sse": 140}}) == {"sse": 20.0}
    assert rates.sample({"pid": 2, "uptime_s": 1.0, "requests": {"sse": 3}}) == {}  # a new process: again
    view = rates.per_transport({"open": {"sse": 4}})
    assert view["sse"] == {"open": 4, "rate": 0.0, "peak": 20.0} and view["websocket"]["open"] == "—"
    assert rates.sample(None) == {}  # the lab did not answer this second


@pytest.mark.timeout(90)
async def test_the_lab_restarts_over_tls_and_a_tab_follows_it_trusting_its_ca_alone(lab):
    """The Server tab's switch: the lab again behind HAProxy with its own CA; a client made through the registry
    for the lab's new https:// address (as a tab makes one) trusts that CA without being told, and a kill keeps
    the CA (the window's folder), so the tabs' trust holds across it."""
    import asyncio
    import shutil
    from pathlib import Path

    from transport.clients.registry import TRANSPORTS
    from transport.clients.tls import trusted_ca

    if shutil.which("haproxy") is None:
        pytest.skip("needs haproxy (.ci/run installs it)")
    controller, said, marks = lab
    controller.set_cluster(1, "roundrobin", "shared", True)
    await wait_until(lambda: controller.url.startswith("https://"), 30, "the TLS lab", state=lambda: said)
    tls = controller.announced["tls"]
    assert trusted_ca(controller.url) == tls["ca"] and trusted_ca(tls["http1_url"]) == tls["ca"]
    assert any("over TLS" in m for m in marks)
    ca_before = Path(tls["ca"]).read_bytes()
    await controller.restart_lab(0.2, True)
    assert Path(controller.announced["tls"]["ca"]).read_bytes() == ca_before  # the tabs' trust holds
    controller.set_rate(20)  # the admin API over https, trusting the same CA
    await wait_until(lambda: any("feed rate 0 → 20" in m for m in marks), 10, "the rate", state=lambda: said)
    info = TRANSPORTS["sse"]
    events: list = []
    client = info.make(info.lab_url(controller.url), events.append)
    assert client.options.ca_file == tls["ca"]
    task = asyncio.ensure_future(client.run())
    try:
        await wait_until(lambda: client.ledger.received >= 3, 20, "three messages over https",
                         state=lambda: [str(e) for e in events[-3:]])
    finally:
        await client.close()
        await asyncio.wait_for(task, 10)
    assert next(e for e in events if e.kind == "open").meta["tls"].startswith("TLSv1")
