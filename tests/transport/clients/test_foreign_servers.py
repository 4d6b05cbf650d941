"""Duplex against servers no one here wrote the protocol of: the lab's conventions never leak onto them, and
a sequence / resume rule gives them a ledger. Socket.IO is compared with the official ``socket.io-client``
on the same Node ``socket.io`` server in the same test (tests/data/socketio_recovery: .ci/run installs it)."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

import pytest
import websockets
from websockets.asyncio.server import serve as ws_serve

from tests.helpers import ROOT, SCALE, wait_until
from transport.clients.socketio import SocketIOClient, SocketIOOptions
from transport.clients.sse import SSEClient, SSEOptions
from transport.clients.websocket import WebSocketClient, WebSocketOptions

DATA = Path(__file__).resolve().parents[2] / "data"
SIO = DATA / "socketio_recovery"
node = pytest.mark.skipif(shutil.which("node") is None or not (SIO / "node_modules" / "socket.io-client").is_dir(),
                          reason="node and the npm packages of tests/data/socketio_recovery (npm install there) "
                                 "are needed; .ci/run installs them")


class Node:
    """A Node script run as a child: its JSON lines collected, ended by closing its stdin."""

    def __init__(self) -> None:
        self.lines: list[dict] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None

    async def start(self, script: Path, *args: str) -> "Node":
        self.proc = await asyncio.create_subprocess_exec("node", str(script), *args, cwd=script.parent,
                                                         stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(json.loads(line))

    def health(self) -> str:
        """For a failure's message: is the child alive, and is its reader?"""
        reader = self._reader
        state = "reading" if reader is not None and not reader.done() else \
            f"reader ended ({reader.exception() if reader is not None and not reader.cancelled() else 'cancelled'})"
        return f"pid {self.proc.pid if self.proc else None} rc {self.proc.returncode if self.proc else None} {state}"

    async def port(self) -> int:
        await wait_until(lambda: any("port" in x for x in self.lines), 15, f"the port line (got {self.lines})")
        return next(x["port"] for x in self.lines if "port" in x)

    async def stop(self) -> None:
        if self.proc is None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


async def run_client(client) -> asyncio.Task:
    return asyncio.ensure_future(client.run())


async def finish(client, task: asyncio.Task) -> None:
    await client.close()
    await asyncio.wait_for(task, 10 * SCALE)


# -- a plain websockets server ---------------------------------------------------------------------------
async def test_a_plain_websocket_servers_json_is_messages_and_its_url_is_never_changed():
    """The issue's case: {"control": "pause"}, {"control": "live", "seq": 5} and {"seq": 1, …} are three
    messages, the reconnect asks for the URL the user typed (no ?after=), and the second connection's
    {"seq": 1} is no duplicate: without a rule loss cannot be checked, and the ledger says so."""
    paths: list[str] = []

    async def handler(ws):
        paths.append(ws.request.path)
        for text in ('{"control": "pause"}', '{"control": "live", "seq": 5}', '{"seq": 1, "price": 10}'):
            await ws.send(text)
        await ws.close()

    async with ws_serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        events: list = []
        url = f"ws://127.0.0.1:{port}/feed?room=a"
        client = WebSocketClient(WebSocketOptions(url, policy=_fast()), events.append)
        task = await run_client(client)
        try:
            await wait_until(lambda: len([e for e in events if e.kind == "message"]) >= 6, 15, "two connections")
        finally:
            await finish(client, task)
    msgs = [e for e in events if e.kind == "message"]
    assert [e.data for e in msgs[:3]] == ['{"control": "pause"}', '{"control": "live", "seq": 5}',
                                          '{"seq": 1, "price": 10}']
    assert all(e.seq is None and "ledger" not in e.meta for e in msgs)
    assert not [e for e in events if e.kind in ("control", "live", "gap")]
    assert set(paths) == {"/feed?room=a"} and len(paths) >= 2
    assert client.ledger.verdict().startswith("no sequence rule: loss cannot be checked")


async def test_a_websocket_server_resumed_by_the_users_rules():
    """--seq /seq --resume query:since: the reconnect asks ?since=<last seq> of the user's URL; --resume
    message: sends the template first. The server skips one number once: lost 1, and nothing else."""
    requests: list[str] = []
    firsts: list[str] = []

    async def handler(ws):
        requests.append(ws.request.path)
        start = 0
        if "since=" in ws.request.path:
            start = int(ws.request.path.rsplit("since=", 1)[1]) + (1 if len(requests) == 2 else 0)
        else:
            try:  # a message-rule client says where it was first
                first = await asyncio.wait_for(ws.recv(), 0.5)
                firsts.append(first)
                start = json.loads(first)["after"]
            except asyncio.TimeoutError:
                pass
        for n in range(start + 1, start + 6):
            await ws.send(json.dumps({"type": "tick", "data": {"seq": n}}))
        await ws.close()

    async with ws_serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        events: list = []
        client = WebSocketClient(WebSocketOptions(f"ws://127.0.0.1:{port}/t?x=1", policy=_fast(),
                                                  seq_rule="/data/seq", resume_rule="query:since"), events.append)
        task = await run_client(client)
        try:
            await wait_until(lambda: client.ledger.received >= 14, 15, "three connections")
        finally:
            await finish(client, task)
            assert requests[:3] == ["/t?x=1", "/t?x=1&since=5", "/t?x=1&since=11"]  # the second skipped 6
        counts = client.ledger.counts()
        assert (counts["lost"], counts["duplicated"], counts["rule"]) == (1, 0, "/data/seq")
        assert counts["episodes"] >= 2 and counts["recovered"] >= 2

        requests.clear()
        events2: list = []
        client2 = WebSocketClient(WebSocketOptions(f"ws://127.0.0.1:{port}/m", policy=_fast(), seq_rule="/data/seq",
                                                   resume_rule='message:{"op": "resume", "after": {seq}}'),
                                  events2.append)
        task = await run_client(client2)
        try:
            await wait_until(lambda: client2.ledger.received >= 10, 15, "two connections")
        finally:
            await finish(client2, task)
        assert firsts[0] == '{"op": "resume", "after": 5}' and set(requests) == {"/m"}
        sent = [e for e in events2 if e.direction == "out" and e.kind == "message"]
        assert sent and sent[0].meta.get("resume") is True
        assert (client2.ledger.lost, client2.ledger.duplicated) == (0, 0)


# -- a Node http SSE server ---------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("node") is None, reason="node is needed; .ci/run installs it")
@pytest.mark.parametrize("skip, lost", [("0", 0), ("1", 1)])
async def test_a_node_sse_server_is_numbered_by_its_ids_and_resumed_by_last_event_id(skip, lost):
    server = await Node().start(DATA / "node_sse" / "server.js")
    try:
        port = await server.port()
        events: list = []
        client = SSEClient(SSEOptions(f"http://127.0.0.1:{port}/events?skip={skip}"), events.append)
        task = await run_client(client)
        try:
            await wait_until(lambda: client.ledger.received >= 28 and len(client.ledger.episodes) == 2
                             and client.ledger.episodes[-1].recovered, 20,
                             f"two drops and their resumes (ledger {client.ledger.counts()})")
        finally:
            await finish(client, task)
    finally:
        await server.stop()
    asked = [x["last_event_id"] for x in server.lines if "request" in x]
    assert asked[:3] == [None, "10", str(20 + int(skip))]  # Last-Event-ID, as a browser sends it
    led = client.ledger.counts()
    assert (led["lost"], led["duplicated"], led["episodes"], led["recovered"], led["rule"]) == (lost, 0, 2, 2, "id")
    assert client.ledger.verdict().startswith(f"{lost} lost, 0 duplicated")


# -- Socket.IO: Node's socket.io 4.8 and the official client ---------------------------------------------
def _ticks(args_list: list[list]) -> list[int]:
    return [a[0]["n"] for a in args_list]


@node
@pytest.mark.parametrize("mode", ["upgrade", "polling", "websocket"])
async def test_socketio_matches_the_official_client_through_a_drop_after_an_acked_event(mode):
    """Both clients on one server; it asks each ask("question?", ack) and then drops every TCP connection:
    the same events, the ack answered, the session recovered with nothing lost, as socket.io-client does."""
    server = await Node().start(SIO / "ack_server.js", "2")
    official = Node()
    client = None
    task = None
    try:
        url = f"http://127.0.0.1:{await server.port()}"
        await official.start(SIO / "official_client.js", url, mode, "official")
        events: list = []
        # the official client's reconnection delays (200 ms doubling to 1 s), so both come back as late: sooner,
        # a client can ask to recover before the server has put the dropped session away
        from transport.core.backoff import Policy
        client = SocketIOClient(SocketIOOptions(url, transports=mode, auth={"name": "duplex"},
                                                policy=Policy("exponential", 0.2, 1.0)), events.append)
        task = await run_client(client)

        def duplex_ticks() -> list[int]:
            return [json.loads(e.data)[0]["n"] for e in events if e.kind == "message" and e.meta.get("event") == "tick"]

        def official_ticks() -> list[int]:
            return _ticks([x["args"] for x in official.lines if x.get("event") == "tick"])

        await wait_until(lambda: any("drop" in x for x in server.lines), 20, f"the drop ({server.lines[-3:]})")
        drop_at = max(duplex_ticks())
        await wait_until(lambda: len([x for x in official.lines if x.get("connect")]) >= 2
                         and len([e for e in events if e.kind == "open"]) >= 2
                         and max(duplex_ticks()) > drop_at + 20 and max(official_ticks()) > drop_at + 20, 20,
                         f"both reconnected (server: {server.lines[-4:]}; official: {official.lines[-3:]}; duplex: "
                         f"{[(e.kind, str(e.data)[:80]) for e in events if e.kind != 'message'][-8:]}, state "
                         f"{client.state}, ledger {client.ledger.counts()}; {server.health()}, {official.health()})")
    finally:
        if client is not None and task is not None:
            await finish(client, task)
        await official.stop()
        await server.stop()
    # the official client: recovered, every tick once (its app sees the offset as an extra argument)
    reconnect = [x for x in official.lines if x.get("connect")][1]
    assert reconnect["recovered"] is True
    ref = official_ticks()
    assert ref == list(range(ref[0], ref[0] + len(ref)))
    # Duplex: the same
    opened = [e for e in events if e.kind == "open"]
    assert opened[1].meta.get("recovered") is True, [e.data for e in opened]
    got = duplex_ticks()
    assert got == list(range(got[0], got[0] + len(got))), "a tick lost or repeated"
    asks = [e for e in events if e.kind == "message" and e.meta.get("event") == "ask"]
    assert len(asks) == 1 and json.loads(asks[0].data) == ["question?"] and "offset" not in asks[0].meta
    assert [x["event"] for x in official.lines if x.get("event") == "ask"] == ["ask"]
    assert {x["ack"] for x in server.lines if "ack" in x} == {"official", "duplex"}
    # what the drop cost on the way (a poll answered "400 Session ID unknown", a refused send) is said and
    # never fatal: the official client carried on, and so did Duplex
    assert not [e for e in events if e.kind == "error" and e.meta.get("fatal")]
    assert client.state != "failed"
    hellos = [e for e in events if e.kind == "message" and e.meta.get("event") == "hello"]
    assert len(hellos) == 1  # connect-time events not sent again: the session was recovered
    assert client.ledger.sessions_recovered == 1 and client.ledger.sessions_missed == 0


async def polling_only_socketio():
    """python-socketio on aiohttp with transports=["polling"], pinging every second: (server, port, runner)."""
    import socketio
    from aiohttp import web

    sio = socketio.AsyncServer(async_mode="aiohttp", transports=["polling"], ping_interval=1, ping_timeout=1)
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return sio, site._server.sockets[0].getsockname()[1], runner  # type: ignore[union-attr]


async def test_socketio_stays_on_polling_when_the_upgrade_is_refused():
    """python-socketio with transports=["polling"]: an upgrade probe is refused, and the client stays on
    polling (Engine.IO's rule, the official client's behaviour) with a row that says so."""
    sio, port, runner = await polling_only_socketio()

    @sio.event
    async def connect(sid, environ, auth=None):
        await sio.emit("hello", {"n": 1}, to=sid)

    events: list = []
    client = SocketIOClient(SocketIOOptions(f"http://127.0.0.1:{port}", transports="upgrade"), events.append)
    task = await run_client(client)
    try:
        await wait_until(lambda: any(e.kind == "message" for e in events), 10, "the hello event")
        await wait_until(lambda: len([e for e in events if e.kind == "ping"]) >= 2, 10, "two pings over polling")
    finally:
        await finish(client, task)
        await runner.cleanup()
    assert client.last_error is None and client.via == "polling"
    notes = [e for e in events if e.kind == "note" and e.meta.get("upgrade") == "failed"]
    offered = "websocket" in client.info.get("upgrades", [])
    assert (len(notes) == 1) if offered else not notes
    assert len([e for e in events if e.kind == "open"]) == 1  # no reconnect that the server did not cause


def _fast():
    from transport.core.backoff import Policy
    return Policy("fixed", 0.05, 0.05)


def test_probe_counts_a_foreign_servers_messages_and_prints_its_ledger_last():
    """probe --count counts every message of a plain server (the lab's words included), prints the ledger
    last, and --fail-on-loss exits 3 when the rule finds a hole."""
    script = (
        "import asyncio, json, sys\n"
        "from websockets.asyncio.server import serve\n"
        "async def h(ws):\n"
        "    for n in (1, 2, 4, 5):\n"
        "        await ws.send(json.dumps({'control': 'live', 'seq': n}))\n"
        "    await ws.wait_closed()\n"
        "async def main():\n"
        "    async with serve(h, '127.0.0.1', 0) as s:\n"
        "        print(s.sockets[0].getsockname()[1], flush=True)\n"
        "        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)\n"
        "asyncio.run(main())\n")
    import subprocess
    server = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        url = f"ws://127.0.0.1:{port}/"
        base = [sys.executable, "main.py", "probe", url, "--count", "4", "--timeout", "20"]
        plain = subprocess.run(base, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert plain.returncode == 0, plain.stderr
        lines = [json.loads(x) for x in plain.stdout.splitlines()]
        assert len([x for x in lines[:-1] if x["kind"] == "message"]) == 4
        assert lines[-1]["ledger"]["verdict"].startswith("no sequence rule") and not lines[-1]["ledger"]["ok"]
        assert (lines[-1]["ledger"]["received"], lines[-1]["ledger"]["numbered"]) == (4, 0)
        ruled = subprocess.run(base + ["--seq", "/seq", "--fail-on-loss"], cwd=ROOT, capture_output=True, text=True,
                               timeout=60)
        ledger = json.loads(ruled.stdout.splitlines()[-1])["ledger"]
        assert ruled.returncode == 3 and (ledger["lost"], ledger["received"]) == (1, 4), ruled.stderr
        assert "1 lost" in ruled.stderr and ruled.stderr.count("\n") == 1
    finally:
        server.stdin.close()
        server.wait(10)


async def test_a_polling_session_the_server_forgot_means_a_new_handshake():
    """python-socketio forgets an Engine.IO session (as after a drop or a restart behind the same port): the
    next request with its sid is answered 400 "Invalid session". Engine.IO says: handshake again (the official
    client does). Duplex says so in one non-fatal sentence, handshakes again and goes on receiving."""
    sio, port, runner = await polling_only_socketio()
    events: list = []
    client = SocketIOClient(SocketIOOptions(f"http://127.0.0.1:{port}", transports="polling", policy=_fast()),
                            events.append)
    task = await run_client(client)
    try:
        await wait_until(lambda: client.connected and client._sid in sio.eio.sockets, 10, "connected")
        sio.eio.sockets.pop(client._sid)  # the server no longer knows the session
        await wait_until(lambda: len([e for e in events if e.kind == "open"]) >= 2, 15,
                         f"a new session (rows: {[e.kind for e in events][-10:]})")
        await sio.emit("after", {"n": 1})
        await wait_until(lambda: any(e.kind == "message" and e.meta.get("event") == "after" for e in events), 10,
                         "an event on the new session")
    finally:
        await finish(client, task)
        await runner.cleanup()
    errors = [e for e in events if e.kind == "error"]
    assert errors and all(not e.meta["fatal"] for e in errors)
    assert "no longer knows Engine.IO session" in errors[0].data and "poll poll" not in errors[0].data
    assert len([e for e in events if e.kind == "handshake"]) >= 2 and client.last_error is not None


async def test_an_error_answer_on_the_way_does_not_unmark_the_lab(serve):
    """A lab-marked server (Duplex-Epoch on its handshake) whose next handshake is answered 503 by something
    in front of it (a balancer's answer, no Duplex-Epoch): the reconnect after it still resumes with ?after=
    and the epoch, as the lab's protocol says; a lab's mark is taken from successful answers only."""
    from aiohttp import web

    seen: list[tuple[str, str | None]] = []
    answers = iter(["lab", "503", "lab", "lab"])

    async def ws(request):
        seen.append((request.query_string, request.headers.get("Duplex-Epoch")))
        if next(answers, "lab") == "503":
            return web.json_response({"error": "no server is available"}, status=503)
        resp = web.WebSocketResponse()
        resp.headers["Duplex-Epoch"] = "e7"  # the lab's mark on its handshake
        await resp.prepare(request)
        start = int(request.query.get("after", 0))
        for n in range(start + 1, start + 4):
            await resp.send_str(json.dumps({"seq": n, "ts": 1, "topic": "t", "body": n}, separators=(",", ":")))
        await resp.close()
        return resp

    base = await serve(web.get("/ws", ws))
    events: list = []
    client = WebSocketClient(WebSocketOptions(base.replace("http", "ws") + "/ws", policy=_fast()), events.append)
    task = await run_client(client)
    try:
        await wait_until(lambda: len(seen) >= 4, 15, f"four handshakes (seen {seen})")
    finally:
        await finish(client, task)
    assert seen[:4] == [("", None), ("after=3", "e7"), ("after=3", "e7"), ("after=6", "e7")]
    assert client.receiver.lab and client.ledger.lost == 0 and client.ledger.duplicated == 0
