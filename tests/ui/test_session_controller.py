"""The session and browsers controllers without a window: real tab controllers (their SSE clients on the
lab app in this process) in virtual browsers; log in, out, expiry as the user chose, moving a tab to another
browser, closing a browser."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import wait_until
from transport.core.events import Event
from transport.clients.lab_admin import post_fault
from transport.clients.registry import TRANSPORTS
from transport.server.keys import CONFIG
from transport.server.sessions import COOKIE
from ui.controllers.browsers import BrowsersController
from ui.controllers.tab import TabController


class Tabs:
    """Two SSE tab controllers in one virtual browser, their rows, reports and the signals they sent."""

    def __init__(self, lab_url: str, token: str) -> None:
        self.rows: list[Event] = []
        self.reported: list[str] = []
        self.asked: list[str] = []
        self.tabs = [TabController(TRANSPORTS["sse"], self.rows.append) for _ in range(2)]
        for tab in self.tabs:
            tab.set_lab(lab_url, token)
            tab.statusMessage.connect(self.reported.append)
            tab.loginAsked.connect(self.asked.append)
        self.browsers = BrowsersController(self.tabs)
        self.url = f"{lab_url}/sse"

    def session_rows(self, text: str) -> list[str]:
        return [e.data for e in self.rows if e.kind == "session" and text in str(e.data)]

    def open(self) -> None:
        for tab in self.tabs:
            tab.open_client(self.url)

    def all_open(self) -> bool:
        return all(t.client is not None and t.client.connected for t in self.tabs)

    async def close(self) -> None:
        for tab in self.tabs:
            await tab.shutdown()


@pytest.fixture
async def tabs(lab_server) -> Any:
    made = Tabs(f"http://127.0.0.1:{lab_server.port}", lab_server.app[CONFIG].admin_token)
    yield made
    await made.close()


async def test_logging_in_sets_the_cookie_for_the_browser_and_its_tabs_reconnect_with_it(tabs):
    tabs.open()
    await wait_until(tabs.all_open, 10, "both tabs open", state=lambda: tabs.reported)
    first, second = tabs.tabs
    first.session.login("ann")
    browser = first.browser
    assert browser is not None and second.browser is browser
    await wait_until(lambda: browser.session_id(tabs.url) is not None, 10, "the session cookie",
                     state=lambda: tabs.reported)
    [cookie] = browser.cookies()
    assert cookie.name == COOKIE and cookie.httponly
    assert tabs.session_rows("logged in as ann in Browser 1")
    # every tab of that browser reloads so that its connection carries the session
    await wait_until(lambda: len(tabs.session_rows("tab reloaded")) == 2 and tabs.all_open(), 10,
                     "both tabs reloaded and open again", state=lambda: tabs.session_rows(""))
    first.session.logout()
    await wait_until(lambda: tabs.session_rows("logged out of Browser 1"), 10, "the logout row",
                     state=lambda: tabs.reported)
    assert browser.session_id(tabs.url) is None and not browser.cookies()


async def test_a_login_the_server_refuses_is_one_sentence_and_changes_nothing(tabs, serve):
    from aiohttp import web

    async def refuse(_request: web.Request) -> web.Response:
        return web.json_response({"error": "no such user"}, status=403)

    other = await serve(web.post("/session/login", refuse))
    tab = tabs.tabs[0]
    tab.url = other + "/sse"  # the tab's session lives on the origin of its URL
    tab.session.login("bob")
    await wait_until(lambda: any(r.startswith("Log in failed:") for r in tabs.reported), 10, "the sentence",
                     state=lambda: tabs.reported)
    [said] = [r for r in tabs.reported if r.startswith("Log in failed:")]
    assert "\n" not in said and "403" in said
    assert tab.browser is not None and not tab.browser.cookies() and not tabs.session_rows("logged in")


async def test_an_expired_session_asks_to_log_in_again_and_the_tab_stops(tabs, lab_server):
    tabs.open()
    await wait_until(tabs.all_open, 10, "both tabs open", state=lambda: tabs.reported)
    first = tabs.tabs[0]
    first.session.login("ann")
    await wait_until(lambda: len(tabs.session_rows("tab reloaded")) == 2 and tabs.all_open(), 10,
                     "both tabs reopened with the session", state=lambda: tabs.session_rows(""))
    await post_fault(tabs.tabs[0].lab_url, tabs.tabs[0].lab_token, {"action": "expire_sessions"})
    await wait_until(lambda: len(tabs.asked) >= 1 and all(t.client is None for t in tabs.tabs), 15,
                     "asked to log in again, the tabs stopped",
                     state=lambda: (tabs.asked, [t.client for t in tabs.tabs], tabs.reported))
    assert "expired" in tabs.asked[0] and "Log in again" in tabs.asked[0]


async def test_an_expired_session_goes_on_as_anonymous_when_chosen(tabs):
    tabs.open()
    await wait_until(tabs.all_open, 10, "both tabs open", state=lambda: tabs.reported)
    first = tabs.tabs[0]
    assert first.browser is not None
    first.browser.on_expiry = "anonymous"
    first.session.login("ann")
    await wait_until(lambda: len(tabs.session_rows("tab reloaded")) == 2 and tabs.all_open(), 10,
                     "both tabs reopened with the session", state=lambda: tabs.session_rows(""))
    await post_fault(first.lab_url, first.lab_token, {"action": "expire_sessions"})
    await wait_until(lambda: tabs.session_rows("going on as anonymous") and tabs.all_open()
                     and first.browser is not None and first.browser.session_id(tabs.url) is None, 15,
                     "both tabs open again, anonymous", state=lambda: (tabs.session_rows(""), tabs.reported))
    assert not tabs.asked


async def test_a_tab_moved_to_a_new_browser_has_its_own_cookies_and_closing_a_browser_drops_its_session(tabs):
    tabs.open()
    await wait_until(tabs.all_open, 10, "both tabs open", state=lambda: tabs.reported)
    first, second = tabs.tabs
    first.session.login("ann")
    await wait_until(lambda: first.browser is not None and first.browser.session_id(tabs.url), 10, "logged in")
    tabs.browsers.move(second, -1)
    assert [b.name for b in tabs.browsers.browsers] == ["Browser 1", "Browser 2"]
    assert second.browser is tabs.browsers.browsers[1] and second.browser.session_id(tabs.url) is None
    assert tabs.session_rows("now in Browser 2")
    browser = first.browser
    assert browser is not None
    tabs.browsers.close(browser)
    assert browser.session_id(tabs.url) is None  # the session cookie went with the browser
    assert tabs.session_rows("Browser 1 closed and reopened")
    await wait_until(tabs.all_open, 10, "both tabs open again", state=lambda: tabs.reported)
