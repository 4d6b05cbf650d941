"""Sessions as a user sees them: log in, the shared jar, expiry on open connections, storage, browsers."""

from __future__ import annotations

from tests.helpers import wait_until
from transport.clients.lab_admin import post_fault
from transport.server.sessions import COOKIE


def rows(tab, kind):
    return [e for e in tab.timeline.model.events() if e.kind == kind]


def reopened(tab) -> bool:
    """The tab's connection opened again after its last reload (so it carries the session)."""
    events = tab.timeline.model.events()
    reloads = [i for i, e in enumerate(events) if e.kind == "session" and "reloaded" in e.data]
    opens = [i for i, e in enumerate(events) if e.kind == "open"]
    return bool(reloads and opens and opens[-1] > reloads[-1] and tab.controller.client is not None)


async def logged_in(window, tab, user="ann"):
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "open")
    tab.session.user.setText(user)
    tab.session.login_button.click()
    await wait_until(lambda: tab.controller.browser.session_id(window.lab.url) is not None, 10, "the session cookie")


async def test_login_shares_the_cookie_with_every_tab_including_the_websocket(window):
    await logged_in(window, window.sse_tab)
    browser = window.sse_tab.controller.browser
    assert all(t.controller.browser is browser for t in window.transport_tabs)
    [cookie] = browser.cookies()
    assert cookie.name == COOKIE and cookie.httponly and cookie.samesite == "Lax" and cookie.session
    ws = window.ws_tab
    await wait_until(lambda: any(COOKIE in e.meta.get("request_headers", {}).get("Cookie", "")
                                 for e in rows(ws, "open")), 15, "a WebSocket handshake with the cookie")
    assert any("logged in as ann" in e.data for e in rows(window.sse_tab, "session"))
    window.tabs.setCurrentWidget(window.sse_tab)
    panel = window.sse_tab.session
    await wait_until(lambda: "ann" in panel.who.text() and "idle" in panel.countdown.text(), 10, "the countdown")
    assert panel.cookies.rowCount() == 1 and panel.cookies.item(0, 0).text() == COOKIE
    assert panel.server.rowCount() == 1 and panel.server.item(0, 0).text() == "ann"


async def test_expiry_ends_open_connections_and_asks_to_log_in_again(window):
    await logged_in(window, window.sse_tab)
    ws, sse = window.ws_tab, window.sse_tab
    await wait_until(lambda: reopened(ws) and reopened(sse) and ws.controller.client.connected and sse.controller.client.connected, 15,
                     "the tabs reopened with the session")
    await post_fault(window.lab.url, window.lab.token, {"action": "expire_sessions"})
    await wait_until(lambda: any(e.meta.get("code") == 1008 for e in rows(ws, "close")), 10, "1008 on the WebSocket")
    await wait_until(lambda: any(e.meta.get("type") == "session" for e in rows(sse, "message")), 10,
                     "the SSE stream saying why it ends")
    for tab in (ws, sse):
        await wait_until(lambda tab=tab: any("log in again" in e.data for e in rows(tab, "session")), 15,
                         f"{tab.title}: asked to log in again")
        assert tab.controller.client is None and "failed" in tab.bar.light.text()
    assert all("log in again" in tab.status.text() for tab in (ws, sse))  # each tab says it on its own line
    for tab in (ws, sse):  # and asks, without a dialog: a banner on each affected tab
        assert not tab.banner.isHidden() and "expired" in tab.banner.text.text()
    ws.banner.login_button.click()
    await wait_until(lambda: all(t.controller.client is not None and t.controller.client.connected for t in (ws, sse)),
                     15, "both tabs going on after logging in again")
    await wait_until(lambda: ws.banner.isHidden() and sse.banner.isHidden(), 5, "the banners gone")


async def test_expiry_can_go_on_as_anonymous(window):
    await logged_in(window, window.long_poll_tab)
    tab = window.long_poll_tab
    tab.session.on_expiry.setCurrentIndex(tab.session.on_expiry.findData("anonymous"))
    tab.session.on_expiry.activated.emit(tab.session.on_expiry.currentIndex())
    assert tab.controller.browser.on_expiry == "anonymous"
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "reopened")
    await post_fault(window.lab.url, window.lab.token, {"action": "expire_sessions"})
    # the first tab of the browser to get the 401 goes on as anonymous; the others reload saying so
    await wait_until(lambda: any("anonymous" in e.data for e in rows(tab, "session")), 15, "anonymous again")
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "polling again")
    assert tab.controller.browser.session_id(window.lab.url) is None


async def test_query_carrier_marks_every_logged_url_with_the_id(window):
    tab = window.short_poll_tab
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "open")
    tab.session.carrier.setCurrentIndex(tab.session.carrier.findData("query"))
    tab.session.carrierChanged.emit("query")
    await logged_in(window, tab)
    sid = tab.controller.browser.sid
    await wait_until(lambda: any(sid in e.data for e in rows(tab, "request")), 10, "a request carrying ?sid=")
    model = tab.timeline.model
    leaked = next(e for e in rows(tab, "request") if sid in e.data)
    row = model.events().index(leaked)
    from PySide6.QtCore import Qt

    from ui.models.timeline_model import PAYLOAD
    assert model.data(model.index(row, PAYLOAD), Qt.ItemDataRole.BackgroundRole) is not None
    assert "session id" in model.data(model.index(row, PAYLOAD), Qt.ItemDataRole.ToolTipRole)


async def test_session_storage_survives_reload_and_not_close_and_a_new_browser_has_no_cookies(window):
    tab = window.ajax_tab
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "ready")
    window.tabs.setCurrentWidget(tab)
    panel = tab.session
    panel.add_item.click()
    assert panel.storage.rowCount() == 1
    panel.storage.item(0, 1).setText("draft text")
    assert tab.controller.vtab.session_storage(window.lab.url) == {"key1": "draft text"}
    panel.reload_button.click()
    assert tab.controller.vtab.session_storage(window.lab.url) == {"key1": "draft text"}
    first = tab.controller.vtab
    panel.close_button.click()
    assert tab.controller.vtab is not first and tab.controller.vtab.session_storage(window.lab.url) == {}
    await logged_in(window, window.sse_tab)
    panel.browserChosen.emit(-1)  # New browser
    assert tab.controller.browser is window.browsers[1] and tab.controller.browser.cookies() == []
    assert window.sse_tab.controller.browser.cookies()  # the first browser keeps its session


async def test_renewal_policy_from_the_panel_and_closing_a_browser_drops_its_session_cookie(window):
    from transport.clients.lab_admin import lab_sessions

    tab = window.stream_tab
    await logged_in(window, tab)
    panel = tab.session
    panel.renew.setCurrentIndex(panel.renew.findData("all"))
    panel.renew.activated.emit(panel.renew.currentIndex())
    await wait_until(lambda: "all traffic renew" in tab.status.text(), 10, "the lab's answer")
    assert (await lab_sessions(window.lab.url, window.lab.token))["renew_background"] is True
    await wait_until(lambda: any("server: session of ann created" in e.data for e in rows(tab, "session")), 10,
                     "the server's session event in the timeline")
    created = lambda: [e for e in rows(tab, "session") if "created" in e.data]  # noqa: E731
    fetched = window.monitor._events_seen
    await wait_until(lambda: window.monitor._events_seen == fetched and window.monitor._fetching, 10, "another fetch")
    await wait_until(lambda: not window.monitor._fetching, 10, "that fetch done")
    assert len(created()) == 1  # each server event once, however often the view is fetched
    browser = tab.controller.browser
    panel.close_browser.click()
    assert browser.cookies() == [] and browser.session_id(window.lab.url) is None
    await wait_until(lambda: any("closed and reopened" in e.data for e in rows(tab, "session")), 5, "the row")


async def test_editing_a_cookies_value_changes_that_cookie_in_place_and_says_what_is_sent(window):
    """The value cell edited: still one cookie (same name, domain and path, its flags kept), the polls and the
    stream send the new value, and the status line says what a request now carries."""
    tab = window.sse_tab
    await logged_in(window, tab)
    window.tabs.setCurrentWidget(tab)
    panel = tab.session
    await wait_until(lambda: panel.cookies.rowCount() == 1, 10, "the cookie row")
    panel.cookies.item(0, 1).setText("edited-by-hand")
    [cookie] = tab.controller.browser.cookies()
    assert (cookie.name, cookie.value, cookie.path) == (COOKIE, "edited-by-hand", "/") and cookie.httponly
    assert cookie.samesite == "Lax"
    assert tab.controller.browser.cookie_header(window.lab.url + "/api/poll") == f"{COOKIE}=edited-by-hand"
    await wait_until(lambda: "changed in place" in tab.status.text(), 5, "the status line",
                     state=lambda: tab.status.text())
    assert f"Cookie: {COOKIE}=edited-by-hand" in tab.status.text()


async def test_the_labs_idle_timeout_set_in_one_tab_shows_in_every_tab(window):
    """One value, one place: the lab's session settings, set from the SSE tab, are what every tab's panel
    shows after the next view of the lab (the tabs not shown included)."""
    sse = window.sse_tab
    window.tabs.setCurrentWidget(sse)
    sse.session.idle.setValue(900)
    sse.session.idle.editingFinished.emit()
    await wait_until(lambda: all(t.session.idle.value() == 900 for t in window.transport_tabs), 10,
                     "every tab's panel", state=lambda: [t.session.idle.value() for t in window.transport_tabs])
    window.commands.set_theme("dark")
    window.commands.set_theme("light")
    assert sse.session.idle.value() == 900
