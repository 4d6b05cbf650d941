"""Sequence and resume rules for servers that are not the lab (transport/core/sequence.py): parsed from the
specs probe and the tabs take, applied to raw message text."""

from __future__ import annotations

import pytest

from transport.core.sequence import MAX_SEQ, RuleError, parse_resume, parse_seq, socketio_message


@pytest.mark.parametrize("spec, text, want", [
    ("/seq", '{"seq": 7, "x": 1}', 7),
    ("/data/offset", '{"data": {"offset": "42"}}', 42),  # a string of digits is a number too
    ("/0/n", '[{"n": 3}]', 3),
    ("/a~1b", '{"a/b": 5}', 5),  # RFC 6901 escapes
    ("/seq", '{"seq": true}', None),  # a boolean is no number
    ("/seq", '{"seq": -1}', None),
    ("/seq", '{"seq": 1.5}', None),
    ("/seq", f'{{"seq": {MAX_SEQ + 1}}}', None),  # beyond what a JSON peer can mean exactly
    ("/seq", "not json", None),
    ("/items/01", '{"items": [1, 2]}', None),  # a leading zero is no array index
    ("re:#(\\d+)", "tick #12 of 20", 12),
    ("re:\\d+", "tick 12", 12),  # no group: the whole match
    ("re:#(\\d+)", "no number", None),
])
def test_a_sequence_rule_reads_the_number_a_user_points_at(spec, text, want):
    assert parse_seq(spec).number(text) == want


def test_the_id_rule_reads_integer_event_ids_only():
    rule = parse_seq("id")
    assert rule.number("x", event_id="17") == 17 and rule.number("x", event_id="a7") is None
    assert rule.number("x") is None
    assert parse_seq("auto").number("x", event_id="3") == 3 and parse_seq("none").number("x", event_id="3") is None


def test_a_pointer_reads_a_value_already_parsed():
    assert parse_seq("/n").number("[...]", value={"n": 4}, parsed=True) == 4


@pytest.mark.parametrize("spec, said", [
    ("seq", "unknown sequence rule"), ("re:(", "does not compile"), ("re:", "needs a pattern"),
])
def test_a_sequence_rule_that_makes_no_sense_is_one_sentence(spec, said):
    with pytest.raises(RuleError, match=said):
        parse_seq(spec)


def test_query_resume_sets_one_parameter_and_keeps_the_users_url():
    rule = parse_resume("query:since", "websocket")
    assert rule.url("ws://h/feed?room=a&since=1", 9) == "ws://h/feed?room=a&since=9"
    assert rule.url("ws://h/feed", None) == "ws://h/feed"  # nothing seen yet: the URL as typed
    assert parse_resume("auto").url("ws://h/feed?x=1", 5) == "ws://h/feed?x=1"


def test_message_resume_substitutes_seq_as_plain_text():
    rule = parse_resume('message:{"op": "resume", "after": {seq}}', "websocket")
    assert rule.message(41) == '{"op": "resume", "after": 41}'
    assert rule.message(None) is None
    assert socketio_message('resume {"after": 3}') == ("resume", [{"after": 3}])
    assert socketio_message("resume [1, 2]") == ("resume", [1, 2])
    assert socketio_message("resume") == ("resume", [])


@pytest.mark.parametrize("spec, transport, said", [
    ("last-event-id", "websocket", "how an SSE client resumes"),
    ("message:{seq}", "sse", "needs WebSocket or Socket.IO"),
    ("message:hello", "websocket", "must contain {seq}"),
    ("message:resume {bad {seq}", "socketio", "not JSON"),
    ("query:a&b", "sse", "parameter name"),
    ("after", "sse", "unknown resume rule"),
])
def test_a_resume_rule_that_cannot_work_is_one_sentence(spec, transport, said):
    with pytest.raises(RuleError, match=said):
        parse_resume(spec, transport)
