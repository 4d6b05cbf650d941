"""The lab's Socket.IO against clients that do not play by the rules (issue 27): every one of them gets a
bound, a 4xx or an ack with a reason, and the lab's memory and descriptors stay where they were."""

from __future__ import annotations

import asyncio
import json
import os

import aiohttp
import websockets
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import start_lab, wait_until


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def handshake(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url + "/socket.io/?EIO=4&transport=polling") as r:
        sid = json.loads((await r.text())[1:])["sid"]
    async with http.post(url + f"/socket.io/?EIO=4&transport=polling&sid={sid}", data="40") as r:
        assert r.status == 200
    return sid


async def test_clients_that_never_poll_are_cut_at_the_per_client_bound_not_kept_forever():
    lab = start_lab("--history-bytes", str(2 << 20), rate=0)
    try:
        async with aiohttp.ClientSession(headers={"Origin": lab.url}) as http:
            sids = [await handshake(http, lab.url) for _ in range(4)]
            before = rss_mb(lab.proc.pid)
            body = "x" * ((1 << 20) - 200)
            for _ in range(40):  # 40 MiB for each of the four: 160 MiB if nothing bounded it
                async with http.post(lab.url + "/api/messages", json={"topic": "big", "body": body}) as r:
                    assert r.status in (200, 201), await r.text()
            grew = rss_mb(lab.proc.pid) - before
            for sid in sids:  # each was disconnected: its session is over, said with a 400
                async with http.get(lab.url + f"/socket.io/?EIO=4&transport=polling&sid={sid}") as r:
                    assert r.status == 400, (r.status, (await r.text())[:200])
        assert grew < 110, f"the lab grew {grew:.0f} MB for four clients that never poll"
    finally:
        lab.stop()


async def test_an_attachment_count_bomb_ends_its_client_and_a_noop_post_pins_nothing():
    lab = start_lab(rate=0)
    try:
        ws_url = lab.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
        async with websockets.connect(ws_url, origin=lab.url) as ws:
            assert (await ws.recv()).startswith("0{")
            await ws.send("40")
            assert (await ws.recv()).startswith("40")
            await ws.send('459999999999-["upload",{"_placeholder":true,"num":0}]')
            try:
                for _ in range(50):
                    await ws.send(b"\x00" * (1 << 20))
                await asyncio.wait_for(ws.wait_closed(), 5)
            except websockets.ConnectionClosed:
                pass
            assert ws.close_code is not None
        rss = rss_mb(lab.proc.pid)
        assert rss < 250, f"{rss:.0f} MB after the bomb"
        async with aiohttp.ClientSession(headers={"Origin": lab.url}) as http:
            before = fds(lab.proc.pid)
            for _ in range(3):
                sid = await handshake(http, lab.url)
                for _ in range(10):
                    async with http.post(lab.url + f"/socket.io/?EIO=4&transport=polling&sid={sid}", data="6",
                                         timeout=aiohttp.ClientTimeout(total=5)) as r:
                        assert r.status == 400, r.status
            await wait_until(lambda: fds(lab.proc.pid) <= before + 2, 5,
                             f"the lab's descriptors back near {before} (now {fds(lab.proc.pid)})")
    finally:
        lab.stop()


async def test_an_emit_is_checked_as_a_posted_message_and_always_acked():
    lab = start_lab(rate=0)
    try:
        async with aiohttp.ClientSession(headers={"Origin": lab.url}) as http:
            sid = await handshake(http, lab.url)
            url = lab.url + f"/socket.io/?EIO=4&transport=polling&sid={sid}"
            deep = "[" * 500 + "1" + "]" * 500
            for ack, arg in enumerate((deep, '{"price": NaN}', '{"fine": 1}')):
                async with http.post(url, data=f'42{ack}["chat",{arg}]') as r:
                    assert r.status == 200
            answers: dict[int, dict] = {}
            for _ in range(10):
                if len(answers) == 3:
                    break
                async with http.get(url) as r:
                    for packet in (await r.text()).split("\x1e"):
                        if packet.startswith("43"):
                            n = packet.index("[")
                            answers[int(packet[2:n])] = json.loads(packet[n:])[0]
        assert answers[0]["ok"] is False and "nests deeper than" in answers[0]["error"]
        assert answers[1]["ok"] is False and "only finite numbers" in answers[1]["error"]
        assert answers[2]["ok"] is True and answers[2]["seq"] >= 1
    finally:
        lab.stop()


_eio = st.one_of(
    st.sampled_from(["40", "41", "2", "3", "5", "6", "1", "7", "0", "4", "9x", "", "40/nope,", "42[]", "42{}",
                     '42["chat",NaN]', '420["chat",{"a":1}]', "451-[\"f\",{\"_placeholder\":true,\"num\":0}]",
                     "4599999-[]", "b" + "AAEC", "bnot-base64!", '43[1]', '44{"message":"x"}']),
    st.builds(lambda n: "42" + "[" * n + "]" * n, st.integers(0, 1200)),
    st.text(max_size=30),
)


@given(packets=st.lists(st.lists(_eio, min_size=1, max_size=4), min_size=1, max_size=5))
@settings(max_examples=40, deadline=None)
def test_any_engineio_packets_get_an_answer_never_a_500_and_nothing_is_kept(packets):
    """Hypothesis: any POSTed polling payloads on a session, then a poll: every answer a 200 or a 4xx, and
    what the lab keeps for sessions stays bounded (no attachment waiting, no session left behind)."""
    from aiohttp.test_utils import TestClient, TestServer

    from transport.server import ServerConfig, create_app
    from transport.server.keys import SOCKETIO

    async def go() -> list[int]:
        app = create_app(ServerConfig(rate=0))
        statuses = []
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
            resp = await c.get("/socket.io/?EIO=4&transport=polling")
            sid = json.loads((await resp.text())[1:])["sid"]
            url = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
            for payload in [["40"], *packets]:  # connected first: the closing poll has its answer waiting
                resp = await c.post(url, data="\x1e".join(payload), timeout=aiohttp.ClientTimeout(total=5))
                statuses.append(resp.status)
                await resp.read()
            resp = await c.get(url, timeout=aiohttp.ClientTimeout(total=5))
            statuses.append(resp.status)
            await resp.read()
            sio = app[SOCKETIO]
            assert len(sio._binary_packet) <= 1 and len(sio.eio.sockets) <= 1
        return statuses

    statuses = asyncio.new_event_loop().run_until_complete(go())
    assert all(s < 500 for s in statuses), statuses
