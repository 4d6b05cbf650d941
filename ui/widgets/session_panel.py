"""The session panel: the virtual browser and tab a transport tab runs in, its cookie
jar, the session (with the server's countdown), the tab's sessionStorage, and the
server's view of every session.

Editable: cookie values (double-click), deleting a cookie, sessionStorage keys
and values (double-click, Add, Remove); the user name, carrier and the
reaction to an expired session; the lab's renewal policy and idle timeout.
Read-only: the server's sessions.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QGridLayout, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from transport.clients.virtual_browser import CookieView, VirtualBrowser, VirtualTab, origin

from ..theme import theme
from .header_tips import set_header_tips

COOKIE_COLUMNS = ("Name", "Value", "Domain", "Path", "Expires", "HttpOnly", "Secure", "SameSite")
STORAGE_COLUMNS = ("Key", "Value")
SERVER_COLUMNS = ("User", "Id", "Idle in", "Absolute in", "Requests")


def _table(columns: tuple[str, ...], editable: bool) -> QTableWidget:
    return _setup(QTableWidget(0, len(columns)), columns, editable)


def _setup(table: QTableWidget, columns: tuple[str, ...], editable: bool) -> QTableWidget:
    table.setHorizontalHeaderLabels(columns)
    set_header_tips(table)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    if not editable:
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    # never squeezed below a header and three rows (the page scrolls instead)
    table.setMinimumHeight(table.horizontalHeader().sizeHint().height()
                           + 3 * table.verticalHeader().defaultSectionSize() + 6)
    return table


def _wrapped(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)  # never what makes the narrow pane scroll sideways
    return label


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    for w in widgets:
        row.addWidget(w)
    return row


def _item(text: str, editable: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setToolTip(text)  # a long value (a session id) is elided in its cell, whole here
    if not editable:
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    m, s = divmod(int(value), 60)
    return f"{m}:{s:02d}" if m else f"{value:.0f} s"


class SessionsTable(QTableWidget):
    """The server's sessions (read-only, from ``/_admin/sessions``)."""

    def __init__(self) -> None:
        super().__init__(0, len(SERVER_COLUMNS))
        _setup(self, SERVER_COLUMNS, editable=False)
        self._drawn: tuple | None = None

    def fill(self, sessions: list[dict]) -> None:
        """Show ``sessions``; no redraw when nothing changed."""
        key = tuple((s["sid_prefix"], s["idle_expires_in"], s["absolute_expires_in"], s["requests"])
                    for s in sessions)
        if key == self._drawn:
            return
        self._drawn = key
        self.setRowCount(len(sessions))
        for row, s in enumerate(sessions):
            values = (s["user"], s["sid_prefix"] + "…", _seconds(s["idle_expires_in"]),
                      _seconds(s["absolute_expires_in"]), str(s["requests"]))
            for col, text in enumerate(values):
                self.setItem(row, col, _item(text))


class SessionPanel(QWidget):
    loginRequested = Signal(str)
    logoutRequested = Signal()
    reloadRequested = Signal()
    closeTabRequested = Signal()
    browserChosen = Signal(int)  # index into the window's browsers; -1: a new one
    carrierChanged = Signal(str)
    closeBrowserRequested = Signal()
    serverSettingsRequested = Signal(dict)  # the lab's renewal policy and idle timeout
    cookieSaid = Signal(str)  # what a cookie edit did, and what a request now sends

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.browser_choice = QComboBox()
        self.browser_choice.setMinimumContentsLength(10)
        self.browser_choice.setToolTip("The virtual browser this tab runs in: one cookie jar, one user")
        # short names: the row's label says what they act on ("Browser", "Tab 1"), and the pane is narrow
        self.new_browser = QPushButton("New")
        self.close_browser = QPushButton("Close")
        self.close_browser.setToolTip("Close this browser: closes its tabs and drops its session cookies (persistent ones stay); "
                                      "the transport tabs reopen in it")
        self.new_browser.setToolTip("New browser: a second one with its own cookies (log in as another user)")
        self.tab_label = QLabel()
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Reload this tab: keeps sessionStorage; drops and reopens the tab's connections")
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("Close this tab: clears sessionStorage; a new tab opens with the browser's cookies")
        self.user = QLineEdit("ann", placeholderText="user")
        self.login_button = QPushButton("Log in")
        self.logout_button = QPushButton("Log out")
        self.carrier = QComboBox()
        self.carrier.addItem("Cookie", "cookie")
        self.carrier.addItem("Query ?sid= (leaks into URLs)", "query")
        self.on_expiry = QComboBox()
        self.on_expiry.addItem("Ask to log in again", "ask")
        self.on_expiry.addItem("Go on as anonymous", "anonymous")
        self.who = QLabel("not logged in")
        self.who.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.countdown = QLabel("—")
        self.cookies = _table(COOKIE_COLUMNS, editable=True)
        # the value (a session id, long) gets a width of its own, elided in the middle: the flags stay in view
        self.cookies.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.cookies.setColumnWidth(1, 110)
        self.cookies.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.delete_cookie = QPushButton("Delete cookie")
        self.storage = _table(STORAGE_COLUMNS, editable=True)
        self.storage_origin = QLabel()
        self.add_item = QPushButton("Add")
        self.remove_item = QPushButton("Remove")
        self.server = SessionsTable()
        self.renew = QComboBox()
        self.renew.addItem("User actions renew the session", "user")
        self.renew.addItem("All traffic renews it (polls, streams)", "all")
        self.renew.setToolTip("The lab's renewal policy: does background traffic keep a session alive?")
        for combo in (self.renew, self.carrier, self.on_expiry):  # long choices shrink with the pane (elided)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        self.idle = QSpinBox(suffix=" s idle", minimum=5, maximum=86_400, value=60)
        self.idle.setToolTip("The lab's idle timeout (applies to every session at once)")

        # two columns (a label, then its field or buttons): narrow enough for the side pane at 900×600, where
        # four columns went off its right edge
        top = QGridLayout()
        top.setColumnStretch(1, 1)
        pair = lambda *ws: _row(*ws)  # noqa: E731
        rows: list[tuple[str | QLabel, QWidget | QHBoxLayout]] = [
            ("Browser", self.browser_choice), ("", pair(self.new_browser, self.close_browser)),
            (self.tab_label, pair(self.reload_button, self.close_button)),
            ("User", self.user), ("", pair(self.login_button, self.logout_button)),
            ("Carrier", self.carrier), ("On expiry", self.on_expiry), ("Session", self.who),
            ("Expires in", self.countdown)]
        for r, (label, field) in enumerate(rows):
            top.addWidget(label if isinstance(label, QLabel) else QLabel(label), r, 0)
            if isinstance(field, QHBoxLayout):
                top.addLayout(field, r, 1)
            else:
                top.addWidget(field, r, 1)
        self.who.setWordWrap(True)
        storage_bar = QHBoxLayout()
        storage_bar.addWidget(self.storage_origin, 1)
        storage_bar.addWidget(self.add_item)
        storage_bar.addWidget(self.remove_item)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(_wrapped("Cookie jar (shared by the browser's tabs)"))
        layout.addWidget(self.cookies, 2)
        layout.addWidget(self.delete_cookie)
        layout.addWidget(_wrapped("sessionStorage (this tab)"))
        layout.addLayout(storage_bar)
        layout.addWidget(self.storage, 1)
        layout.addWidget(_wrapped("Server: every session (lab)"))
        layout.addWidget(self.renew)  # one under the other: side by side they were wider than the pane
        layout.addWidget(self.idle)
        layout.addWidget(self.server, 1)

        self.vtab: VirtualTab | None = None
        self.url = ""
        self._filling = False
        self._cookie_rows: list[CookieView] = []  # the cookies as the table shows them, row by row
        self._drawn: dict[str, object] = {}  # what each table shows, to redraw only on a change
        self.login_button.clicked.connect(lambda: self.loginRequested.emit(self.user.text().strip()))
        self.logout_button.clicked.connect(self.logoutRequested)
        self.reload_button.clicked.connect(self.reloadRequested)
        self.close_button.clicked.connect(self.closeTabRequested)
        self.new_browser.clicked.connect(lambda: self.browserChosen.emit(-1))
        self.close_browser.clicked.connect(self.closeBrowserRequested)
        self.renew.activated.connect(lambda _i: self.serverSettingsRequested.emit({"renew": self.renew.currentData()}))
        self.idle.editingFinished.connect(lambda: self.serverSettingsRequested.emit({"idle": self.idle.value()}))
        self.browser_choice.activated.connect(self.browserChosen)
        self.carrier.activated.connect(lambda _i: self.carrierChanged.emit(self.carrier.currentData()))
        self.on_expiry.activated.connect(self._on_expiry_activated)
        self.delete_cookie.clicked.connect(self._on_delete_cookie_clicked)
        self.cookies.itemChanged.connect(self._on_cookies_item_changed)
        self.storage.itemChanged.connect(self._on_storage_item_changed)
        self.add_item.clicked.connect(self._on_add_item_clicked)
        self.remove_item.clicked.connect(self._on_remove_item_clicked)

    # -- what it shows ------------------------------------------------------------------
    @property
    def browser(self) -> VirtualBrowser | None:
        return self.vtab.browser if self.vtab is not None else None

    def show_carrier(self, carrier: str) -> None:
        """The carrier the tab's browser uses now (``cookie`` or ``query``)."""
        self.carrier.setCurrentIndex(max(0, self.carrier.findData(carrier)))

    def show_tab(self, vtab: VirtualTab, browsers: list[VirtualBrowser], url: str) -> None:
        self.vtab, self.url = vtab, url
        self.browser_choice.clear()
        for b in browsers:
            self.browser_choice.addItem(b.name)
        self.browser_choice.setCurrentIndex(browsers.index(vtab.browser))
        self.tab_label.setText(f"Tab {vtab.number}")
        self.show_carrier(vtab.browser.carrier)
        self.on_expiry.setCurrentIndex(self.on_expiry.findData(vtab.browser.on_expiry))
        self.refresh()

    def refresh(self, server_view: dict | None = None) -> None:
        """Redraw from the browser (cookies, storage) and the server's view (countdown, sessions)."""
        browser, vtab = self.browser, self.vtab
        if browser is None or vtab is None:
            return
        self._filling = True
        try:
            self._fill_cookies(browser)
            self._fill_storage(vtab)
        finally:
            self._filling = False
        sid = browser.session_id(self.url) if self.url else None
        sessions = (server_view or {}).get("sessions", [])
        mine = next((s for s in sessions if sid and s["sid_prefix"] == sid[:8]), None)
        if sid is None:
            self.who.setText("not logged in (anonymous)")
            self.countdown.setText("—")
        elif mine is not None:
            self.who.setText(f"{mine['user']} · id {sid[:8]}…")
            self.countdown.setText(f"idle {_seconds(mine['idle_expires_in'])} · absolute "
                                   f"{_seconds(mine['absolute_expires_in'])}")
        elif server_view is not None:
            self.who.setText(f"id {sid[:8]}… is not a live session on the server")
            self.countdown.setText(f"<b style='color:{theme().hex('error')}'>expired or unknown</b>")
        if server_view is not None:
            self.server.fill(sessions)
            self.show_server_settings(server_view)

    def show_server_settings(self, server_view: dict) -> None:
        """The lab's renewal policy and idle timeout as the lab says them (one source for every tab's panel:
        the window gives each panel every view, shown or not); a field being edited is left alone."""
        if not self.renew.hasFocus():
            self.renew.setCurrentIndex(self.renew.findData("all" if server_view.get("renew_background") else "user"))
        if not self.idle.hasFocus() and server_view.get("idle"):
            self.idle.setValue(int(server_view["idle"]))

    def _fill_cookies(self, browser: VirtualBrowser) -> None:
        cookies = browser.cookies()
        if self._unchanged("cookies", tuple(cookies)):  # keep an edit in progress: no redraw each second
            return
        self._cookie_rows = cookies
        self.cookies.setRowCount(len(cookies))
        for row, c in enumerate(cookies):
            values = (c.name, c.value, c.domain or "(host only)", c.path, c.expires,
                      "✔" if c.httponly else "", "✔" if c.secure else "", c.samesite)
            for col, text in enumerate(values):
                self.cookies.setItem(row, col, _item(text, editable=col == 1))

    def _fill_storage(self, vtab: VirtualTab) -> None:
        items = sorted(vtab.session_storage(self.url).items()) if self.url else []
        if self._unchanged("storage", (self.url, tuple(items))):
            return
        self.storage_origin.setText(f"origin {origin(self.url)}" if self.url else "")
        self.storage.setRowCount(len(items))
        for row, (key, value) in enumerate(items):
            self.storage.setItem(row, 0, _item(key, editable=True))
            self.storage.setItem(row, 1, _item(value, editable=True))

    def _unchanged(self, table: str, key: object) -> bool:
        if self._drawn.get(table) == key:
            return True
        self._drawn[table] = key
        return False

    # -- edits -------------------------------------------------------------------------------
    def _on_expiry_activated(self, _index: int) -> None:
        if self.browser is not None:
            self.browser.on_expiry = self.on_expiry.currentData()

    def _on_delete_cookie_clicked(self) -> None:
        row = self.cookies.currentRow()
        browser = self.browser
        if browser is None or row < 0:
            return
        name = cell_text(self.cookies, row, 0)
        browser.delete_cookie(name)
        self.refresh()

    def _on_cookies_item_changed(self, item: QTableWidgetItem) -> None:
        browser = self.browser
        if self._filling or browser is None or item.column() != 1 or not self.url:
            return
        if item.row() >= len(self._cookie_rows):
            return
        c = self._cookie_rows[item.row()]
        if not browser.edit_cookie(c.name, c.domain, c.path, item.text()):
            self.cookieSaid.emit(f"The cookie {c.name} is no longer in the jar (expired or replaced): nothing changed.")
        else:
            sent = browser.cookie_header(self.url)
            self.cookieSaid.emit(f"Cookie {c.name} ({c.domain or 'host only'}, path {c.path}) changed in place; "
                                 f"a request to {self.url} now sends: Cookie: {sent or '(nothing)'}")
        self.refresh()

    def _storage_dict(self) -> dict[str, str] | None:
        return self.vtab.session_storage(self.url) if self.vtab is not None and self.url else None

    def _on_storage_item_changed(self, _item: QTableWidgetItem) -> None:
        store = self._storage_dict()
        if self._filling or store is None:
            return
        store.clear()
        for row in range(self.storage.rowCount()):
            key, value = self.storage.item(row, 0), self.storage.item(row, 1)
            if key is not None and key.text():
                store[key.text()] = value.text() if value is not None else ""

    def _on_add_item_clicked(self) -> None:
        store = self._storage_dict()
        if store is None:
            return
        n = 1
        while f"key{n}" in store:
            n += 1
        store[f"key{n}"] = ""
        self.refresh()

    def _on_remove_item_clicked(self) -> None:
        store = self._storage_dict()
        row = self.storage.currentRow()
        if store is None or row < 0:
            return
        store.pop(cell_text(self.storage, row, 0), None)
        self.refresh()


def cell_text(table: QTableWidget, row: int, col: int) -> str:
    """A cell's text ("" where the table has no item)."""
    item = table.item(row, col)
    return item.text() if item is not None else ""
