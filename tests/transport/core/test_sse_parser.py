"""The event-stream parser against the WHATWG parsing rules, whatever the chunking.

Every case is checked three ways: the whole stream in one ``feed()``, one
byte at a time, and split at every possible point into two pieces.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transport.core.sse import Comment, EventStreamParser, EventTooLarge, Retry, ServerSentEvent

E = ServerSentEvent


def run(stream: bytes, chunks: list[bytes] | None = None, **kw) -> tuple[list, EventStreamParser]:
    p = EventStreamParser(**kw)
    out: list = []
    for c in chunks if chunks is not None else [stream]:
        out += p.feed(c)
    out += p.end()
    return out, p


def events(stream: bytes, **kw) -> list[ServerSentEvent]:
    """The events of ``stream``, after checking that every chunking agrees."""
    whole, p_whole = run(stream, **kw)
    one, p_one = run(stream, [stream[i:i + 1] for i in range(len(stream))], **kw)
    assert one == whole, "one byte at a time differs"
    assert (p_one.last_event_id, p_one.retry) == (p_whole.last_event_id, p_whole.retry)
    for cut in range(1, len(stream)):
        two, _ = run(stream, [stream[:cut], stream[cut:]], **kw)
        assert two == whole, f"split at {cut} differs"
    return [x for x in whole if isinstance(x, ServerSentEvent)]


# -- dispatch and the data buffer ------------------------------------------------
def test_simple_message_has_type_message_and_empty_id():
    assert events(b"data: hello\n\n") == [E("message", "hello", "")]


def test_multiline_data_joined_with_lf_and_last_lf_removed():
    assert events(b"data: a\ndata: b\ndata\ndata:\n\n") == [E("message", "a\nb\n\n", "")]


def test_empty_data_field_dispatches_an_empty_event():
    assert events(b"data\n\n") == [E("message", "", "")]
    assert events(b"data:\n\n") == [E("message", "", "")]


def test_no_data_lines_means_no_event():
    assert events(b"event: x\n\n") == []
    assert events(b"id: 1\n\n") == []
    assert events(b"\n\n\n") == []


def test_event_type_resets_after_each_dispatch():
    assert events(b"event: price\ndata: 1\n\ndata: 2\n\n") == [E("price", "1", ""), E("message", "2", "")]


def test_empty_event_type_means_message():
    assert events(b"event:\ndata: x\n\n") == [E("message", "x", "")]


def test_event_type_reset_even_when_nothing_dispatched():
    assert events(b"event: a\n\ndata: x\n\n") == [E("message", "x", "")]


def test_last_event_field_wins():
    assert events(b"event: a\nevent: b\ndata: x\n\n") == [E("b", "x", "")]


# -- field syntax ---------------------------------------------------------------------
def test_exactly_one_leading_space_is_removed():
    assert events(b"data:  two\n\n") == [E("message", " two", "")]
    assert events(b"data:no space\n\n") == [E("message", "no space", "")]
    assert events(b"data:\tx\n\n") == [E("message", "\tx", "")]
    assert events(b"data: trailing \n\n") == [E("message", "trailing ", "")]


def test_only_the_first_colon_splits():
    assert events(b"data: a: b:c\n\n") == [E("message", "a: b:c", "")]


def test_field_names_are_case_sensitive_and_unknown_fields_ignored():
    assert events(b"Data: x\nDATA: y\nfoo: bar\ndata: z\n\n") == [E("message", "z", "")]


def test_field_name_with_space_is_another_field():
    assert events(b"data : x\n\ndata: y\n\n") == [E("message", "y", "")]


def test_comments_are_reported_and_do_not_dispatch():
    out, _ = run(b": ping\n:no-space\n:\ndata: x\n: in between\n\n")
    assert out == [Comment("ping"), Comment("no-space"), Comment(""), Comment("in between"),
                   E("message", "x", "")]


def test_comment_does_not_end_the_event():
    assert events(b"data: a\n: c\ndata: b\n\n") == [E("message", "a\nb", "")]


# -- line endings ---------------------------------------------------------------------
@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_every_line_ending(eol):
    stream = b"event: t" + eol + b"data: a" + eol + b"data: b" + eol + eol
    assert events(stream) == [E("t", "a\nb", "")]


def test_mixed_line_endings():
    assert events(b"data: a\rdata: b\ndata: c\r\n\r\ndata: d\r\r") == [E("message", "a\nb\nc", ""),
                                                                         E("message", "d", "")]


def test_cr_cr_is_two_line_ends_and_lf_cr_too():
    assert events(b"data: a\r\rdata: b\n\rdata: c\n\n") == [E("message", "a", ""), E("message", "b", ""),
                                                              E("message", "c", "")]


def test_crlf_split_across_chunks_is_one_line_end():
    out, _ = run(b"", [b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"])
    assert out == [E("message", "a\nb", "")]


# -- BOM and UTF-8 ----------------------------------------------------------------------
def test_one_leading_bom_is_dropped():
    assert events(b"\xef\xbb\xbfdata: x\n\n") == [E("message", "x", "")]


def test_a_second_bom_is_part_of_the_field_name():
    # the second BOM makes the field name "\ufeffdata": unknown, ignored
    assert events(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\ndata: y\n\n") == [E("message", "y", "")]


def test_bom_in_the_middle_is_kept():
    assert events(b"data: \xef\xbb\xbfx\n\n") == [E("message", "\ufeffx", "")]


def test_utf8_split_inside_a_character():
    stream = "data: żółw → 🐢\n\n".encode()
    assert events(stream) == [E("message", "żółw → 🐢", "")]


def test_invalid_utf8_becomes_replacement_characters():
    assert events(b"data: a\xffb\xc3\n\n") == [E("message", "a\ufffdb\ufffd", "")]
    assert events(b"data: \xe2\x82\n\n") == [E("message", "\ufffd", "")]


def test_nul_in_data_is_kept():
    assert events(b"data: a\x00b\n\n") == [E("message", "a\x00b", "")]


# -- id ---------------------------------------------------------------------------------
def test_id_is_carried_to_later_events_until_changed():
    assert events(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n") == [
        E("message", "a", "1"), E("message", "b", "1"), E("message", "c", "2")]


def test_empty_id_resets_the_last_event_id():
    got = events(b"id: 1\ndata: a\n\nid\ndata: b\n\nid:\ndata: c\n\n")
    assert [e.last_event_id for e in got] == ["1", "", ""]


def test_id_with_nul_is_ignored():
    got = events(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n")
    assert [e.last_event_id for e in got] == ["1", "1"]


def test_id_without_data_still_sets_last_event_id():
    _, p = run(b"id: 7\n\n")
    assert p.last_event_id == "7"


def test_id_of_an_unterminated_event_is_not_committed():
    _, p = run(b"id: 1\ndata: a\n\nid: 2\ndata: b\n")
    assert p.last_event_id == "1"


def test_id_keeps_spaces_and_unicode():
    assert events("id:  a b ☃\ndata: x\n\n".encode()) == [E("message", "x", " a b ☃")]


def test_last_event_id_survives_end_for_the_next_connection():
    p = EventStreamParser()
    assert p.feed(b"id: 41\ndata: a\n\n") == [E("message", "a", "41")]
    p.end()
    assert p.feed(b"data: b\n\n") == [E("message", "b", "41")]
    assert EventStreamParser(last_event_id="9").feed(b"data: c\n\n") == [E("message", "c", "9")]


# -- retry ------------------------------------------------------------------------------
def test_valid_retry_sets_reconnection_time_and_is_reported():
    out, p = run(b"retry: 2500\n\n")
    assert out == [Retry(2500)] and p.retry == 2500


@pytest.mark.parametrize("value", [b"-1", b"+1", b"1.5", b"1e3", b" 1000", b"1000 ", b"10a", b"",
                                   "１０".encode(), "²".encode(), b"0x10"])
def test_invalid_retry_is_ignored(value):
    out, p = run(b"retry: 1000\nretry: " + value + b"\n\n")
    assert p.retry == 1000 and out == [Retry(1000)]


def test_retry_without_colon_is_ignored():
    _, p = run(b"retry\n\n")
    assert p.retry is None


def test_retry_zero_and_leading_zeros():
    assert run(b"retry: 0\n")[1].retry == 0
    assert run(b"retry: 007\n")[1].retry == 7


def test_retry_does_not_need_a_blank_line_and_survives_end():
    p = EventStreamParser()
    assert p.feed(b"retry: 300\n") == [Retry(300)]
    p.end()
    assert p.retry == 300


def test_enormous_retry_does_not_crash():
    _, p = run(b"retry: " + b"9" * 5000 + b"\n")
    assert p.retry is not None and p.retry > 10**12


# -- end of stream --------------------------------------------------------------------------
def test_unterminated_event_is_discarded_at_end():
    assert events(b"data: a\n\ndata: b\n") == [E("message", "a", "")]
    assert events(b"data: a\n\ndata: b") == [E("message", "a", "")]


def test_end_resets_buffers_for_the_next_stream():
    p = EventStreamParser()
    p.feed(b"event: x\ndata: half")
    assert p.end() == []
    assert p.feed(b"\xef\xbb\xbfdata: new\n\n") == [E("message", "new", "")]


def test_trailing_cr_terminates_the_last_line():
    assert events(b"data: a\r\r") == [E("message", "a", "")]


# -- size limit ---------------------------------------------------------------------------
def test_a_line_longer_than_aiohttps_readline_limit_is_fine():
    big = b"x" * (600 * 1024)
    p = EventStreamParser(max_size=16 << 20)
    out = []
    for i in range(0, len(big), 7000):
        out += p.feed((b"data: " if i == 0 else b"") + big[i:i + 7000])
    out += p.feed(b"\n\n")
    assert out == [E("message", big.decode(), "")]


def test_an_event_over_the_limit_raises_a_clear_error():
    p = EventStreamParser(max_size=1000)
    with pytest.raises(EventTooLarge) as info:
        for _ in range(20):
            p.feed(b"data: " + b"y" * 100 + b"\n")
    assert info.value.limit == 1000 and "1000" in str(info.value)


def test_an_endless_line_over_the_limit_raises():
    p = EventStreamParser(max_size=1000)
    with pytest.raises(EventTooLarge):
        for _ in range(20):
            p.feed(b"z" * 100)


# -- property: chunking never matters ----------------------------------------------------------
FIELD = st.sampled_from([b"data", b"event", b"id", b"retry", b"Data", b"foo", b"", b":", b"\xef\xbb\xbf"])
VALUE = st.binary(max_size=12) | st.sampled_from([b"", b" ", b" 12", b"12", b"-3", "é☃🐢".encode(), b"a\x00b"])
SEP = st.sampled_from([b":", b": ", b":  ", b""])
EOL = st.sampled_from([b"\n", b"\r", b"\r\n"])
LINE = st.tuples(FIELD, SEP, VALUE, EOL).map(lambda t: b"".join(t).replace(b"\n", b"").replace(b"\r", b"")[:40]
                                             + t[3])
STREAM = st.lists(LINE | EOL, max_size=30).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(STREAM, st.lists(st.integers(min_value=0, max_value=200), max_size=12))
def test_random_chunkings_give_the_same_items_as_one_feed(stream, cuts):
    whole, p_whole = run(stream)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)])]
    split, p_split = run(stream, chunks)
    assert split == whole
    assert (p_split.last_event_id, p_split.retry) == (p_whole.last_event_id, p_whole.retry)


@settings(max_examples=150, deadline=None)
@given(STREAM)
def test_one_byte_at_a_time_gives_the_same_items(stream):
    assert run(stream, [stream[i:i + 1] for i in range(len(stream))])[0] == run(stream)[0]
