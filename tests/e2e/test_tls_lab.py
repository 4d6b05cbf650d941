"""The lab over TLS and HTTP/2 (``python -m transport.server --tls``), end to end with the real HAProxy in front:
every feed transport through ``https://`` and ``wss://`` trusting the run's CA alone, nothing lost across a
restart; curl and Python's ``ssl`` negotiate what the first line says (h2 where offered, http/1.1 on the other
port and with ``--http1``); the certificates are gone at exit; a machine without HAProxy gets one sentence."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers import ROOT, read_line, stop_child, wait_until
from transport.clients.lab_admin import post_fault
from transport.clients.tls import trust
from transport.clients.registry import TRANSPORTS

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None and not os.environ.get("CI"),
                                reason="the TLS lab needs haproxy (apt install haproxy); .ci/run installs it")


class TlsLab:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "transport.server", "--watch-parent", "--tls", "--port", "0",
                                      "--log-level", "WARNING", *args], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self.info = json.loads(read_line(self.proc.stdout, 30))
        assert self.info["event"] == "listening", self.info
        self.url, self.token, self.tls = self.info["url"], self.info["admin_token"], self.info["tls"]
        trust(self.url, self.tls["ca"])

    def stop(self) -> int:
        trust(self.url, None)
        stop_child(self.proc, 20)
        return self.proc.returncode


@pytest.fixture
def tls_lab():
    lab = TlsLab("--rate", "20")
    try:
        yield lab
    finally:
        lab.stop()


def alpn_of(url: str, ca: str, offer: list[str]) -> tuple[str | None, str | None]:
    """What Python's ssl negotiates with the lab: (ALPN protocol, TLS version)."""
    parts = urlsplit(url)
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(offer)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=parts.hostname) as tls:
            return tls.selected_alpn_protocol(), tls.version()


FEED = {"websocket": {}, "sse": {}, "long_poll": {}, "short_poll": {"interval": 0.2}, "stream": {},
        "socketio": {}}


@pytest.mark.timeout(90)
async def test_every_transport_over_tls_loses_nothing_across_a_restart(tls_lab):
    lab = tls_lab
    assert lab.url.startswith("https://127.0.0.1:") and lab.tls["alpn"] == ["h2", "http/1.1"]
    assert Path(lab.tls["ca"]).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    runs = {}
    for name, options in FEED.items():
        info = TRANSPORTS[name]
        events: list = []
        url = info.lab_url(lab.url)
        assert url.startswith("wss://" if info.ws_scheme else "https://"), url
        client = info.make(url, events.append, ca_file=lab.tls["ca"], **options)
        runs[name] = (client, events, asyncio.ensure_future(client.run()))

    def counts():
        return {name: (cl.state, cl.ledger.received, len(cl.ledger.episodes)) for name, (cl, _e, _t) in runs.items()}
    try:
        await wait_until(lambda: all(cl.ledger.received >= 10 for cl, _e, _t in runs.values()), 30, "10 each",
                         counts)
        await post_fault(lab.url, lab.token, {"action": "restart", "down_s": 1})
        mark = {name: cl.ledger.received for name, (cl, _e, _t) in runs.items()}
        # the streams see their connection end and resume; a poll held or sent while the lab is down is
        # retried by the front (HAProxy's retry-on) and only answers later: no episode there
        await wait_until(lambda: all(cl.ledger.received >= mark[name] + 40 and (cl.ledger.episodes or "poll" in name)
                                     for name, (cl, _e, _t) in runs.items()), 40, "40 more each after the restart",
                         counts)
    finally:
        for client, _events, task in runs.values():
            await client.close()
            await asyncio.wait_for(task, 10)
    for name, (client, events, _t) in runs.items():
        led = client.ledger
        assert (led.lost, led.duplicated) == (0, 0) and all(ep.recovered for ep in led.episodes), (name, led.summary())
        tls_rows = [e for e in events if e.meta.get("tls")]
        assert tls_rows and tls_rows[0].meta["tls"].startswith("TLSv1."), name  # the open row says what TLS did
        assert tls_rows[0].meta["alpn"] == "http/1.1" and tls_rows[0].meta["cipher"], (name, tls_rows[0].meta)
        assert not any(e.meta.get("insecure") for e in events), name


@pytest.mark.timeout(60)
async def test_what_is_negotiated_is_what_the_first_line_says_and_nothing_is_left(tls_lab):
    lab = tls_lab
    ca = lab.tls["ca"]
    assert alpn_of(lab.url, ca, ["h2", "http/1.1"])[0] == "h2"
    assert alpn_of(lab.tls["http1_url"], ca, ["h2", "http/1.1"])[0] == "http/1.1"
    if shutil.which("curl"):
        said = subprocess.run(["curl", "-s", "--http2", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_version}",
                               lab.url + "/"], capture_output=True, text=True, timeout=10).stdout
        assert said == "2", said
        refused = subprocess.run(["curl", "-s", "-o", "/dev/null", lab.url + "/"], capture_output=True, timeout=10)
        assert refused.returncode == 60  # curl's own "certificate not trusted": only the run's CA vouches for it
    folder = Path(ca).parent
    assert lab.stop() == 0
    assert not folder.exists()  # the CA and the key went with the lab

    http1 = TlsLab("--rate", "0", "--http1")
    try:
        assert http1.tls["alpn"] == ["http/1.1"]
        assert alpn_of(http1.url, http1.tls["ca"], ["h2", "http/1.1"])[0] == "http/1.1"
    finally:
        http1.stop()


def test_a_tls_lab_without_haproxy_is_one_sentence(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no haproxy on the PATH
    proc = subprocess.run([sys.executable, "-m", "transport.server", "--tls"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)
    first = json.loads(proc.stdout.splitlines()[0])
    assert proc.returncode == 1 and first == {"event": "error", "error": first["error"]}
    assert first["error"] == ("The TLS lab needs HAProxy as its TLS and HTTP/2 front: install it "
                              "(Debian: apt install haproxy).")
