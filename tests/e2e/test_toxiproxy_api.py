"""The lab's fault proxies through the Toxiproxy API: toxiproxy-python against the real lab process."""

from __future__ import annotations

import socket
import types

import pytest
import requests
import toxiproxy.api
from toxiproxy import Toxiproxy


@pytest.fixture
def client(lab, monkeypatch):
    """toxiproxy-python pointed at the lab (base URL …/_admin) and carrying the admin token."""
    auth = {"Authorization": f"Bearer {lab.token}"}
    shim = types.SimpleNamespace(
        get=lambda url, **kw: requests.get(url, headers=auth, timeout=10, **kw),
        post=lambda url, **kw: requests.post(url, headers=auth, timeout=10, **kw),
        delete=lambda url, **kw: requests.delete(url, headers=auth, timeout=10, **kw),
    )
    monkeypatch.setattr(toxiproxy.api, "requests", shim)
    server = Toxiproxy()
    server.update_api_consumer("127.0.0.1", f"{lab.port}/_admin")
    yield server
    server.destroy_all()


def get_index(listen: str) -> int:
    return requests.get(f"http://{listen}/", timeout=10).status_code


def test_a_toxiproxy_script_drives_the_lab(lab, client):
    proxy = client.create(upstream=f"127.0.0.1:{lab.port}", name="lab")
    host, port = proxy.listen.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    assert get_index(proxy.listen) == 200  # the lab, through the proxy
    proxy.add_toxic(type="latency", attributes={"latency": 50, "jitter": 10})
    proxy.add_toxic(type="bandwidth", stream="upstream", attributes={"rate": 100})
    assert set(proxy.toxics()) == {"latency_downstream", "bandwidth_upstream"}
    assert get_index(proxy.listen) == 200
    with proxy.down():
        with pytest.raises(requests.ConnectionError):
            get_index(proxy.listen)
    assert get_index(proxy.listen) == 200  # back on the same port
    proxy.destroy_toxic("latency_downstream")
    assert set(proxy.toxics()) == {"bandwidth_upstream"}
    assert set(client.proxies()) == {"lab"}
    assert proxy.destroy()
    assert client.proxies() == {}


def test_the_admin_api_needs_the_token_and_refuses_web_pages(lab):
    base = f"{lab.url}/_admin"
    assert requests.get(base + "/proxies", timeout=10).status_code == 401
    auth = {"Authorization": f"Bearer {lab.token}"}
    foreign = {**auth, "Origin": "https://evil.example"}
    assert requests.get(base + "/proxies", headers=foreign, timeout=10).status_code == 403
    resp = requests.get(base + "/proxies", headers=auth, timeout=10)
    assert resp.status_code == 200 and "Access-Control-Allow-Origin" not in resp.headers


def test_bad_requests_say_why(lab):
    auth = {"Authorization": f"Bearer {lab.token}"}
    base = f"{lab.url}/_admin/proxies"
    assert requests.post(base, json={"name": "x", "upstream": "nowhere"}, headers=auth, timeout=10).status_code == 400
    made = requests.post(base, json={"name": "x", "upstream": f"127.0.0.1:{lab.port}"}, headers=auth, timeout=10)
    assert made.status_code == 201
    assert requests.post(base, json={"name": "x", "upstream": f"127.0.0.1:{lab.port}"}, headers=auth,
                         timeout=10).status_code == 409
    bad = requests.post(base + "/x/toxics", json={"type": "gremlins"}, headers=auth, timeout=10)
    assert bad.status_code == 400 and "unknown toxic" in bad.json()["error"]
    assert requests.get(base + "/nope", headers=auth, timeout=10).status_code == 404
    listen = made.json()["listen"]
    host, port = listen.rsplit(":", 1)
    requests.post(base + "/x", json={"enabled": False}, headers=auth, timeout=10)
    with socket.socket() as s:
        assert s.connect_ex((host, int(port))) != 0  # down: refused
    assert requests.post(f"{lab.url}/_admin/reset", headers=auth, timeout=10).status_code == 204
    with socket.socket() as s:
        assert s.connect_ex((host, int(port))) == 0  # reset: up again
