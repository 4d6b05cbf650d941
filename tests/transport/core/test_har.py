"""HAR 1.2 and JSON Lines: real traffic of every transport out to a file and back into events."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
from aiohttp.test_utils import TestServer
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT6

import pytest

from tests.helpers import ROOT, wait_until
from transport.apps.compare import TRANSPORTS, make_client
from transport.core.errors import DuplexError
from transport.core.events import Event
from transport.core.har import iter_event_batches, read_events, to_har, to_jsonl
from transport.server import ServerConfig, create_app
from transport.server.keys import FEED

SCHEMA = Path(__file__).resolve().parents[2] / "data" / "har-schema"


def har_validator() -> jsonschema.Draft6Validator:
    resources = [(p.name, Resource.from_contents(json.loads(p.read_text()), default_specification=DRAFT6))
                 for p in SCHEMA.glob("*.json")]
    registry = Registry().with_resources(resources)
    return jsonschema.Draft6Validator({"$ref": "har.json#"}, registry=registry)


@pytest.fixture
async def traffic():
    """Real events of every feed transport against the lab: 20 messages each, one sent by WebSocket."""
    server = TestServer(create_app(ServerConfig(rate=0)), host="127.0.0.1", port=0)
    await server.start_server()
    events: list[Event] = []
    clients = [make_client(t, f"http://127.0.0.1:{server.port}", events.append, poll_interval=0.05, hold=5)
               for t in TRANSPORTS]
    runs = [asyncio.ensure_future(c.run()) for c in clients]
    try:
        await wait_until(lambda: all(c.state == "open" for c in clients), 10, "all open")
        await clients[0].send_binary(b"\xde\xad")
        for i in range(20):
            server.app[FEED].publish("price", {"i": i})
        await wait_until(lambda: all(c.ledger.received >= 21 for c in clients), 10, "21 messages each")
    finally:
        await asyncio.gather(*(c.close() for c in clients))
        await asyncio.wait(runs, timeout=10)
        await server.close()
    return events


async def test_the_har_export_is_valid_har_1_2_with_websocket_frames_and_sse_events(traffic):
    har = to_har(traffic, "test")
    errors = sorted(har_validator().iter_errors(har), key=str)
    assert not errors, errors[0]
    entries = har["log"]["entries"]
    ws = [e for e in entries if e["_resourceType"] == "websocket"]
    assert len(ws) == 1 and ws[0]["response"]["status"] == 101
    frames = ws[0]["_webSocketMessages"]
    sent = [f for f in frames if f["type"] == "send"]
    assert sent == [{"type": "send", "time": sent[0]["time"], "opcode": 2, "data": base64.b64encode(b"\xde\xad").decode()}]
    received = [json.loads(f["data"]) for f in frames if f["type"] == "receive" and f["opcode"] == 1]
    assert [m["seq"] for m in received if "topic" in m] == list(range(1, 22))
    sse = [e for e in entries if e["_resourceType"] == "eventsource"]
    assert sse and sse[0]["response"]["content"]["mimeType"] == "text/event-stream"
    names = [m["eventName"] for m in sse[0]["_eventSourceMessages"]]
    assert names.count("price") == 20
    polls = [e for e in entries if "/api/poll" in e["request"]["url"]]
    assert polls and all(json.loads(e["response"]["content"]["text"]) is not None for e in polls)
    assert sum(len(json.loads(e["response"]["content"]["text"])) for e in polls) >= 21
    stream = [e for e in entries if "/api/stream" in e["request"]["url"]]
    assert stream and stream[0]["response"]["content"]["mimeType"] == "application/x-ndjson"
    assert all(e["startedDateTime"].endswith("+00:00") for e in entries)


async def test_har_and_jsonl_come_back_as_the_same_events(traffic):
    har_text = json.dumps(to_har(traffic))
    assert read_events(har_text, "x.har") == traffic
    assert read_events(to_jsonl(traffic), "x.jsonl") == traffic


def test_a_file_that_is_not_duplex_says_why():
    with pytest.raises(DuplexError, match="without Duplex's event records"):
        read_events(json.dumps({"log": {"version": "1.2", "entries": []}}), "chrome.har")
    with pytest.raises(DuplexError, match="Line 2 of x.jsonl is not JSON"):
        read_events('{"transport":"sse","direction":"in","kind":"message"}\nnot json\n', "x.jsonl")
    with pytest.raises(DuplexError, match="Record 1 of x.jsonl is not a Duplex event"):
        read_events('{"transport":"sse","direction":"sideways","kind":"message"}\n', "x.jsonl")


@pytest.mark.parametrize("text, said", [
    ('{"log": [1, 2]}', "without Duplex's event records"),
    ('{"log": {"_duplexEvents": {"a": 1}}}', "without Duplex's event records"),
    ('{"log": {"_duplexEvents": [1]}}', "Record 1 of x is not a Duplex event"),
    ('{"log": {"_duplexEvents": [{"transport": "websocket", "direction": "in", "kind": "message", '
     '"data": "zz", "meta": {"binary": true}}]}}', "Record 1 of x is not a Duplex event"),
    ("[" * 100_000 + "]" * 100_000, "nests too deep"),
    ('{"transport":"sse","direction":"in","kind":"message"}\n' + "[" * 100_000 + "]" * 100_000, "nests too deep"),
    ('{"transport": 5, "direction": "in", "kind": "message"}', "not a Duplex event"),
])
def test_every_malformed_file_is_one_sentence(tmp_path, text, said):
    with pytest.raises(DuplexError, match=said.replace("(", r"\(")):
        read_events(text, "x")
    path = tmp_path / ("x.jsonl" if text.startswith('{"transport"') else "x")
    path.write_text(text)
    with pytest.raises(DuplexError):
        list(iter_event_batches(path))


def test_json_lines_import_streams_with_memory_about_twice_the_file(tmp_path):
    """A ~20 MB file of events built as the WebSocket client builds them, imported into a timeline's
    row store in batches, in a child process (its own peak resident memory)."""
    code = f"""
import json, os, resource, sys
from transport.core.events import Event
from transport.core.har import iter_event_batches, to_jsonl
from transport.core.rows import RowStore
path = {str(tmp_path / 'big.jsonl')!r}
with open(path, "w") as f:
    n = 0
    while f.tell() < 20_000_000:
        f.write(to_jsonl([Event("websocket", "in", "message", 10**12 + i, 1, n + i, 80, 82, 1.5,
                                json.dumps({{"seq": n + i, "ts": 10**12, "topic": "price",
                                            "body": {{"symbol": "DPX", "price": 101.5}}}}, separators=(",", ":")),
                                {{"topic": "price"}}) for i in range(10_000)]))
        n += 10_000
size = os.path.getsize(path)
start = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            int(open("/proc/self/statm").read().split()[1]) * 4096)
store = RowStore()
for batch in iter_event_batches(path, 10_000):
    store.extend(batch)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({{"size": size, "rows": len(store), "grown": peak - start}}))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["rows"] > 50_000
    assert got["grown"] <= 2.2 * got["size"], f"{got['grown'] / got['size']:.2f}× the file"


def test_a_request_that_carried_a_cookie_header_lists_its_cookies():
    from transport.core.events import Event
    from transport.core.har import to_har

    events = [Event("short_poll", "out", "request", 1, 1, data="GET http://127.0.0.1:1/api/poll",
                    meta={"headers": {"Cookie": "duplex_sid=abc123; theme=dark", "Accept": "*/*"}}),
              Event("short_poll", "in", "response", 2, 1, data="200 OK", meta={"status": 200}),
              Event("websocket", "state", "open", 3, 2, data="ws://127.0.0.1:1/ws",
                    meta={"request_headers": {"cookie": "duplex_sid=abc123"}, "response_headers": {}})]
    entries = to_har(events)["log"]["entries"]
    assert entries[0]["request"]["cookies"] == [{"name": "duplex_sid", "value": "abc123"},
                                                {"name": "theme", "value": "dark"}]
    assert entries[1]["request"]["cookies"] == [{"name": "duplex_sid", "value": "abc123"}]
