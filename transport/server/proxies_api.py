"""``/_admin/proxies…``: the fault proxies, in the shape of Toxiproxy's HTTP API.

A script written for Toxiproxy works against the lab with the base URL
``http://127.0.0.1:PORT/_admin`` and the admin token. The routes live in the admin sub-application
(admin.py), behind its one guard: the token (401 without) and no foreign ``Origin`` (403).
"""

from __future__ import annotations

import json

from typing import Awaitable

from aiohttp import web

from transport.server.faultproxy import Proxy, Toxic, ToxicError, check_name, is_loopback_host
from transport.server.bodies import BadInput, json_error, read_json
from transport.server.keys import CONFIG, PROXIES, lab_app

VERSION = "duplex-faultproxy 1 (toxiproxy API 2.x shape)"


async def _body(request: web.Request) -> dict:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    return body


def _proxy(request: web.Request) -> Proxy:
    proxy = lab_app(request)[PROXIES].get(request.match_info["proxy"])
    if proxy is None:
        raise web.HTTPNotFound(text=json.dumps({"error": "proxy not found"}), content_type="application/json")
    return proxy


async def list_proxies(request: web.Request) -> web.Response:
    return web.json_response({name: p.to_json() for name, p in lab_app(request)[PROXIES].items()})


async def create_proxy(request: web.Request) -> web.Response:
    body = await _body(request)
    try:
        name = check_name(body.get("name"), "a proxy's name")
        listen, upstream, enabled = body.get("listen") or "127.0.0.1:0", body.get("upstream") or "", \
            body.get("enabled", True)
        if not isinstance(listen, str) or not isinstance(upstream, str) or not isinstance(enabled, bool):
            raise ToxicError("listen and upstream must be strings (host:port), enabled a boolean")
        proxy = Proxy(name, listen, upstream, enabled)
    except ToxicError as exc:
        return json_error(400, str(exc))
    if name in lab_app(request)[PROXIES]:
        return json_error(409, "proxy already exists")
    if not is_loopback_host(proxy.host) and is_loopback_host(lab_app(request)[CONFIG].host):
        return json_error(400, f"listen must be a loopback address (127.0.0.1, ::1, localhost) while the lab itself "
                           f"listens on loopback only, got {proxy.host!r}")
    try:
        await proxy.set_enabled(proxy.want_enabled)
    except OSError as exc:
        return json_error(409, f"cannot listen on {proxy.listen}: {exc.strerror or exc}")
    loop = _loop(proxy, lab_app(request)[PROXIES])
    if loop is not None:
        await proxy.close()
        return json_error(400, f"the upstream {proxy.upstream} leads back to this proxy ({loop}): each connection "
                           "would open another, without end")
    lab_app(request)[PROXIES][name] = proxy
    return web.json_response(proxy.to_json(), status=201)


def _address(host: str, port: int) -> tuple[str, int]:
    """Where a connection to ``host:port`` lands, for the lab's own listeners (loopback and every-address
    listeners are one place)."""
    wild = host in ("", "0.0.0.0", "::") or is_loopback_host(host)
    return ("*" if wild else host.lower(), port)


def _loop(new: Proxy, proxies: dict[str, Proxy]) -> str | None:
    """The chain of the lab's proxies ``new``'s upstream leads through, when it comes back to ``new``."""
    listening = {_address(p.host, p.port): p for p in [*proxies.values(), new]}
    chain = [new.name]
    at = _address(new.up_host, new.up_port)
    for _ in range(len(listening) + 1):
        hop = listening.get(at)
        if hop is None:
            return None
        chain.append(hop.name)
        if hop is new:
            return " → ".join(chain)
        at = _address(hop.up_host, hop.up_port)
    return " → ".join(chain)


async def get_proxy(request: web.Request) -> web.Response:
    return web.json_response(_proxy(request).to_json())


async def update_proxy(request: web.Request) -> web.Response:
    proxy = _proxy(request)
    body = await _body(request)
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            return json_error(400, "enabled must be true or false")
        try:
            await proxy.set_enabled(body["enabled"])
        except OSError as exc:
            return json_error(409, f"cannot listen on {proxy.listen}: {exc.strerror or exc}")
    return web.json_response(proxy.to_json())


async def delete_proxy(request: web.Request) -> web.Response:
    proxy = _proxy(request)
    await proxy.close()
    del lab_app(request)[PROXIES][proxy.name]
    return web.Response(status=204)


async def list_toxics(request: web.Request) -> web.Response:
    return web.json_response([t.to_json() for t in _proxy(request).toxics.values()])


async def create_toxic(request: web.Request) -> web.Response:
    proxy = _proxy(request)
    try:
        toxic = Toxic.from_json(await _body(request))
    except ToxicError as exc:
        return json_error(400, str(exc))
    if toxic.name in proxy.toxics:
        return json_error(409, "toxic already exists")
    proxy.add_toxic(toxic)
    return web.json_response(toxic.to_json())


def _toxic(request: web.Request) -> tuple[Proxy, Toxic]:
    proxy = _proxy(request)
    toxic = proxy.toxics.get(request.match_info["toxic"])
    if toxic is None:
        raise web.HTTPNotFound(text=json.dumps({"error": "toxic not found"}), content_type="application/json")
    return proxy, toxic


async def get_toxic(request: web.Request) -> web.Response:
    return web.json_response(_toxic(request)[1].to_json())


async def update_toxic(request: web.Request) -> web.Response:
    proxy, toxic = _toxic(request)
    body = await _body(request)
    attributes = body.get("attributes") or {}
    if not isinstance(attributes, dict):
        return json_error(400, '"attributes" must be an object, like {"latency": 100}')
    merged = {**toxic.to_json(), **body, "attributes": {**toxic.attributes, **attributes}}
    try:
        updated = Toxic.from_json(merged)
    except ToxicError as exc:
        return json_error(400, str(exc))
    proxy.replace_toxic(updated)
    return web.json_response(updated.to_json())


async def delete_toxic(request: web.Request) -> web.Response:
    proxy, toxic = _toxic(request)
    proxy.remove_toxic(toxic.name)
    return web.Response(status=204)


async def reset(request: web.Request) -> web.Response:
    for proxy in lab_app(request)[PROXIES].values():
        proxy.clear_toxics()
        await proxy.set_enabled(True)
    return web.Response(status=204)


async def version(request: web.Request) -> web.Response:
    return web.Response(text=VERSION)


def add_routes(admin: web.Application) -> None:
    """The routes, on the admin sub-application (mounted at ``/_admin``)."""
    r = admin.router
    r.add_get("/proxies", list_proxies)
    r.add_post("/proxies", create_proxy)
    r.add_get("/proxies/{proxy}", get_proxy)
    r.add_post("/proxies/{proxy}", update_proxy)
    r.add_delete("/proxies/{proxy}", delete_proxy)
    r.add_get("/proxies/{proxy}/toxics", list_toxics)
    r.add_post("/proxies/{proxy}/toxics", create_toxic)
    r.add_get("/proxies/{proxy}/toxics/{toxic}", get_toxic)
    r.add_post("/proxies/{proxy}/toxics/{toxic}", update_toxic)
    r.add_delete("/proxies/{proxy}/toxics/{toxic}", delete_toxic)
    r.add_post("/reset", reset)
    r.add_get("/version", version)


async def close_all(app: web.Application) -> None:
    for proxy in list(app[PROXIES].values()):
        await proxy.close()
