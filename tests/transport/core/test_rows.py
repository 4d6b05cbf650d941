"""The timeline's column store: rows come back as the same events, drop cheaply, and search like before."""

from __future__ import annotations

from hypothesis import given, strategies as st

from transport.core.events import Event
from transport.core.rows import RowStore
from transport.core.rows import NAMED, type_matches


def sample() -> list[Event]:
    return [
        Event("sse", "in", "message", 10, 1, 7, 64, 90, 1.5, '{"seq":7,"topic":"price"}', {"type": "price"}),
        Event("sse", "in", "message", 11, 1, None, 3, None, None, "hey", {}),
        Event("websocket", "out", "message", 12, 2, None, 2, 8, None, b"\xde\xad", {}),
        Event("short_poll", "state", "fault", 13, 0, None, 0, None, None, "proxy down", {"x": 1}),
        Event("short_poll", "in", "message", 14, 3, 123456789012, 5, None, 0.0, '{"seq":123456789012}',
              {"topic": "Likes"}),
    ]


def test_rows_come_back_as_the_same_events():
    store = RowStore()
    store.extend(sample())
    assert store.events() == sample() and len(store) == 5
    assert store.snapshot().events() == sample()


def test_dropping_the_oldest_keeps_the_rest_and_compacts():
    store = RowStore()
    many = [Event("websocket", "in", "message", i, 1, i, 1, 3, 0.5, str(i), {}) for i in range(10_000)]
    store.extend(many)
    store.drop_oldest(100)  # a start offset moves
    assert len(store) == 9_900 and store.physical == 10_000 and store.event(0) == many[100]
    store.drop_oldest(4_900)  # a quarter and more dead: compacted
    assert len(store) == 5_000 and store.physical == 5_000 and store.event(0) == many[5_000]
    assert store.events()[-1] == many[-1]


def test_search_matches_payload_kind_seq_and_topic_without_case():
    store = RowStore()
    store.extend(sample())
    assert list(store.search("price", None, type_matches)) == [0]
    assert list(store.search("fault", None, type_matches)) == [3]
    assert list(store.search("likes", None, type_matches)) == [4]  # the topic, in any case
    assert list(store.search("dead", None, type_matches)) == [2]  # binary: by its hex
    assert list(store.search("1234567", None, type_matches)) == [4]
    assert list(store.search("", NAMED, type_matches)) == [0]
    assert list(store.search("hey", NAMED, type_matches)) == []
    assert list(store.search("message", None, type_matches, start=3)) == [4]


def test_a_topic_only_meta_is_coded_and_every_row_reads_back_exactly():
    """Lab messages carry {"topic": T}: kept as a code, not a dict per row; what a row shows is unchanged."""
    from transport.core.events import Event
    from transport.core.rows import RowStore

    events = [Event("websocket", "in", "message", 10 + i, 1, i, 80, 82, 1.5, f'{{"seq":{i}}}',
                    {"topic": ("price", "likes", "chat")[i % 3]}) for i in range(30)]
    events.append(Event("sse", "in", "message", 99, 2, 31, 10, None, None, "x", {"type": "price",
                                                                              "last_event_id": "31"}))
    events.append(Event("websocket", "in", "message", 100, 1, None, 3, None, None, b"\x01",
                        {"topic": "t", "ledger": "duplicate"}))
    events.append(Event("websocket", "state", "open", 101))
    store = RowStore()
    store.extend(events)
    assert store.events() == events
    assert list(store.sparse) == [31]  # only the row whose meta has no coded shape (a ledger verdict)
    assert list(store.search("likes", None, lambda e, w: True)) == [i for i in range(30) if i % 3 == 1]
    copy = store.snapshot()
    store.drop_oldest(5)
    assert store.events() == events[5:] and copy.events() == events


def naive_search(events, needle):
    """What the filter means, a row at a time: the payload (binary as hex) lower-cased contains it."""
    def text(e):
        if e.data is None:
            return ""
        return e.data.hex() if isinstance(e.data, bytes) else e.data.lower()
    return [i for i, e in enumerate(events) if needle in text(e)]


payloads = st.one_of(st.text(alphabet="abcABC xyzÉéİK\u212a@`[{", max_size=12), st.binary(max_size=6), st.none())


@given(st.lists(payloads, max_size=40), st.text(alphabet="abcxyzéi k@`{[", min_size=1, max_size=3),
       st.integers(0, 10), st.sampled_from([1, 2, 5, 1 << 22]))
def test_the_payload_search_finds_what_a_row_by_row_search_finds(datas, needle, dropped, chunk):
    """Hits are never across two rows, text lower-cases as str.lower does (beyond ASCII too), binary
    reads as hex; after dropping and compacting rows as well; whatever the size of the pieces the
    buffer is lower-cased in."""
    from transport.core import rows

    rows.CHUNK = chunk
    try:
        check_search(datas, needle, dropped)
    finally:
        rows.CHUNK = 1 << 22


def check_search(datas, needle, dropped):
    events = [Event("websocket", "in", "message", i, 1, None, 0, None, None, d, {}) for i, d in enumerate(datas)]
    store = RowStore()
    store.extend(events[: len(events) // 2])
    store.extend(events[len(events) // 2:])
    needle = needle.lower()
    got = set(store._payload_rows(needle, store._start, 0).tolist())
    assert got == set(naive_search(events, needle))
    for start in (len(events) // 2, len(events) - 1):  # a filter kept current: the newest rows only
        if start > 0:
            newest = set(store._payload_rows(needle, store._start + start, start).tolist())
            assert newest == {i for i in naive_search(events, needle) if i >= start}
    drop = min(dropped, len(events))
    store.drop_oldest(drop)
    store._compact() if store._start else None
    assert set(store._payload_rows(needle, store._start, 0).tolist()) == set(naive_search(events[drop:], needle))
    assert store.events() == events[drop:]


def test_metas_of_the_feed_shapes_read_back_in_their_key_order():
    metas = [{"type": "price", "last_event_id": "5", "topic": "price"},
             {"type": "price", "last_event_id": "5", "ledger": "duplicate", "topic": "price"},
             {"type": "message", "last_event_id": "4"},  # an id that is not the seq: kept whole
             {"topic": "chat", "latency": "rtt"},
             {"latency": "rtt"},
             {"latency": 3},
             {"status": 101, "request_headers": {"a": "b"}}]
    events = [Event("sse", "in", "message", 1, 1, 5, 0, None, None, "x", m) for m in metas]
    store = RowStore()
    store.extend(events)
    got = store.events()
    assert got == events and [list(e.meta) for e in got] == [list(m) for m in metas]
    assert sorted(store.sparse) == [1, 2, 5, 6]


@given(st.lists(st.one_of(st.integers(-10**15, 10**15), st.integers(0, 1000), st.just(0)), max_size=60),
       st.text(alphabet="0123456789", min_size=1, max_size=20))
def test_a_number_filter_finds_the_seqs_whose_digits_contain_it(seqs, needle):
    import numpy as np
    from transport.core.rows import NONE, _digits_in

    column = np.array(seqs + [NONE], dtype=np.int64)
    assert _digits_in(column, needle).tolist() == [i for i, n in enumerate(seqs) if needle in str(n)]


def test_a_batch_of_lab_sse_events_is_coded_whole_and_one_odd_id_keeps_only_itself():
    def sse(seq, last_id):
        return Event("sse", "in", "message", seq, 1, seq, 9, 40, 0.5, f'{{"seq":{seq}}}',
                     {"type": ("price", "message")[seq % 2], "last_event_id": last_id, "topic": "price"})
    plain = [sse(i, str(i)) for i in range(1, 50)]
    odd = [sse(i, str(i)) for i in range(50, 60)] + [sse(60, "x")]
    store = RowStore()
    store.extend(plain)
    store.extend(odd)
    assert store.events() == plain + odd and list(store.sparse) == [59]


def test_a_shared_reads_total_is_coded_and_reads_back_in_its_key_order():
    def sse(seq, read=None, last_id=None):
        meta = {"type": "price", "last_event_id": last_id or str(seq)}
        if read is not None:
            meta["wire_read"] = read
        meta["topic"] = "price"
        return Event("sse", "in", "message", seq, 1, seq, 9, 40, None, f'{{"seq":{seq}}}', meta)
    batch = [sse(1, 120), sse(2, 120), sse(3), sse(4, 80), sse(5, 80)]  # the fast path, mixed
    odd = [sse(6, 0), sse(7, "12"), sse(8, 2**40), sse(9, 50, last_id="x")]  # values the column cannot hold
    alone = [Event("sse", "in", "comment", 10, 1, None, 2, 7, None, "hb", {"wire_read": 30}),
             Event("sse", "in", "retry", 11, 1, None, 0, 7, None, "retry: 5 ms", {"retry_ms": 5, "wire_read": 30})]
    store = RowStore()
    store.extend(batch)
    store.extend(odd)
    store.extend(alone)
    got = store.events()
    assert got == batch + odd + alone
    assert [list(e.meta) for e in got] == [list(e.meta) for e in batch + odd + alone]
    assert sorted(store.sparse) == [5, 6, 7, 8, 10]  # the comment's total is coded, the retry's kept whole


def test_a_socketio_events_name_is_coded_and_reads_back():
    metas = [{"event": "price", "topic": "price"}, {"event": "chat", "topic": "chat", "latency": "rtt"},
             {"event": "x"}, {"event": 5, "topic": "t"}]
    events = [Event("socketio", "in", "message", 1, 1, i, 0, None, None, "x", m) for i, m in enumerate(metas)]
    store = RowStore()
    store.extend(events)
    got = store.events()
    assert got == events and [list(e.meta) for e in got] == [list(m) for m in metas]
    assert list(store.sparse) == [3]  # only the name that is not a string is kept whole


int64s = st.one_of(st.integers(-(1 << 63) + 1, (1 << 63) - 1), st.integers(-300, 70_000))
latencies = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64),
                      st.integers(0, 5_000_000).map(lambda ns: ns / 1e6), st.sampled_from([0.0, -0.0, 1e300]))


@given(st.lists(st.tuples(int64s, st.integers(0, (1 << 63) - 1), st.one_of(st.none(), int64s), int64s,
                          st.one_of(st.none(), int64s), latencies, st.one_of(st.text(max_size=5), st.none())),
                max_size=30),
       st.integers(0, 30), st.integers(-(1 << 40), 1 << 40))
def test_numbers_kept_narrow_read_back_exactly(rows, dropped, step):
    """Times, connections, seqs, sizes, wire sizes and latencies of any 64-bit value (a time far from the
    last, a size that is not the payload's, a latency that is no whole number of nanoseconds, -0.0) read
    back as they were, after widening, dropping and compacting, and in a snapshot."""
    events = [Event("websocket", "in", "message", t * step % (1 << 62), conn, seq, size, wire, lat, data, {})
              for t, conn, seq, size, wire, lat, data in rows]
    store = RowStore()
    for part in (events[:len(events) // 3], events[len(events) // 3:]):
        store.extend(part)
    assert store.events() == events
    assert [repr(e.latency_ms) for e in store.events()] == [repr(e.latency_ms) for e in events]
    copy = store.snapshot()
    drop = min(dropped, len(events))
    store.drop_oldest(drop)
    store._compact() if store._start else None
    assert store.events() == events[drop:] and copy.events() == events


def test_a_million_feed_rows_take_their_bytes_and_a_few_more():
    """The lab's rows (a time shared by a read, one connection, seqs counting up, a size that is the
    payload's, a wire size two bytes more, a latency in microseconds) cost their payload and under 30 bytes."""
    events = [Event("websocket", "in", "message", 10**12 + (i // 10) * 50_000, 3, i, 80, 82, (i % 997) / 1e3,
                    "x" * 80, {"topic": "price"}) for i in range(200_000)]
    store = RowStore()
    for i in range(0, len(events), 660):
        store.extend(events[i:i + 660])
    columns = sum(c.nbytes() for c in (store.t, store.conn, store.seq, store.size, store.wire, store.lat,
                                       store.code, store.topic, store.etype, store.read, store.ends))
    columns += len(store.shape) + len(store.pkind)
    assert columns / len(events) < 30, columns / len(events)
    assert store.event(123_456) == events[123_456] and not store.odd


def test_a_regular_expression_filter_reads_each_row_whole_without_case():
    """``/…/`` is a pattern over each row's payload (binary as hex) and its topic and event names; it anchors
    at a row's own ends; a pattern that is not one says so in one sentence."""
    import pytest

    from transport.core.rows import FilterError, parse_filter

    store = RowStore()
    store.extend(sample())
    def rows(text):
        needle, where = parse_filter(text)
        return list(store.search(needle, None, type_matches, where=where))
    assert parse_filter("/Hello World/") == ("", {"re": "Hello World"})
    assert rows(r"/^\{.seq.:7,/") == [0]  # anchored at the row's start, not the buffer's
    assert rows("/^hey$/") == [1] and rows("/HEY/") == [1]
    assert rows("/^dead$/") == [2]
    assert rows("/lik.s/") == [4]  # the topic's name
    assert rows("topic:Likes /seq/") == [4]
    from transport.core import rows as rows_module
    rows_module.REGEX_SLICE = 2  # slices of two rows: the same rows found
    try:
        assert rows("/^hey$/") == [1] and rows("/lik.s/") == [4] and rows("/e/") == [0, 1, 2, 4]
    finally:
        rows_module.REGEX_SLICE = 1 << 16
    with pytest.raises(FilterError, match="Not a regular expression"):
        rows("/(/")


@given(st.lists(st.one_of(st.text(alphabet="abK ", max_size=300), st.none(), st.binary(max_size=40)), min_size=1,
                max_size=400),
       st.lists(st.integers(1, 150), max_size=4), st.integers(1, 200))
def test_payloads_across_blocks_read_back_and_search_after_drops_and_compactions(datas, drops, batch):
    """The ends are kept per block of 64 rows: rows of any length across blocks, batches that start mid-block,
    drops and compactions that cut a block in two read back and search as a row-by-row reading says."""
    events = [Event("websocket", "in", "message", i, 1, None, 0, None, None, d, {}) for i, d in enumerate(datas)]
    store = RowStore()
    for i in range(0, len(events), batch):
        store.extend(events[i:i + batch])
    gone = 0
    for drop in drops:
        drop = min(drop, len(events) - gone)
        store.drop_oldest(drop)
        store._compact() if store._start else None
        gone += drop
        kept = events[gone:]
        assert store.events() == kept
        assert set(store._payload_rows("ak", store._start, 0).tolist()) == set(naive_search(kept, "ak"))
    copy = store.snapshot()
    assert copy.events() == events[gone:]
    store.extend(events[:70])  # more after the cuts: the blocks go on
    assert store.events() == events[gone:] + events[:70]


@given(st.lists(st.lists(st.one_of(st.none(), st.integers(-3, 3), st.integers(-(1 << 63) + 1, (1 << 63) - 1)),
                         max_size=40), max_size=30), st.integers(0, 200))
def test_a_spilling_column_keeps_rare_values_aside_and_every_value_reads_back(batches, drop):
    """A column read a row at a time keeps a rare value that does not fit aside (a handshake's 400-byte heads
    among a million 2-byte frame heads) and widens when they are not rare; every value reads back, after drops too."""
    import numpy as np

    from transport.core.columns import NONE, IntColumn

    column = IntColumn(spill=True)
    values: list[int | None] = []
    for batch in [[0] * 600] + batches:
        column.extend64(np.array([NONE if v is None else v for v in batch], dtype=np.int64))
        values += batch
    assert [column.get(j) for j in range(len(values))] == values
    drop = min(drop, len(values))
    column.drop_front(drop)
    assert [column.get(j) for j in range(len(values) - drop)] == values[drop:]
    copy = column.tail(1) if len(values) > drop else column
    assert [copy.get(j) for j in range(len(copy))] == values[drop + (1 if len(values) > drop else 0):]


def test_one_handshake_row_does_not_widen_a_million_frames_wire_column():
    store = RowStore()
    store.extend([Event("websocket", "state", "open", 1, 1, None, 0, 423, None, "ws://x/ws", {})])
    store.extend([Event("websocket", "in", "message", 2, 1, i, 80, 82, None, "x" * 80, {}) for i in range(5000)])
    assert store.wire.a.typecode == "b" and store.event(0).wire == 423 and store.event(3).wire == 82
