"""Whatever a peer or a file puts in a row, the timeline stays consistent and the window never crashes
(issue 27): values no column can hold are refused with one sentence for that message, before the model
announces anything; bodies nested too deep for Python's parser show as sent."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt

from transport.core.events import Event
from transport.core.har import iter_event_batches
from transport.core.receiver import FeedReceiver
from transport.core.rows import RowError, RowStore
from ui.models.timeline_model import PAYLOAD, SEQ, TimelineModel
from ui.widgets.detail import pretty


def shown(model, col=PAYLOAD):
    return [model.data(model.index(r, col), Qt.ItemDataRole.DisplayRole) for r in range(model.rowCount())]


def raw(**fields):
    """An Event as a peer or a file could make it, bypassing the constructor's checks."""
    base = dict(transport="websocket", direction="in", kind="message", t=1, conn=1, seq=None, size=1, wire=None,
                latency_ms=None, data="x", meta={})
    base.update(fields)
    return Event.__new__(Event, *base.values())


def test_a_lab_marked_server_numbering_beyond_what_a_row_holds_is_refused_in_one_sentence():
    got: list = []
    receiver = FeedReceiver("websocket", got.append, one_way=False)
    receiver.note_epoch({"Duplex-Epoch": "e"})
    receiver.text('{"seq": 1, "ts": 1, "topic": "t", "body": "a"}', 10)
    receiver.text('{"ts": 1, "seq": 100000000000000000000, "topic": "t", "body": "b"}', 11)
    receiver.text('{"seq":9999999999999999,"ts":1,"topic":"t","body":"c"}', 12)  # 16 digits: past 2**53
    receiver.text('{"seq": -4, "ts": 1, "topic": "t", "body": "d"}', 13)
    receiver.text('{"seq": 2, "ts": 1, "topic": "t", "body": "e"}', 14)
    assert [e.kind for e in got] == ["message", "error", "error", "error", "message"]
    assert "100000000000000000000 was refused" in got[1].data and receiver.ledger.lost == 0
    model = TimelineModel()
    model.append_events(got)
    assert shown(model, SEQ) == ["1", "", "", "", "2"] and shown(model)[-1] == '"e"'


def test_a_batch_with_a_row_no_column_can_hold_never_half_applies():
    model = TimelineModel()
    good = [raw(seq=i, data=f"m{i}") for i in range(3)]
    bad = [raw(seq=10 ** 20, data="huge seq"), raw(latency_ms=float("inf"), data="inf"),
           raw(t=2 ** 63, data="late"), raw(size=-(2 ** 64)), raw(data=10 ** 9), raw(meta=[1, 2]),
           raw(seq=1.5)]
    with pytest.raises(RowError):
        RowStore().extend(good + bad)
    model.append_events(good[:1] + bad + good[1:])
    assert model.rowCount() == 1 + len(bad) + 2
    texts = shown(model)
    assert texts[0] == "m0" and texts[-2:] == ["m1", "m2"]  # the good rows show their own payloads
    assert all(t.startswith("A message refused: its ") for t in texts[1:-2]), texts
    assert model.event_at(0).seq == 0 and model.event_at(model.rowCount() - 1).seq == 2


def test_an_imported_file_with_numbers_out_of_range_shows_error_rows(tmp_path, qapp):
    path = tmp_path / "rows.jsonl"
    lines = [{"transport": "websocket", "direction": "in", "kind": "message", "t": 1, "seq": 1, "data": "ok"},
             {"transport": "websocket", "direction": "in", "kind": "message", "t": 2 ** 64, "seq": 2, "data": "x"},
             {"transport": "websocket", "direction": "in", "kind": "message", "t": 3, "seq": 2 ** 63, "data": "y"}]
    text = "\n".join(json.dumps(x) for x in lines) + '\n{"transport": "websocket", "direction": "in", "kind": ' \
        '"message", "t": 4, "latency_ms": 1e400, "data": "z"}\n'
    path.write_text(text)
    model = TimelineModel()
    try:
        for batch in iter_event_batches(path):
            model.append_events(batch)
    except Exception as err:  # a file the importer refuses is one sentence, never a crash
        assert getattr(err, "sentence", None), err
    assert model.rowCount() >= 1 and shown(model)[0] == "ok"
    assert all(t == "ok" or t.startswith("A message refused") for t in shown(model)), shown(model)


def test_a_body_nested_5000_deep_shows_as_sent():
    deep = '{"seq": 1, "ts": 1, "topic": "t", "body": ' + "[" * 5000 + "]" * 5000 + "}"
    e = raw(seq=1, data=deep, meta={"topic": "t"})
    model = TimelineModel()
    model.append_events([e])
    assert shown(model)[0].startswith('{"seq": 1') and pretty(model.event_at(0)) == deep


def test_a_fifo_or_a_directory_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(Exception) as err:
        list(iter_event_batches(fifo))
    assert "not a regular file" in str(err.value)
    with pytest.raises(Exception) as err:
        list(iter_event_batches(tmp_path))
    assert "not a regular file" in str(err.value)


_ints = st.one_of(st.integers(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70), st.none())
_floats = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2 ** 70), 2 ** 70))
_datas = st.one_of(st.none(), st.text(max_size=20), st.binary(max_size=20), st.integers(0, 50), st.lists(st.integers(), max_size=2))
_metas = st.one_of(st.just({}), st.dictionaries(st.sampled_from(["topic", "type", "last_event_id", "event", "latency",
                                                                  "wire_read"]),
                                                st.one_of(st.text(max_size=5), st.integers(-(2 ** 65), 2 ** 65)),
                                                max_size=3), st.lists(st.integers(), max_size=2))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.builds(lambda t, conn, seq, size, wire, lat, data, meta:
                          raw(t=t if t is not None else 0, conn=conn if conn is not None else 0, seq=seq,
                              size=size if size is not None else 0, wire=wire, latency_ms=lat, data=data, meta=meta),
                          _ints, _ints, _ints, _ints, _ints, _floats, _datas, _metas), min_size=1, max_size=8))
def test_any_row_values_leave_the_model_consistent(qapp, events):
    model = TimelineModel(cap=5)
    model.append_events(events)
    model.append_events([raw(data="after")])
    assert model.rowCount() == min(5, len(events) + 1) == model.stored
    assert shown(model)[-1] == "after"
    for r in range(model.rowCount()):
        for c in range(model.columnCount()):
            model.data(model.index(r, c), Qt.ItemDataRole.DisplayRole)
            model.data(model.index(r, c), Qt.ItemDataRole.ToolTipRole)
