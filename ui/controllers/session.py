"""A tab's session: log in and out, the carrier, the lab's renewal settings, closing the virtual tab,
and the reaction to an expired session.

Login and logout go to the origin of the tab's URL (``/session/…``) with the
virtual browser's cookies; every tab of that browser then reloads (the
controller emits ``sessionChanged``). A 401 on a tab's connection is the
session expiring: the tab asks to log in again or goes on as anonymous, as
chosen.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject

from transport.clients.virtual_browser import origin
from transport.clients.session_api import session_request
from transport.core.errors import DuplexError
from transport.clients.lab_admin import post_settings

from .host import TabHost


class SessionController(QObject):
    def __init__(self, tab: TabHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tab = tab

    def base(self) -> str:
        """The origin the tab's session lives on (ws:// URLs map to http://)."""
        url = self._tab.url or self._tab.lab_endpoint() or ""
        return origin(url) if url else ""

    def close_tab(self) -> None:
        """Close the virtual tab (its sessionStorage goes) and open a new one in the same browser."""
        tab = self._tab
        vtab = tab.vtab
        if vtab is None:
            return
        vtab.close()
        tab.run_in(vtab.browser, "tab closed: its sessionStorage is gone; a new tab opens with the browser's cookies",
                   reload=False)

    def set_carrier(self, carrier: str) -> None:
        browser = self._tab.browser
        if browser is None:
            return
        browser.carrier = carrier
        self._tab.report(f"Session carrier: {carrier}. Log in again so the id travels that way.")

    def apply_server_settings(self, settings: dict[str, Any]) -> None:
        tab = self._tab
        if not tab.lab_url:
            tab.report("The lab server is not running.")
            return

        async def apply() -> None:
            answer = await post_settings(tab.lab_url, tab.lab_token, settings)
            tab.report(f"Lab sessions: {'all traffic' if answer.get('renew') == 'all' else 'only user actions'} "
                       f"renew; idle timeout {answer.get('idle', 0):g} s.")

        tab.spawn(apply())

    def login(self, user: str) -> None:
        if self._tab.browser is not None:
            self._tab.spawn(self._login(user))

    def logout(self) -> None:
        if self._tab.browser is not None:
            self._tab.spawn(self._logout())

    async def _login(self, user: str) -> None:
        tab, browser = self._tab, self._tab.browser
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
        tab.sessionChanged.emit(browser, f"logged in as {answer.get('user')}")

    async def _logout(self) -> None:
        tab, browser = self._tab, self._tab.browser
        assert browser is not None
        try:
            await session_request(browser, self.base() + "/session/logout", None)
        except DuplexError as err:
            tab.report(f"Log out failed: {err.sentence}")
        browser.forget_session()
        tab.state_row("session", f"logged out of {browser.name}")
        tab.sessionChanged.emit(browser, "logged out")

    def expired(self, err: DuplexError) -> bool:
        """A 401 for the session: react as the user chose. True if handled."""
        tab, browser = self._tab, self._tab.browser
        if browser is None or getattr(err, "status", None) != 401:
            return False
        had_session = browser.session_id(self.base()) is not None
        if browser.on_expiry == "anonymous":
            tab.state_row("session", "session expired or unknown (401): going on as anonymous", status=401)
            if had_session:  # the first tab to hear of it tells the others (they reload, and say why)
                browser.forget_session()
                tab.sessionChanged.emit(browser, f"the session expired ({tab.title} got a 401): going on as "
                                                 "anonymous")
            if tab.client is None:
                tab.open_client()
            return True
        if not had_session:
            return False
        tab.state_row("session", "session expired or unknown (401): log in again", status=401)
        tab.report(f"{tab.title}: the session expired — log in again (Session panel).")
        tab.loginAsked.emit(f"The session of {browser.name} expired ({tab.title} got a 401): this tab stopped. "
                            "Log in again to go on.")
        return True
