"""The sentences errors become."""

from transport.core.errors import body_reason


def test_a_refusals_body_gives_its_reason_on_one_line():
    assert body_reason(b'{"error": "the fault proxy blocks WebSocket upgrades"}') == \
        "the fault proxy blocks WebSocket upgrades"
    assert body_reason(b"Forbidden\nby policy") == "Forbidden by policy"
    assert body_reason(b"<html><body>403</body></html>") == "" and body_reason(b"[1, 2]") == ""
    assert len(body_reason(b"x" * 1000)) == 200
