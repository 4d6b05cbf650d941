"""A tooltip on every column header of the app's tables: what the column holds, in one sentence."""

from __future__ import annotations

from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

TIPS = {
    # the ledger's episodes
    "#": "The drop episode's number (a connection lost and, maybe, recovered)",
    "result": "✔ recovered with nothing lost or duplicated · ✘ something was lost or duplicated · … not back yet",
    "last before": "The last sequence id received before the connection was lost",
    "first after": "The first sequence id received once it was back",
    "replayed": "Messages the server sent again after the reconnect (from ?after= or Last-Event-ID)",
    "lost": "Sequence ids never received",
    "dup": "Messages received twice",
    "reord": "Messages that came after a later one",
    "gap": "Messages the server said it no longer had (its history did not reach back)",
    "recover ms": "From losing the connection to the first message after it",
    # the session panel
    "Name": "The cookie's name", "Value": "Its value (double-click to edit)", "Domain": "Where it is sent",
    "Path": "The path prefix it is sent for", "Expires": "When it expires (empty: when the browser closes)",
    "HttpOnly": "Hidden from page scripts (document.cookie)", "Secure": "Sent over HTTPS only",
    "SameSite": "Whether other sites' requests carry it (Lax, Strict, None)",
    "Key": "The sessionStorage key (this virtual tab only)",
    "User": "Who logged in", "Id": "The session id's start", "Idle in": "Expires when idle this long",
    "Absolute in": "Expires this long after login, whatever happens", "Requests": "Requests made with this session",
    # the AJAX comparison
    "Change by": "How the value was changed: an AJAX request or a full form postback",
    "Round trips": "HTTP exchanges it took", "Sent": "Bytes sent", "Received": "Bytes received",
    "Total": "Bytes both ways", "ms": "Time until the change was shown",
    # the Browser tab's ledgers
    "Tab": "The browser tab (a connection of its own)", "API": "The page's API: websocket, sse, polls, stream",
    "Replayed": "Messages the server sent again after the page reconnected or reloaded",
    "Episodes": "Times the page lost the connection (a close, a reload, a restart)",
    "Payload B/msg": "The messages' own bytes, per message",
    "Wire B/msg": "Bytes the browser received for this API, per message: frames and their headers (WebSocket), "
                  "the stream's bytes (EventSource, NDJSON), whole exchanges with their heads (polls)",
    # the policy race
    "Policy": "The reconnect policy each racing client follows", "Attempts": "Reconnect attempts so far",
    "Recovered": "Clients back and caught up", "Recover ms (median)": "The median time to recover",
    "Lost": "Messages lost (the ledger)", "Dup.": "Messages received twice (the ledger)",
}


def set_header_tips(table: QTableWidget, tips: list[str] | None = None) -> None:
    """Each header of ``table`` gets its column's tooltip: ``tips`` in column order, or TIPS by its text."""
    for col in range(table.columnCount()):
        item = table.horizontalHeaderItem(col)
        if item is None:
            item = QTableWidgetItem(str(col + 1))
            table.setHorizontalHeaderItem(col, item)
        tip = tips[col] if tips is not None and col < len(tips) else TIPS.get(item.text())
        if tip:
            item.setToolTip(tip)


def read_only_table(columns: tuple[str, ...] | list[str], tips: list[str] | None = None) -> QTableWidget:
    """A table of rows shown, not edited: its headers with their tips (``tips`` in column order, else TIPS),
    no row numbers."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    set_header_tips(table, tips)
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    return table
