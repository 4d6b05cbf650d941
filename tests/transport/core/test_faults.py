"""Faults as data, and the one path that applies them: validation, sentences, the schedule on an injected
clock, the route that follows a URL — against a fake admin API, no lab."""

from __future__ import annotations

import math

import pytest

from transport.core.errors import DuplexError
from transport.apps.fault_runner import FaultRoute, proxy_fault, repeat
from transport.core.faults import FaultError, FaultSpec


@pytest.mark.parametrize("fields, said", [
    ({"fault": "nope"}, "Unknown fault 'nope'"),
    ({"fault": "latency", "value": math.nan}, "finite number"),
    ({"fault": "latency", "value": math.inf}, "finite number"),
    ({"fault": "latency", "value": -1}, "cannot be negative"),
    ({"fault": "bandwidth", "jitter": 5}, "Only a latency fault has a jitter"),
    ({"fault": "latency", "stream": "sideways"}, "downstream or upstream"),
    ({"fault": "latency", "toxicity": 1.5}, "share from 0 to 1"),
    ({"fault": "restart", "duration": 1e9}, "at most 3600 s"),
    ({"fault": "close_websockets", "value": 1006}, "not a close code a server may send"),
])
def test_a_spec_that_makes_no_sense_is_refused_with_one_sentence(fields, said):
    with pytest.raises(FaultError, match=said):
        FaultSpec(**fields)


def test_a_spec_says_itself_and_builds_what_the_lab_takes():
    latency = FaultSpec("latency", value=300, jitter=50, duration=2, every=5, span=60)
    assert latency.describe() == "Latency 300 ms ± 50 ms, downstream, toxicity 1, 2 s, every 5 s for 60 s"
    assert latency.times() == 12
    assert latency.toxic("t1") == {"name": "t1", "type": "latency", "stream": "downstream", "toxicity": 1.0,
                                   "attributes": {"latency": 300, "jitter": 50}}
    restart = FaultSpec("restart", duration=1.5)
    assert restart.server_action() == {"action": "restart", "down_s": 1.5}
    assert restart.marker({"ok": True}) == "server fault: restart (1.5 s down)"  # no value needed
    close = FaultSpec.of("close_websockets")
    assert close.server_action() == {"action": "close_websockets", "code": 1012}
    assert close.marker({"closed": 3}) == "server fault: close_websockets (code 1012): closed 3"
    with pytest.raises(FaultError):
        restart.toxic("x")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


async def test_the_schedule_applies_at_0_every_2_every_within_the_span():
    clock = Clock()
    applied: list[float] = []

    async def once(spec: FaultSpec) -> None:
        applied.append(clock.now)
        clock.now += 0.3  # applying takes time; the schedule does not drift by it

    n = await repeat(FaultSpec("end_streams", every=5, span=20), once, lambda _t: None, clock=clock,
                     sleep=clock.sleep)
    assert n == 4 and applied == [0.0, 5.0, 10.0, 15.0]


class FakeLab:
    """The admin API's proxy routes, as the lab answers them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict | None]] = []
        self.next_port = 40000

    async def __call__(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        self.calls.append((method, path, body))
        if method == "POST" and path == "/proxies":
            listen = body.get("listen") or f"127.0.0.1:{self.next_port}"
            self.next_port += 1
            return 201, {"name": body["name"], "listen": listen, "upstream": body["upstream"]}
        if method == "POST" and path.endswith("/toxics"):
            return 200, body
        return 204, None


async def test_a_proxy_fault_adds_its_toxic_for_its_duration_then_removes_it():
    lab, clock, marks = FakeLab(), Clock(), []
    await proxy_fault(lab, "tab-ws", FaultSpec("latency", value=200, duration=2), marks.append, sleep=clock.sleep)
    assert [(m, p) for m, p, _b in lab.calls] == [("POST", "/proxies/tab-ws/toxics"),
                                                 ("DELETE", f"/proxies/tab-ws/toxics/{lab.calls[0][2]['name']}")]
    assert clock.slept == [2] and marks[0].startswith("latency downstream 200") and marks[-1] == "latency removed"


async def test_the_route_follows_the_url_to_a_new_server_at_the_same_address():
    lab = FakeLab()
    route = FaultRoute("tab-ws")
    assert await route.open(lab, "ws://127.0.0.1:8001/ws") == "routed: 127.0.0.1:40000 → 127.0.0.1:8001"
    assert route.target("ws://127.0.0.1:8001/ws?after=3") == "ws://127.0.0.1:40000/ws?after=3"
    # another server: not through the old proxy (its upstream is the old server) until the route follows
    assert route.target("ws://127.0.0.1:9002/ws") == "ws://127.0.0.1:9002/ws"
    said = await route.follow(lab, "ws://127.0.0.1:9002/ws")
    assert said is not None and "now in front of 127.0.0.1:9002 (was 127.0.0.1:8001)" in said
    assert route.listen == "127.0.0.1:40000" and route.target("ws://127.0.0.1:9002/x") == "ws://127.0.0.1:40000/x"
    assert await route.follow(lab, "ws://127.0.0.1:9002/other") is None  # same server: nothing to do
    await route.close(lab)
    assert not route.routed and route.target("ws://127.0.0.1:9002/ws") == "ws://127.0.0.1:9002/ws"


async def test_a_route_the_lab_refuses_is_one_sentence():
    async def refuse(method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        return (409, {"error": "cannot listen"}) if method == "POST" else (204, None)

    route = FaultRoute("tab-ws")
    with pytest.raises(DuplexError, match="could not make a fault proxy to 127.0.0.1:8001: cannot listen"):
        await route.open(refuse, "ws://127.0.0.1:8001/ws")
    assert not route.routed
    with pytest.raises(DuplexError, match="Enter the tab's URL first"):
        await route.open(refuse, "")


@pytest.mark.parametrize("spec, attributes", [
    (FaultSpec("idle_timeout", value=1000), {"timeout": 1000}),
    (FaultSpec("block_upgrade"), {}),
    (FaultSpec("http_error", value=503), {"status": 503}),
    (FaultSpec("buffer", value=4096), {"bytes": 4096}),
])
def test_the_middlebox_faults_are_toxics_the_proxy_takes(spec, attributes):
    from transport.server.faultproxy import Toxic

    body = spec.toxic("t")
    assert body["attributes"] == attributes
    made = Toxic.from_json(body)  # the lab's proxy takes it as it is
    assert made.type == spec.fault


@pytest.mark.parametrize("spec, said", [
    (dict(fault="http_error", value=42), "42 is not an HTTP status"),
    (dict(fault="idle_timeout", value=0), "An idle timeout is more than 0 ms."),
])
def test_a_middlebox_fault_that_makes_no_sense_is_one_sentence(spec, said):
    with pytest.raises(FaultError) as err:
        FaultSpec(**spec)
    assert said in str(err.value)

