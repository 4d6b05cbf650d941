"""What ws_connection.py relies on in websockets, which it subclasses (pyproject pins websockets below 18):
if a release changes any of it, this fails with what changed, before a user meets a connection that
silently stops delivering messages."""

from __future__ import annotations

import inspect

import websockets
from websockets.asyncio import messages
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.connection import Connection
from websockets.protocol import Protocol

from transport.clients.ws_connection import MAX_FRAGMENTS, FeedConnection


def test_process_event_is_still_how_a_connection_hands_each_event_over():
    params = list(inspect.signature(Connection.process_event).parameters)
    assert params == ["self", "event"], f"websockets {websockets.__version__}: process_event{params}"
    source = inspect.getsource(Connection.data_received)
    assert "self.protocol.receive_data(data)" in source and "self.process_event(event)" in source, (
        f"websockets {websockets.__version__}: data_received no longer feeds the protocol and hands each event to "
        "process_event, which FeedConnection overrides")
    assert FeedConnection.process_event is not Connection.process_event
    assert issubclass(FeedConnection, ClientConnection)


def test_the_hooks_the_fast_path_calls_are_there():
    assert "code" in inspect.signature(Protocol.fail).parameters and "reason" in inspect.signature(Protocol.fail).parameters
    for name in ("send_data", "eof_received", "data_received"):
        assert callable(getattr(Connection, name, None)), f"websockets {websockets.__version__}: no Connection.{name}"
    assert MAX_FRAGMENTS == messages.MAX_FRAGMENTS > 0
