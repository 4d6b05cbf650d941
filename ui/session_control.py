"""What the session panel does for a transport tab: log in and out, carrier, the lab's
renewal settings, closing the virtual tab, and the reaction to an expired session.

Login and logout go to the origin of the tab's URL (``/session/…``) with the
virtual browser's cookies; every tab of that browser then reloads (the tab
emits ``sessionChanged``). A 401 on a tab's connection is the session
expiring: the tab asks to log in again or goes on as anonymous, as chosen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from transport.browser import origin
from transport.clients.session_api import session_request
from transport.errors import DuplexError
from transport.lab_admin import post_fault

if TYPE_CHECKING:
    from .transport_tab import TransportTab


class SessionControl:
    def __init__(self, tab: "TransportTab") -> None:
        self.tab = tab
        panel = tab.session
        panel.loginRequested.connect(self._on_login_requested)
        panel.logoutRequested.connect(self._on_logout_requested)
        panel.reloadRequested.connect(tab.reload)
        panel.closeTabRequested.connect(self._on_close_tab_requested)
        panel.carrierChanged.connect(self._on_carrier_changed)
        panel.serverSettingsRequested.connect(self._on_server_settings_requested)

    def base(self) -> str:
        """The origin the tab's session lives on (ws:// URLs map to http://)."""
        url = self.tab.bar.url_text() or self.tab.lab_url_here() or ""
        return origin(url) if url else ""

    # -- panel actions ------------------------------------------------------------------
    def _on_close_tab_requested(self) -> None:
        tab = self.tab
        vtab = tab.vtab
        if vtab is None:
            return
        browser = vtab.browser
        vtab.close()
        tab.state_row("session", "tab closed: its sessionStorage is gone; a new tab opens with the browser's cookies")
        tab.vtab = browser.new_tab()
        tab.tabMoved.emit()
        tab.reopen()

    def _on_carrier_changed(self, carrier: str) -> None:
        browser = self.tab.browser
        if browser is None:
            return
        browser.carrier = carrier
        self.tab.report(f"Session carrier: {carrier}. Log in again so the id travels that way.")

    def _on_server_settings_requested(self, settings: dict) -> None:
        tab = self.tab
        if not tab.lab_url:
            tab.report("The lab server is not running.")
            return

        async def apply() -> None:
            answer = await post_fault(tab.lab_url, tab.lab_token, {"action": "session_settings", **settings})
            tab.report(f"Lab sessions: {'all traffic' if answer.get('renew') == 'all' else 'only user actions'} "
                       f"renew; idle timeout {answer.get('idle', 0):g} s.")

        tab.spawn(apply())

    def _on_login_requested(self, user: str) -> None:
        if self.tab.browser is not None:
            self.tab.spawn(self._login(user))

    def _on_logout_requested(self) -> None:
        if self.tab.browser is not None:
            self.tab.spawn(self._logout())

    async def _login(self, user: str) -> None:
        tab, browser = self.tab, self.tab.browser
        assert browser is not None
        body = {"user": user, **({"carrier": "query"} if browser.carrier == "query" else {})}
        try:
            answer = await session_request(browser, self.base() + "/session/login", body)
        except DuplexError as err:
            tab.report(f"Log in failed: {err.sentence}")
            return
        browser.sid = answer.get("sid") if browser.carrier == "query" else None
        tab.state_row("session", f"logged in as {answer.get('user')} in {browser.name}; idle timeout "
                                 f"{answer.get('idle_expires_in', 0):g} s")
        tab.sessionChanged.emit(browser)

    async def _logout(self) -> None:
        tab, browser = self.tab, self.tab.browser
        assert browser is not None
        try:
            await session_request(browser, self.base() + "/session/logout", None)
        except DuplexError as err:
            tab.report(f"Log out failed: {err.sentence}")
        browser.forget_session()
        tab.state_row("session", f"logged out of {browser.name}")
        tab.sessionChanged.emit(browser)

    # -- expiry ------------------------------------------------------------------------
    def expired(self, err: DuplexError) -> bool:
        """A 401 for the session: react as the user chose. True if handled."""
        tab, browser = self.tab, self.tab.browser
        if browser is None or getattr(err, "status", None) != 401:
            return False
        had_session = browser.session_id(self.base()) is not None
        if browser.on_expiry == "anonymous":
            tab.state_row("session", "session expired or unknown (401): going on as anonymous", status=401)
            if had_session:  # the first tab to hear of it tells the others (they reload)
                browser.forget_session()
                tab.sessionChanged.emit(browser)
            if tab.client is None:
                tab.connect_client()
            return True
        if not had_session:
            return False
        tab.state_row("session", "session expired or unknown (401): log in again", status=401)
        tab.report(f"{tab.title}: the session expired — log in again (Session panel).")
        return True
