"""The envelope fast path agrees with json.loads, and falls back when it must."""

import json

import pytest

from transport.core.envelope import envelope_fields
from transport.server.feed import Feed


def test_lab_envelopes_take_the_fast_path_and_agree_with_json():
    feed = Feed()
    for topic, body in (("price", {"p": 1.5}), ("chat", "he said \"hi\""), ("likes", [1, 2])):
        text = feed.publish(topic, body).text
        seq, ts, got_topic, obj = envelope_fields(text)
        full = json.loads(text)
        assert (seq, ts, got_topic, obj) == (full["seq"], full["ts"], full["topic"], None)


@pytest.mark.parametrize("text,expected", [
    ('{"seq": 3, "ts": 9, "topic": "x", "body": 1}', (3, 9, "x")),  # spaced: full parser
    ('{"topic":"x","seq":3}', (3, None, "x")),  # another key order
    ('{"seq":true,"ts":1,"topic":"x","body":1}', (None, 1, "x")),  # not an int
    ('{"seq":1,"ts":2,"topic":"a\\"b","body":1}', (1, 2, 'a"b')),  # escaped topic
    ('{"control":"live","seq":4}', (4, None, None)),
])
def test_other_shapes_use_the_full_parser(text, expected):
    seq, ts, topic, obj = envelope_fields(text)
    assert (seq, ts, topic) == expected and obj == json.loads(text)


@pytest.mark.parametrize("text", ["", "plain", "[1,2]", '{"seq":1,"ts":2,"topic":"x"', "{broken"])
def test_not_an_envelope(text):
    assert envelope_fields(text) == (None, None, None, None)


from transport.core.envelope import split_json_list  # noqa: E402


@pytest.mark.parametrize("text", ["[]", " [ ] ", '[{"a": 1}, 2 ,"x"]', '[\n{"seq":1,"ts":2}\n]'])
def test_split_json_list_keeps_each_items_source_text(text):
    items = split_json_list(text)
    assert [v for _, v in items] == json.loads(text)
    assert all(json.loads(src) == v for src, v in items)
    assert [src for src, _ in split_json_list('[{"a": 1}, 2 ,"x"]')] == ['{"a": 1}', "2", '"x"']


@pytest.mark.parametrize("text", ["", "{}", "[1,", "[1 2]", "[1] x", "<html>", "[1,]"])
def test_split_json_list_refuses_what_is_not_one_array(text):
    with pytest.raises(ValueError):
        split_json_list(text)
