"""The page's Socket.IO and cookies as the browser view reads them, without a browser: packets as
Chromium hands them over (polling bodies both ways, WebSocket frames), and Set-Cookie lines."""

from __future__ import annotations

import json

from transport.browser.chromium_hooks import cookie_text, page_report, parse_set_cookie, sent_cookies
from transport.browser.chromium_sio import PageSession, engineio_sid, engineio_transport
from transport.core.receiver import FeedReceiver

RS = "\x1e"


def session():
    rows: list = []
    receiver = FeedReceiver("socketio", rows.append, one_way=False)
    return PageSession(receiver, lambda d, k, **f: rows.append(Row(d, k, f)), None), rows, receiver


class Row(tuple):
    """A row the session wrote itself (the receiver's are Events)."""

    def __new__(cls, *parts):
        return super().__new__(cls, parts)


def test_polling_then_websocket_decode_alike_in_both_directions():
    s, rows, receiver = session()
    s.payload_in('0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000}', 1, 120)
    s.payload_out("40", 2)
    s.payload_in(RS.join(['40{"sid":"xyz"}', '42["tick",{"n":1}]', '42["tick",{"n":2}]', "2"]), 3, 80)
    s.payload_out(RS.join(['420["hello","page"]', "3"]), 4)
    s.frame_out("5", 5)  # the upgrade
    s.frame_in('430[{"hi":"page"}]', 6, 20)
    s.frame_in('451-["file",{"_placeholder":true,"num":0}]', 7, 40)
    s.frame_in(b"\x01\x02", 8, 4)
    kinds = [r[1] if isinstance(r, Row) else (r.kind, r.meta.get("event"), r.data) for r in rows]
    assert kinds == ["handshake", "connect", "open", ("message", "tick", '[{"n":1}]'),
                     ("message", "tick", '[{"n":2}]'), "ping", "emit", "pong", "upgrade", "ack", "message"]
    assert s.sid == "abc" and s.via == "websocket" and receiver.ledger.unnumbered == 2
    emit = next(r for r in rows if isinstance(r, Row) and r[1] == "emit")
    assert emit[2]["meta"] == {"event": "hello", "ack": 0} and json.loads(emit[2]["data"]) == ["page"]
    binary = rows[-1]
    assert binary[2]["meta"]["binary"] and "\\x01\\x02" in binary[2]["data"]


def test_a_payload_that_does_not_decode_is_one_error_row_and_the_session_goes_on():
    s, rows, _receiver = session()
    s.payload_in("9garbage" + RS + "x", 1, 10)
    s.frame_in('4' + '2["t",' * 3, 2, 10)
    s.frame_in("451000000-[]", 3, 10)  # an attachment bomb: refused, not waited for
    s.frame_in('42["tick",1]', 4, 10)
    errors = [r for r in rows if isinstance(r, Row) and r[1] == "error"]
    assert len(errors) == 3 and all(isinstance(r[2]["data"], str) for r in errors)
    assert rows[-1].kind == "message"


def test_lost_closes_the_session_once_and_opens_an_episode():
    s, rows, receiver = session()
    s.payload_in('40{"sid":"a"}' + RS + '42["m",1]', 1, 10)
    s.lost("the tab went offline", 2)
    s.lost("the page was reloaded", 3)
    assert [r[1] for r in rows if isinstance(r, Row)] == ["open", "close"] and len(receiver.ledger.episodes) == 1


def test_engineio_urls_are_known_by_their_query_wherever_mounted():
    assert engineio_transport("http://h/socket.io/?EIO=4&transport=polling&t=x") == "polling"
    assert engineio_transport("ws://h/chat/?EIO=4&transport=websocket&sid=q") == "websocket"
    assert engineio_transport("http://h/api?transport=polling") is None
    assert engineio_sid("ws://h/socket.io/?EIO=4&transport=websocket&sid=q") == "q"


def test_set_cookie_lines_and_sent_cookies_keep_their_attributes():
    c = parse_set_cookie("srv=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600; Secure")
    assert c == {"name": "srv", "value": "abc", "path": "/", "httpOnly": True, "sameSite": "Lax", "maxAge": "3600",
                 "secure": True}
    assert cookie_text(c) == "srv=abc; Path=/; Max-Age=3600; SameSite=Lax; HttpOnly; Secure"
    assert parse_set_cookie("no equals sign") is None and parse_set_cookie("=x") is None
    sent, blocked = sent_cookies([{"cookie": {"name": "a", "value": "1", "httpOnly": True}, "blockedReasons": []},
                                  {"cookie": {"name": "b", "value": "2"}, "blockedReasons": ["SameSiteLax"]},
                                  "junk"])
    assert sent == [{"name": "a", "value": "1", "httpOnly": True}] and blocked == ["b: SameSiteLax"]


def test_what_the_page_can_say_through_the_binding_is_checked_and_bounded():
    assert page_report('{"k":"ws_close","url":"ws://h/","code":1000,"reason":"done"}')["code"] == 1000
    assert page_report("x" * 20_000) is None and page_report("not json") is None
    assert page_report('{"k":"rm -rf"}') is None and page_report("[1]") is None and page_report(None) is None
