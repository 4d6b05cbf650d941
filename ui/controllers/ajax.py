"""The AJAX tab's actions, without widgets: post a message, change the value by AJAX or by a full-page
postback (or both, to compare what each costs), read it back; each exchange's cost for the comparison."""

from __future__ import annotations

from typing import Awaitable

from PySide6.QtCore import QObject, Signal

from transport.clients.ajax import AjaxClient, Exchange
from transport.core.errors import DuplexError

from .tab import TabController

class AjaxController(QObject):
    fragment = Signal(str)  # the HTML fragment the server answered (AJAX)
    compared = Signal(dict)  # kind → (sent, received, wire bytes, ms) of the last exchange of that kind

    def __init__(self, tab: TabController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tab = tab

    def _client(self) -> AjaxClient | None:
        client = self.tab.client
        if not isinstance(client, AjaxClient) or not client.connected:
            self.tab.report("Not connected: connect first, then send.")
            return None
        return client

    def post_message(self, text: str) -> None:
        if (client := self._client()) is not None:
            self.tab.spawn(self._do(client, client.post_message(text)))

    def set_value(self, value: str) -> None:
        if (client := self._client()) is not None:
            self.tab.spawn(self._do(client, client.set_value(value), fragment=True))

    def postback(self, value: str) -> None:
        if (client := self._client()) is not None:
            self.tab.spawn(self._do(client, client.postback(value)))

    def get_value(self) -> None:
        if (client := self._client()) is not None:
            self.tab.spawn(self._do(client, client.get_value(), fragment=True))

    def both(self, value: str) -> None:
        """The same change by AJAX, then by postback: what each cost, side by side."""
        if (client := self._client()) is not None:
            self.tab.spawn(self._both(client, value))

    async def _both(self, client: AjaxClient, value: str) -> None:
        if await self._do(client, client.set_value(value), fragment=True) is not None:
            await self._do(client, client.postback(value))
            ajax, postback = client.compare.get("ajax"), client.compare.get("postback")
            if ajax is not None and postback is not None and ajax.wire:
                self.tab.statusMessage.emit(f"The same change: AJAX {ajax.wire:,} B in one round trip, "
                                            f"postback {postback.wire:,} B ({postback.wire / ajax.wire:.1f}×).")

    async def _do(self, client: AjaxClient, op: Awaitable[Exchange], fragment: bool = False) -> Exchange | None:
        try:
            ex = await op
        except DuplexError as err:
            if not self.tab.session.expired(err):
                self.tab.report(f"AJAX: {err.sentence}")
            return None
        if fragment:
            self.fragment.emit(ex.body.decode("utf-8", "replace")[:200])
        self.show_compare(client)
        return ex

    def show_compare(self, client: object | None = None) -> None:
        """The last exchange of each kind (of the tab's client, or ``client``)."""
        client = client if client is not None else self.tab.client
        if isinstance(client, AjaxClient):
            self.compared.emit({k: (ex.sent, ex.received, ex.wire, ex.ms) for k, ex in client.compare.items()})
