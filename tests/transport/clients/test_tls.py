"""TLS as a user meets it, against real TLS servers made here (aiohttp and websockets with certificates from
transport/core/certs.py): each failure is one sentence naming what failed (unknown issuer, name mismatch,
expired, protocol, a CA file that is not PEM), a CA file is trusted alone, and the insecure switch marks every
row of its connection."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web
from websockets.asyncio.server import serve as ws_serve

from tests.helpers import ROOT, wait_until
from transport.clients.registry import TRANSPORTS
from transport.core.certs import make_ca, make_server_cert


def server_ctx(tmp: Path, names=("127.0.0.1",), valid_from=-300.0, valid_for=86400.0) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for ``names`` signed by a fresh CA; the CA's file."""
    ca, key = make_ca()
    cert = make_server_cert(ca, key, tuple(names), valid_from=valid_from, valid_for=valid_for)
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "server.pem").write_bytes(cert.cert + cert.key)
    (tmp / "ca.pem").write_bytes(ca.cert)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp / "server.pem")
    return ctx, tmp / "ca.pem"


async def sse(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for i in range(1, 4):
        await resp.write(f"id: {i}\ndata: {{\"n\": {i}}}\n\n".encode())
    await asyncio.Event().wait()  # held open until the client closes (the runner's cleanup ends the handler)
    return resp


@contextlib.asynccontextmanager
async def https_server(ctx: ssl.SSLContext | None):
    app = web.Application()
    app.router.add_get("/sse", sse)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    try:
        yield f"https://127.0.0.1:{runner.addresses[0][1]}/sse"
    finally:
        await runner.cleanup()


async def run_sse(url: str, **options) -> tuple[object, list]:
    events: list = []
    client = TRANSPORTS["sse"].make(url, events.append, seq_rule="id", max_failures=1, **options)
    task = asyncio.ensure_future(client.run())
    try:
        await wait_until(lambda: client.ledger.received >= 3 or task.done(), 10, "three events or the end",
                         state=lambda: [str(e) for e in events[-3:]])
    finally:
        await client.close()
    return await asyncio.wait_for(task, 5), events


async def test_a_ca_file_is_trusted_alone_and_the_open_row_says_what_tls_negotiated(tmp_path):
    ctx, ca = server_ctx(tmp_path)
    async with https_server(ctx) as url:
        err, events = await run_sse(url, ca_file=str(ca))
    assert err is None
    opened = next(e for e in events if e.kind == "open")
    assert opened.meta["tls"] in ("TLSv1.2", "TLSv1.3") and opened.meta["cipher"], opened.meta
    assert f"· {opened.meta['tls']} " in opened.data and "ALPN" in opened.data


@pytest.mark.parametrize("case", ["unknown issuer", "name mismatch", "expired"])
async def test_each_certificate_failure_is_one_sentence_naming_it(tmp_path, case):
    names = ("other.example",) if case == "name mismatch" else ("127.0.0.1",)
    valid_from, valid_for = (-3 * 86400.0, 86400.0) if case == "expired" else (-300.0, 86400.0)
    ctx, ca = server_ctx(tmp_path, names, valid_from, valid_for)
    async with https_server(ctx) as url:
        err, _events = await run_sse(url, **({} if case == "unknown issuer" else {"ca_file": str(ca)}))
    assert err is not None and err.sentence.startswith("TLS failure with 127.0.0.1:"), err
    word = {"unknown issuer": "unknown issuer", "name mismatch": "name mismatch", "expired": "has expired"}[case]
    assert word in err.sentence and err.sentence.count(". ") <= 1, err.sentence


async def test_a_plaintext_server_on_an_https_url_is_a_protocol_failure(tmp_path):
    async with https_server(None) as url:
        err, _events = await run_sse(url)
    assert err is not None and "protocol" in err.sentence and "plain http://" in err.sentence, err.sentence


async def test_the_insecure_switch_connects_and_marks_every_row(tmp_path):
    ctx, _ca = server_ctx(tmp_path)
    async with https_server(ctx) as url:
        err, events = await run_sse(url, verify_tls=False)
    assert err is None and len(events) > 4
    assert all(e.meta.get("insecure") is True for e in events), [e for e in events if not e.meta.get("insecure")]


async def test_the_websocket_client_verifies_and_trusts_a_ca_file_as_the_http_ones_do(tmp_path):
    ctx, ca = server_ctx(tmp_path)

    async def handler(ws):
        await ws.send('{"n": 1}')
        await ws.wait_closed()

    async with ws_serve(handler, "127.0.0.1", 0, ssl=ctx) as server:
        url = f"wss://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        for options, ok in (({}, False), ({"ca_file": str(ca)}, True), ({"verify_tls": False}, True)):
            events: list = []
            client = TRANSPORTS["websocket"].make(url, events.append, max_failures=1, **options)
            task = asyncio.ensure_future(client.run())
            await wait_until(lambda: any(e.kind == "message" for e in events) or task.done(), 10,
                             "a message or the end", state=lambda: [str(e) for e in events[-3:]])
            await client.close()
            err = await asyncio.wait_for(task, 5)
            if ok:
                opened = next(e for e in events if e.kind == "open")
                assert err is None and opened.meta["tls"].startswith("TLSv1"), (options, err)
                assert bool(opened.meta.get("insecure")) == ("verify_tls" in options)
            else:
                assert err is not None and "unknown issuer" in err.sentence, err


def test_probe_says_in_one_sentence_that_a_ca_file_is_not_pem(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    proc = subprocess.run([sys.executable, "main.py", "probe", "https://127.0.0.1:9/sse", "--ca", str(bad)], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"probe: The CA file {bad} holds no PEM certificate"), proc.stderr
    assert proc.stderr.count("\n") == 1
