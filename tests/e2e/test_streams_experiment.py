"""The six-connection limit, seen in the real Chromium against the TLS lab behind the real HAProxy: over
HTTP/1.1 six streams of one page open and the rest stay pending until one closes; over HTTP/2 all of them open
on one connection. Through ``probe --transport browser --experiment streams`` as a user runs it (EventSources),
and the fetch series through the experiment itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.e2e.test_tls_lab import TlsLab
from tests.helpers import CHROMIUM_GROUP, ROOT
from transport.browser.chromium import find_chromium
from transport.browser.streams_experiment import StreamsExperiment

pytestmark = [pytest.mark.skipif((find_chromium() is None or shutil.which("haproxy") is None)
                                 and not os.environ.get("CI"),
                                 reason="needs Chromium and HAProxy (CI installs both and never skips)"),
              CHROMIUM_GROUP]
N = 9


@pytest.fixture(scope="module")
def lab():
    lab = TlsLab("--rate", "20")  # a hold of 0.6 s: ~12 messages per stream, so ten streams always outnumber six
    try:
        yield lab
    finally:
        lab.stop()


def probe(url: str, *extra: str) -> tuple[list[dict], dict]:
    proc = subprocess.run([sys.executable, "main.py", "probe", url, "--transport", "browser", "--experiment",
                           "streams", "--streams", str(N), "--timeout", "30", *extra], cwd=ROOT,
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    return lines[:-1], lines[-1]["experiment"]


@pytest.mark.timeout(120)
def test_over_http2_every_stream_opens_on_one_connection_and_over_http1_six(lab):
    ca = lab.tls["ca"]
    rows, said = probe(lab.url, "--ca", ca)
    assert (said["protocol"], said["streams"], said["open"], said["pending"], said["connections"]) == \
        ("h2", N, N, 0, 1), said
    assert len(rows) == N and all(r["state"] == "open" and r["protocol"] == "h2" for r in rows), rows
    assert len({r["connection"] for r in rows}) == 1 and said["all_open_ms"] is not None

    rows, said = probe(lab.tls["http1_url"], "--ca", ca)
    assert (said["protocol"], said["open"], said["pending"], said["connections"]) == ("http/1.1", 6, N - 6, 6), said
    opened = [r for r in rows if r["state"] == "open"]
    assert len(opened) == 6 and len({r["connection"] for r in opened}) == 6  # one connection each
    assert said["opened_after_a_close"] == 1  # the experiment closed one: a pending stream took its place
    released = [r for r in rows if r["after_close"]]
    assert len(released) == 1 and released[0]["opened_ms"] > max(r["opened_ms"] for r in opened)


@pytest.mark.timeout(120)
async def test_fetch_streams_meet_the_same_limit(lab):
    async with StreamsExperiment(ca_file=lab.tls["ca"]) as experiment:
        await experiment.start([lab.url, lab.tls["http1_url"]])
        h1 = await experiment.run_series(lab.tls["http1_url"], N, "fetch", settle_s=0.6)
        h2 = await experiment.run_series(lab.url, N, "fetch", settle_s=0.6)
    assert (h1.protocol, len(h1.opened), h1.connections) == ("http/1.1", 6, 6), h1.summary()
    assert (h2.protocol, len(h2.opened), h2.connections) == ("h2", N, 1), h2.summary()


@pytest.mark.timeout(120)
async def test_compare_counts_the_bytes_of_the_same_page_over_each_protocol(lab):
    """Compare → HTTP/1.1 vs HTTP/2 (browser): a TCP counter in front of the TLS front. Over HTTP/1.1 six TLS
    handshakes and six sets of heads before the streams settle; over HTTP/2 one handshake and HPACK-compressed
    heads: fewer bytes for more streams."""
    from transport.apps.protocol_compare import compare_protocols

    h1, h2 = await compare_protocols(lab.url, lab.tls, n=10, hold_s=0.6, settle_s=0.6)
    assert (h1.title, h1.protocol, h1.open, h1.pending, h1.connections) == ("HTTP/1.1", "http/1.1", 6, 4, 6)
    assert (h2.title, h2.protocol, h2.open, h2.pending, h2.connections) == ("HTTP/2", "h2", 10, 0, 1)
    assert h1.all_open_ms is None and h2.all_open_ms is not None
    assert h2.setup_bytes < h1.setup_bytes and h2.setup_per_stream < h1.setup_per_stream, (h1, h2)
    assert h1.held_messages > 0 and h2.held_messages > h1.held_messages  # ten streams deliver more than six
    assert h1.bytes_per_message and h2.bytes_per_message


@pytest.mark.timeout(120)
async def test_the_demo_pages_websocket_rides_http2_by_rfc_8441_and_falls_back_to_http1(lab):
    """Chromium and HAProxy both do RFC 8441: on the h2 port the page's WebSocket is an extended CONNECT
    answered 200 on the page's one connection; on the http/1.1-only port it is the classic 101 upgrade."""
    from tests.helpers import wait_until
    from transport.browser.chromium_watch import WatchedBrowser
    from transport.browser.trust import server_spki, trust_flags

    spki = await server_spki(lab.url, lab.tls["ca"])
    for origin, protocol, status in ((lab.url, "h2 (RFC 8441)", 200), (lab.tls["http1_url"], "http/1.1", 101)):
        events: list = []
        async with WatchedBrowser(events.append, flags=trust_flags(spki)) as watch:
            await watch.open_tab(origin + "/demo")
            await wait_until(lambda: any(e.transport == "websocket" and e.kind == "open" for e in events), 20,
                             "the page's WebSocket open", state=lambda: [str(e) for e in events[-5:]])
        opened = next(e for e in events if e.transport == "websocket" and e.kind == "open")
        assert (opened.meta["status"], opened.meta["protocol"]) == (status, protocol), opened.meta
        page = next(e for e in events if e.transport == "http" and e.kind == "response" and "/demo" in e.data)
        assert page.meta["protocol"] == ("h2" if status == 200 else "http/1.1") and page.meta["connection"]
        assert f"· {page.meta['protocol']} · connection {page.meta['connection']}" in page.data
