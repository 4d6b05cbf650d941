"""The lab's stdout lines, read once for every launcher."""

import pytest

from transport.core.announce import AnnounceError, parse


def test_the_listening_line_gives_url_port_and_token():
    said = parse(b'{"event": "listening", "url": "http://127.0.0.1:8123", "port": 8123, "admin_token": "t0k"}\n')
    assert said is not None and said.event == "listening"
    assert (said.url, said.port, said.admin_token) == ("http://127.0.0.1:8123", 8123, "t0k")


def test_log_text_is_not_a_line_of_the_lab():
    assert parse(b"WARNING something happened") is None and parse("[1, 2]") is None and parse("{}") is None


def test_an_error_line_and_a_cluster_line():
    assert parse('{"event": "error", "error": "port 80 is taken"}').error == "port 80 is taken"
    said = parse('{"event": "cluster", "workers": [{"id": "w1"}], "said": "worker w1 killed"}')
    assert said is not None and said.workers == [{"id": "w1"}]


@pytest.mark.parametrize("line", ['{"event": "listening", "url": "http://x", "port": 0, "admin_token": "t"}',
                                  '{"event": "listening", "port": "eighty"}', '{"event": "listening"}'])
def test_a_listening_line_without_what_readers_need_is_refused(line):
    with pytest.raises(AnnounceError):
        parse(line)
