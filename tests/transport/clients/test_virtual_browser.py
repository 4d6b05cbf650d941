"""Virtual browsers and tabs: the shared jar, sessionStorage semantics, cookie lifetimes."""

from __future__ import annotations


from tests.helpers import ClientRun, wait_until
from transport.core.backoff import Policy
from transport.clients.virtual_browser import VirtualBrowser, origin
from transport.clients.http import WireCounter, new_session
from transport.clients.websocket import WebSocketClient, WebSocketOptions
from transport.server.keys import SESSIONS
from transport.server.sessions import COOKIE


def test_session_storage_is_per_tab_and_per_origin_and_survives_reload_not_close():
    browser = VirtualBrowser()
    tab = browser.new_tab()
    tab.session_storage("http://127.0.0.1:8000/a")["draft"] = "half a form"
    assert tab.session_storage("http://127.0.0.1:8000/other/path") == {"draft": "half a form"}
    assert tab.session_storage("http://127.0.0.1:8001/") == {}  # another port, another origin
    assert tab.session_storage("ws://127.0.0.1:8000/ws") == {"draft": "half a form"}  # ws maps onto http
    tab.reload()
    assert tab.session_storage("http://127.0.0.1:8000/") == {"draft": "half a form"}
    other = browser.new_tab()
    assert other.session_storage("http://127.0.0.1:8000/") == {}  # a new tab starts empty
    tab.close()
    assert tab.storage_items() == [] and browser.tabs == [other]


def test_origin_makes_default_ports_explicit():
    assert origin("https://example.com/x") == "https://example.com:443"
    assert origin("wss://example.com/ws") == "https://example.com:443"
    assert origin("http://127.0.0.1:9/") == "http://127.0.0.1:9"


async def test_closing_a_browser_drops_session_cookies_and_keeps_persistent_ones():
    browser = VirtualBrowser()
    browser.take_set_cookies(["sess=1; Path=/", "keep=2; Path=/; Max-Age=3600"], "http://127.0.0.1:8000/")
    assert {c.name: c.session for c in browser.cookies()} == {"sess": True, "keep": False}
    browser.close()
    assert [c.name for c in browser.cookies()] == ["keep"]
    assert browser.cookie_header("ws://127.0.0.1:8000/ws") == "keep=2"


async def test_expired_cookies_leave_the_jar_and_the_requests():
    browser = VirtualBrowser()
    browser.take_set_cookies(["gone=1; Path=/; Max-Age=0", "here=1; Path=/"], "http://127.0.0.1:8000/")
    assert [c.name for c in browser.cookies()] == ["here"]
    assert browser.cookie_header("http://127.0.0.1:8000/") == "here=1"


async def test_query_carrier_puts_the_id_in_the_url():
    browser = VirtualBrowser()
    browser.carrier, browser.sid = "query", "abc"
    assert browser.with_carrier("http://h:1/api/poll?after=3") == "http://h:1/api/poll?after=3&sid=abc"
    browser.forget_session()
    assert browser.with_carrier("http://h:1/x") == "http://h:1/x"


async def test_one_jar_serves_http_and_websocket_clients(lab_server):
    browser = VirtualBrowser()
    base = f"http://127.0.0.1:{lab_server.port}"
    async with new_session(WireCounter(), 5, jar=browser.jar) as http:
        async with http.post(base + "/session/login", json={"user": "ann"}) as resp:
            assert resp.status == 200
    sid = browser.session_id(base)
    assert sid and [c.name for c in browser.cookies()] == [COOKIE] and browser.cookies()[0].httponly
    run = ClientRun(lambda sink: WebSocketClient(WebSocketOptions(base.replace("http", "ws") + "/ws",
                                                                  policy=Policy("fixed", 0.05),
                                                                  browser=browser), sink))
    await wait_until(lambda: run.client.connected, 5, "open")
    opened = run.rows("open")[0]
    assert opened.meta["request_headers"]["Cookie"] == f"{COOKIE}={sid}"
    assert lab_server.app[SESSIONS].lookup(sid)[0].requests >= 1  # the server saw the session on /ws
    await run.stop()


async def test_a_second_browser_is_another_user(lab_server):
    base = f"http://127.0.0.1:{lab_server.port}"
    users = []
    for name in ("ann", "bob"):
        browser = VirtualBrowser()
        async with new_session(WireCounter(), 5, jar=browser.jar) as http:
            await (await http.post(base + "/session/login", json={"user": name})).read()
            async with http.get(base + "/session/me") as me:
                users.append((await me.json())["user"])
    assert users == ["ann", "bob"] and len(lab_server.app[SESSIONS]) == 2


async def test_editing_a_cookie_keeps_it_one_cookie_with_its_path_and_flags():
    from transport.clients.virtual_browser import VirtualBrowser

    b = VirtualBrowser()
    b.take_set_cookies(["s=1; Path=/; HttpOnly; SameSite=Lax", "t=2; Path=/api"], "http://127.0.0.1:8080/api/x")
    assert b.edit_cookie("s", "127.0.0.1", "/", "9")
    assert b.edit_cookie("t", "127.0.0.1", "/api", "8")
    assert not b.edit_cookie("gone", "127.0.0.1", "/", "x")
    views = sorted(b.cookies(), key=lambda c: c.name)
    assert [(c.name, c.value, c.path, c.httponly, c.samesite) for c in views] == [
        ("s", "9", "/", True, "Lax"), ("t", "8", "/api", False, "")]
    assert b.cookie_header("http://127.0.0.1:8080/api/poll") in ("t=8; s=9", "s=9; t=8")
    assert b.cookie_header("http://127.0.0.1:8080/other") == "s=9"
