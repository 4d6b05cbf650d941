"""The session store with an injected clock, and the session endpoints on every transport."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.helpers import wait_until
from transport.server import ServerConfig, create_app
from transport.server.keys import CONFIG, HOLDS, SESSIONS
from transport.server.sessions import COOKIE, SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the pure store -----------------------------------------------------------------------
def test_ids_are_long_random_and_new_at_every_login():
    store = SessionStore(clock=Clock())
    a, b = store.login("ann"), store.login("ann")
    assert a.sid != b.sid and len(a.sid) >= 43  # 32 random bytes, urlsafe base64
    assert store.lookup(a.sid)[0] is a and len(store) == 2


def test_idle_expiry_and_renewal_by_user_actions_only():
    clock = Clock()
    store = SessionStore(idle=60, absolute=900, renew_background=False, clock=clock)
    s = store.login("ann")
    clock.now += 50
    assert store.touch(s, background=True) is False  # a poll does not renew
    clock.now += 11
    assert store.lookup(s.sid) == (None, "expired")
    assert store.lookup(s.sid) == (None, "expired")  # remembered: not "unknown"
    assert store.lookup("never-issued") == (None, "unknown")
    assert [e.kind for e in store.events] == ["created", "expired"] and "idle" in store.events[-1].reason


def test_background_renewal_keeps_a_session_alive_until_the_absolute_timeout():
    clock = Clock()
    store = SessionStore(idle=60, absolute=300, renew_background=True, clock=clock)
    s = store.login("ann")
    for _ in range(4):  # a poller every 59 s keeps it alive…
        clock.now += 59
        assert store.touch(s, background=True) and store.lookup(s.sid)[0] is s
    clock.now += 65  # …until the absolute limit
    assert store.sweep() == [s] and "absolute" in store.events[-1].reason


def test_logout_and_expire_all():
    store = SessionStore(clock=Clock())
    a, b = store.login("a"), store.login("b")
    assert store.logout(a.sid) and not store.logout(a.sid)
    assert store.expire_all() == [b] and len(store) == 0


def test_describe_counts_down():
    clock = Clock()
    store = SessionStore(idle=60, absolute=900, clock=clock)
    s = store.login("ann")
    clock.now += 20
    d = store.describe(s)
    assert (d["user"], d["idle_expires_in"], d["absolute_expires_in"]) == ("ann", 40, 880)


# -- the endpoints -------------------------------------------------------------------------
@pytest.fixture
async def client():
    app = create_app(ServerConfig(rate=0, session_idle=30, sse_heartbeat=0.05))
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        yield c


async def login(c, user="ann", **extra):
    resp = await c.post("/session/login", json={"user": user, **extra})
    assert resp.status == 200
    return resp


async def test_login_sets_a_safe_session_cookie_and_me_shows_the_session(client):
    resp = await login(client)
    cookie = resp.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    assert not cookie["secure"] and not cookie["max-age"] and not cookie["expires"]  # a session cookie over http
    assert "sid" not in await resp.json()  # the HttpOnly id is not handed to scripts
    me = await (await client.get("/session/me")).json()
    assert me["user"] == "ann" and 0 < me["idle_expires_in"] <= 30 and me["absolute_expires_in"] > 800


async def test_form_login_and_logout(client):
    resp = await client.post("/session/login", data={"user": "bob"})
    assert (await resp.json())["user"] == "bob"
    out = await client.post("/session/logout")
    assert (await out.json())["ended"] is True
    me = await client.get("/session/me")
    assert me.status == 401 and (await me.json())["reason"] == "none"


async def test_a_presented_id_is_never_adopted(client):
    client.session.cookie_jar.update_cookies({COOKIE: "attacker-chosen-id"})
    resp = await client.post("/session/login", json={"user": "victim"})
    assert resp.cookies[COOKIE].value != "attacker-chosen-id"
    first = resp.cookies[COOKIE].value
    again = await login(client, "victim")  # logging in again rotates, the old id is dead
    assert again.cookies[COOKIE].value != first
    assert client.server.app[SESSIONS].lookup(first) == (None, "ended")


async def test_bad_login_bodies(client):
    assert (await client.post("/session/login", json={"user": ""})).status == 400
    assert (await client.post("/session/login", json={"name": "x"})).status == 400
    assert (await client.post("/session/login", data=b"{", headers={"Content-Type": "application/json"})).status == 400


@pytest.mark.parametrize("path", ["/api/poll", "/api/longpoll?after=0&timeout=0", "/api/stream", "/sse",
                                  "/api/session-value", "/form", "/session/me"])
async def test_unknown_or_expired_id_gets_401_on_every_http_endpoint(client, path):
    resp = await client.get(path, headers={"Cookie": f"{COOKIE}=no-such-session"})
    assert resp.status == 401 and (await resp.json())["reason"] == "unknown"


async def test_expired_id_gets_401_on_the_websocket_handshake(client):
    resp = await login(client)
    sid = resp.cookies[COOKIE].value
    client.server.app[SESSIONS].expire_all()
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/ws", headers={"Cookie": f"{COOKIE}={sid}"})
    assert info.value.status == 401


async def test_query_carrier(client):
    resp = await login(client, carrier="query")
    sid = (await resp.json())["sid"]
    client.session.cookie_jar.clear()
    me = await client.get(f"/session/me?sid={sid}")
    assert (await me.json())["user"] == "ann"


async def test_session_value_is_per_session_and_anonymous_without_one(client):
    await client.post("/api/session-value", json={"value": "anon"})
    await login(client)
    frag = await (await client.post("/api/session-value", json={"value": "mine"})).text()
    assert ">mine<" in frag
    assert (await (await client.get("/session/me")).json())["values"] == {"value": "mine"}
    page = await (await client.get("/form")).text()
    assert 'name="value" value="mine"' in page
    client.session.cookie_jar.clear()
    assert ">anon<" in await (await client.get("/api/session-value")).text()


async def test_expiry_ends_websocket_sse_stream_and_long_poll(client):
    resp = await login(client)
    sid = resp.cookies[COOKIE].value
    cookie = {"Cookie": f"{COOKIE}={sid}"}
    ws = await client.ws_connect("/ws", headers=cookie)
    sse = await client.get("/sse", headers=cookie)
    stream = await client.get("/api/stream", headers=cookie)
    poll = asyncio.ensure_future(client.get("/api/longpoll?after=0&timeout=60", headers=cookie))
    app = client.server.app
    await wait_until(lambda: app[HOLDS] and len(app[HOLDS]) >= 2, 5, "stream and long poll held")
    token = app[CONFIG].admin_token
    ack = await client.post("/_admin/faults", json={"action": "expire_sessions"},
                            headers={"Authorization": f"Bearer {token}"})
    assert (await ack.json())["expired"] == 1
    msg = await ws.receive(timeout=5)
    while msg.type == aiohttp.WSMsgType.TEXT:  # the live marker first
        msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1008 and msg.extra == "session expired"
    async with asyncio.timeout(5):
        body = await sse.content.read()
    assert b"event: session" in body and sse.content.at_eof()
    async with asyncio.timeout(5):
        await stream.content.read()
    assert stream.content.at_eof()
    assert await (await asyncio.wait_for(poll, 5)).json() == []
    assert (await client.get("/api/poll", headers=cookie)).status == 401


async def test_admin_sessions_view_needs_the_token(client):
    await login(client)
    assert (await client.get("/_admin/sessions")).status == 401
    token = client.server.app[CONFIG].admin_token
    view = await (await client.get("/_admin/sessions", headers={"Authorization": f"Bearer {token}"})).json()
    assert view["idle"] == 30 and [s["user"] for s in view["sessions"]] == ["ann"]
    assert len(view["sessions"][0]["sid_prefix"]) == 8 and view["events"][0]["kind"] == "created"


async def test_background_traffic_does_not_renew_by_default(client):
    store = client.server.app[SESSIONS]
    await login(client)
    session = next(iter(store._sessions.values()))
    seen = session.last_seen
    await client.get("/api/poll")
    assert session.last_seen == seen and session.requests == 1
    await client.get("/api/session-value")
    assert session.last_seen > seen




async def test_a_request_that_finds_the_session_expired_also_ends_its_connections():
    clock = Clock()
    app = create_app(ServerConfig(rate=0, session_idle=30))
    app[SESSIONS] = SessionStore(idle=30, absolute=900, clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        resp = await login(c)
        cookie = {"Cookie": f"{COOKIE}={resp.cookies[COOKIE].value}"}
        ws = await c.ws_connect("/ws", headers=cookie)
        clock.now += 31  # expired; the request below finds it before any sweep can
        assert (await c.get("/api/poll", headers=cookie)).status == 401
        msg = await ws.receive(timeout=5)
        while msg.type == aiohttp.WSMsgType.TEXT:
            msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1008


async def test_session_settings_change_renewal_and_timeouts_at_runtime(client):
    token = client.server.app[CONFIG].admin_token
    auth = {"Authorization": f"Bearer {token}"}
    ack = await (await client.post("/_admin/settings", json={"renew": "all", "idle": 5}, headers=auth)).json()
    assert (ack["renew"], ack["idle"]) == ("all", 5)
    store = client.server.app[SESSIONS]
    assert store.renew_background and store.idle == 5
    bad = await client.post("/_admin/settings", json={"renew": "sometimes"}, headers=auth)
    assert bad.status == 400 and (await bad.json())["error"] == 'renew must be "user" or "all"'
    # the name earlier releases used, as a fault action: the same setting
    old = await (await client.post("/_admin/faults", json={"action": "session_settings", "idle": 7},
                                   headers=auth)).json()
    assert old["idle"] == 7 == store.idle


async def test_logins_past_the_lab_s_bound_are_a_503_with_the_reason_and_a_logout_makes_room():
    app = create_app(ServerConfig(rate=0))
    app[SESSIONS].max_sessions = 3
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        cookies = []
        for user in ("a", "b", "c"):
            resp = await c.post("/session/login", json={"user": user})
            assert resp.status == 200
            cookies.append(resp.cookies[COOKIE].value)
            c.session.cookie_jar.clear()
        resp = await c.post("/session/login", json={"user": "d"})
        assert resp.status == 503 and "3 live sessions already" in (await resp.json())["error"]
        assert (await c.post("/session/logout", cookies={COOKIE: cookies[0]})).status == 200
        c.session.cookie_jar.clear()
        assert (await c.post("/session/login", json={"user": "d"})).status == 200
