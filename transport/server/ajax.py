"""The half-duplex request/response world: AJAX calls and a full-page postback.

- ``POST /api/messages`` (JSON ``{"topic", "body"}``, or any JSON value)
  publishes to the feed, so every transport sees it; answers
  ``{"ok": true, "seq": N}``.
- ``GET /api/session-value`` answers an HTML fragment with the stored value;
  ``POST /api/session-value`` (JSON ``{"value": "…"}``) sets it and answers the
  same fragment. (The sessions issue moves the value into the session.)
- ``GET /form`` answers a whole HTML page whose hidden field ``state`` carries
  the page state (value, edit count, recent values), signed like ASP.NET's
  view state; ``POST /form`` (the form, urlencoded) posts it all back and gets
  a whole new page. A tampered state gets 400.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
from typing import Awaitable

from aiohttp import web
from redis.exceptions import RedisError

from transport.server.bodies import BadInput, loads, publish_client_message, read_json
from transport.server.keys import BACKPLANE, CONFIG, VALUES, Handler
from transport.server.state import HISTORY, ValueStore
from transport.server.session_http import SESSION
from transport.server.origin import origin_allowed
from transport.server.passthrough import answered

log = logging.getLogger("duplex.server.ajax")

MAX_VALUE = 4096


def _error(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status)


@web.middleware
def same_origin_posts(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """A page on another origin must not publish or change state (CSRF). (Pass-through: passthrough.py.)"""
    if request.method == "POST" and not origin_allowed(request):
        return answered(_error(403, "cross-origin requests are not allowed"))
    return handler(request)


async def messages_handler(request: web.Request) -> web.Response:
    obj = await read_json(request, "the message")
    msg = await publish_client_message(request.app, obj)
    return web.json_response({"ok": True, "seq": msg.seq})


def page_key(secret: str, key: str) -> bytes:
    """The key that signs a session's page state: derived from the lab's secret, so every worker of a cluster
    signs (and checks) a page the same way."""
    return hmac.new(secret.encode(), b"page-state:" + key.encode(), hashlib.sha256).digest()


def _key(request: web.Request) -> str:
    session = request.get(SESSION)
    return session.sid if session is not None else ""


async def value_store(request: web.Request) -> ValueStore:
    """The value of the request's session, or the anonymous one (no session id presented). In a cluster it
    lives on Redis, so a postback that the balancer sends to another worker finds the value it changed."""
    stores = request.app[VALUES]
    key = _key(request)
    store = stores.get(key)
    if store is None or not store.key:
        store = stores[key] = ValueStore(key=page_key(request.app[CONFIG].admin_token, key))
    backplane = request.app.get(BACKPLANE)
    if backplane is not None:
        try:
            shared = await backplane.load_value(key)
        except (RedisError, OSError) as exc:
            log.warning("the AJAX value could not be read from Redis (%s): this worker's own is used", exc)
            shared = None
        if shared is not None:
            store.value, store.edits = str(shared.get("value", "")), int(shared.get("edits", 0))
            store.history = [str(v) for v in shared.get("history", [])][-HISTORY:]
    return store


def _text(value: str) -> bool:
    """Whether ``value`` is text a page can carry (JSON lets a lone surrogate through; UTF-8 cannot)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _set(request: web.Request, store: ValueStore, value: str) -> None:
    store.set(value)
    session = request.get(SESSION)
    if session is not None:
        session.values["value"] = value
    backplane = request.app.get(BACKPLANE)
    if backplane is not None:
        try:
            await backplane.save_value(_key(request), {"value": store.value, "edits": store.edits,
                                                       "history": store.history})
        except (RedisError, OSError) as exc:
            log.warning("the AJAX value could not be written to Redis (%s): only this worker has it", exc)


def fragment(store: ValueStore) -> web.Response:
    body = f'<span id="session-value" data-edits="{store.edits}">{html.escape(store.value)}</span>'
    return web.Response(text=body, content_type="text/html", headers={"Cache-Control": "no-store"})


async def value_get_handler(request: web.Request) -> web.Response:
    return fragment(await value_store(request))


async def value_post_handler(request: web.Request) -> web.Response:
    obj = await read_json(request, 'the body ({"value": "…"})')
    value = obj.get("value") if isinstance(obj, dict) else None
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        return _error(400, f'"value" must be a string of at most {MAX_VALUE} characters')
    if not _text(value):
        return _error(400, '"value" has a lone surrogate (\\ud800 to \\udfff alone): not text a page can show')
    store = await value_store(request)
    await _set(request, store, value)
    return fragment(store)


# -- the postback page ------------------------------------------------------------
def _sign(store: ValueStore, payload: bytes) -> str:
    return hmac.new(store.key, payload, hashlib.sha256).hexdigest()[:32]


def encode_state(store: ValueStore) -> str:
    payload = json.dumps({"value": store.value, "edits": store.edits, "history": store.history},
                         separators=(",", ":")).encode()
    return base64.b64encode(payload).decode() + "." + _sign(store, payload)


def decode_state(store: ValueStore, state: str) -> dict | None:
    raw, _, mac = state.partition(".")
    try:
        payload = base64.b64decode(raw, validate=True)
    except ValueError:
        return None
    # compared as bytes: a forged MAC with non-ASCII characters is just wrong, not an error
    if not hmac.compare_digest(mac.encode("utf-8", "surrogateescape"), _sign(store, payload).encode()):
        return None
    try:
        state = loads(payload.decode("utf-8"), "the signed state")
    except (BadInput, UnicodeDecodeError):
        return None
    return state if isinstance(state, dict) else None


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Duplex lab — postback form</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; margin: 2em auto; max-width: 42em; color: #222; }}
header {{ border-bottom: 2px solid #1565c0; margin-bottom: 1em; }}
nav a {{ margin-right: 1em; color: #1565c0; }}
label {{ display: block; margin: .5em 0 .2em; font-weight: 600; }}
input[type=text] {{ width: 100%; padding: .4em; border: 1px solid #999; border-radius: 3px; }}
button {{ margin-top: .8em; padding: .4em 1.2em; background: #1565c0; color: #fff; border: 0; }}
.history li {{ color: #555; }}
footer {{ margin-top: 2em; font-size: 80%; color: #777; }}
</style></head>
<body>
<header><h1>Settings</h1>
<nav><a href="/form">Form</a><a href="/api/session-value">Value</a><a href="/">Lab</a></nav></header>
<main>
<p>{notice}</p>
<form method="post" action="/form">
<input type="hidden" name="state" value="{state}">
<label for="value">Value</label>
<input type="text" id="value" name="value" value="{value}" maxlength="{max_value}">
<button type="submit" name="action" value="save">Save</button>
</form>
<h2>Recent values</h2>
<ul class="history">{history}</ul>
</main>
<footer>Duplex lab server · a whole page for every change: this is a postback.</footer>
</body></html>
"""


def page(store: ValueStore, notice: str) -> web.Response:
    body = PAGE.format(
        notice=html.escape(notice), state=html.escape(encode_state(store)), value=html.escape(store.value),
        max_value=MAX_VALUE, history="".join(f"<li>{html.escape(v)}</li>" for v in reversed(store.history)))
    return web.Response(text=body, content_type="text/html", headers={"Cache-Control": "no-store"})


async def form_get_handler(request: web.Request) -> web.Response:
    store = await value_store(request)
    return page(store, f"{store.edits} edits so far.")


async def form_post_handler(request: web.Request) -> web.Response:
    store = await value_store(request)
    try:
        form = await request.post()
    except (LookupError, UnicodeDecodeError, ValueError) as err:  # a part in utf-7, an unknown charset…
        return web.Response(status=400, text="<!DOCTYPE html><title>Bad form</title><p>The form could not be "
                            f"read: {html.escape(str(err)[:200])}.</p>", content_type="text/html")
    state = decode_state(store, str(form.get("state", "")))
    value = form.get("value")
    if state is None:
        return web.Response(status=400, text="<!DOCTYPE html><title>Bad page state</title>"
                            "<p>The page state was tampered with: reload the form.</p>", content_type="text/html")
    if not isinstance(value, str) or len(value) > MAX_VALUE or not _text(value):
        return web.Response(status=400, text="<!DOCTYPE html><title>Bad value</title><p>The value must be text "
                            f"of at most {MAX_VALUE} characters.</p>", content_type="text/html")
    await _set(request, store, value)
    return page(store, f"Saved. {store.edits} edits so far.")
