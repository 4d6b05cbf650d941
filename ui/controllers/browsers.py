"""Virtual browsers: which tab runs in which, logging in and out across a browser's tabs, closing one.

A virtual browser (``transport.clients.virtual_browser``) has one cookie jar shared by its tabs and a sessionStorage
per tab. This controller keeps the list and acts on the tab controllers that run in them.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from transport.clients.virtual_browser import VirtualBrowser

from .tab import TabController


class BrowsersController(QObject):
    changed = Signal()  # a tab moved, a browser closed or was added: the session panels show it again

    def __init__(self, tabs: list[TabController], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tabs = tabs
        self.browsers: list[VirtualBrowser] = [VirtualBrowser("Browser 1")]
        for tab in tabs:
            tab.vtab = self.browsers[0].new_tab()
            tab.sessionChanged.connect(self.session_changed)

    def session_changed(self, browser: VirtualBrowser, why: str = "") -> None:
        """A login, a logout, an expiry: every tab of that browser reloads (its connections carry the
        new state), and says why."""
        for tab in self.tabs:
            if tab.browser is browser:
                tab.reload(why)
        self.changed.emit()

    def move(self, tab: TabController, index: int) -> None:
        """Run ``tab`` in another virtual browser (index -1: a new one)."""
        if index < 0:
            self.browsers.append(VirtualBrowser(f"Browser {len(self.browsers) + 1}"))
            index = len(self.browsers) - 1
        browser = self.browsers[index]
        if tab.browser is browser:
            return
        if tab.vtab is not None:
            tab.vtab.close()
        tab.run_in(browser, f"now in {browser.name}: its own cookies, a new tab")
        self.changed.emit()

    def close(self, browser: VirtualBrowser | None) -> None:
        """Close a virtual browser (tabs and session cookies go) and reopen it, as a user restarting it."""
        if browser is None:
            return
        browser.close()
        for tab in self.tabs:
            if tab.browser is browser:
                tab.run_in(browser, f"{browser.name} closed and reopened: session cookies dropped, persistent "
                                    "cookies kept")
        self.changed.emit()

    def server_events(self, events: list[dict]) -> None:
        """The server's session events (created, expired, ended) as rows in the tabs of the browser
        whose session they are about."""
        for tab in self.tabs:
            browser = tab.browser
            base = tab.url or tab.lab_endpoint() or ""
            sid = browser.session_id(base) if browser is not None and base else None
            for e in events:
                if sid and sid.startswith(e.get("sid_prefix", "-")):
                    reason = f" ({e['reason']})" if e.get("reason") else ""
                    tab.state_row("session", f"server: session of {e.get('user')} {e.get('kind')}{reason}",
                                  server_event=e.get("kind"))
