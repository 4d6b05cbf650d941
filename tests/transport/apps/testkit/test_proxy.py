"""The kit's fault proxy handle: where a URL goes through it (no lab needed)."""

from __future__ import annotations

import pytest

from transport.apps.testkit.proxy import FaultProxy, upstream_address


def test_an_upstream_is_host_port_or_a_url() -> None:
    assert upstream_address("127.0.0.1:8080") == "127.0.0.1:8080"
    assert upstream_address("http://localhost:3000/socket.io/") == "localhost:3000"
    assert upstream_address("https://example.test/x") == "example.test:443"
    with pytest.raises(ValueError, match="host:port or a URL"):
        upstream_address("8080")


def test_url_for_rewrites_only_urls_to_its_upstream() -> None:
    proxy = FaultProxy(None, None, "127.0.0.1:8080", lambda text, where: None)  # type: ignore[arg-type]
    proxy.port = 41000
    assert proxy.url_for("http://localhost:8080/events?x=1") == "http://127.0.0.1:41000/events?x=1"
    assert proxy.url_for("ws://127.0.0.1:8080/ws") == "ws://127.0.0.1:41000/ws"
    with pytest.raises(ValueError, match="does not go to this proxy's upstream 127.0.0.1:8080"):
        proxy.url_for("http://127.0.0.1:9090/events")
