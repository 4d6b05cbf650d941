"""What CDP's Network domain does not say, taken from inside the page, and cookies as rows.

- A WebSocket's close code and reason: ``Network.webSocketClosed`` carries neither. A page init script
  (``Page.addScriptToEvaluateOnNewDocument``) wraps ``WebSocket`` so that each socket's ``close`` event is
  reported to Duplex through a binding (``Runtime.addBinding``: ``Runtime.bindingCalled``).
- Cookies a script sets (``document.cookie = …``, ``cookieStore.set``): CDP sees them only when a later
  request carries them; the same script reports each assignment.
- Cookies a server sets (``Set-Cookie`` in ``Network.responseReceivedExtraInfo``) and cookies a request
  carried (``associatedCookies`` in ``Network.requestWillBeSentExtraInfo``), with their attributes.

The page can call the binding itself: every report is bounded, checked and otherwise ignored.
"""

from __future__ import annotations

import json
from typing import Any

BINDING = "__duplexSaw"
MAX_REPORT = 16 << 10  # bytes of one report from the page
MAX_COOKIE_TEXT = 4096  # characters of one cookie line shown

INIT_SCRIPT = r"""(() => {
  const say = globalThis.__duplexSaw;
  if (typeof say !== "function" || globalThis.__duplexHooked) return;
  Object.defineProperty(globalThis, "__duplexHooked", { value: true });
  const report = (obj) => { try { say(JSON.stringify(obj)); } catch (e) { /* never the page's problem */ } };
  const Native = globalThis.WebSocket;
  if (typeof Native === "function") {
    const WebSocket = class WebSocket extends Native {
      constructor(...args) {
        super(...args);
        this.addEventListener("close", (e) => report({ k: "ws_close", url: this.url, code: e.code,
          reason: String(e.reason).slice(0, 200), clean: e.wasClean }));
      }
    };
    globalThis.WebSocket = WebSocket;
  }
  const cookie = globalThis.Document && Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
  if (cookie && cookie.set && cookie.configurable) {
    Object.defineProperty(Document.prototype, "cookie", {
      configurable: true, enumerable: cookie.enumerable,
      get() { return cookie.get.call(this); },
      set(value) { cookie.set.call(this, value); report({ k: "cookie", text: String(value).slice(0, 4096) }); },
    });
  }
  const store = globalThis.CookieStore && CookieStore.prototype;
  if (store && typeof store.set === "function") {
    const set = store.set;
    store.set = function (...args) {
      const one = typeof args[0] === "object" && args[0] !== null ? args[0] : { name: args[0], value: args[1] };
      report({ k: "cookie_store", name: String(one.name).slice(0, 256), value: String(one.value).slice(0, 4096),
               path: one.path || "/", domain: one.domain || "" });
      return set.apply(this, args);
    };
  }
})();"""


def page_report(payload: object) -> dict[str, Any] | None:
    """A binding call's payload as a report the watcher knows, or None (too large, not JSON, unknown)."""
    if not isinstance(payload, str) or len(payload) > MAX_REPORT:
        return None
    try:
        obj = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(obj, dict) or obj.get("k") not in ("ws_close", "cookie", "cookie_store"):
        return None
    return obj


def parse_set_cookie(line: str) -> dict[str, Any] | None:
    """One ``Set-Cookie`` line (or a ``document.cookie`` assignment) as name, value and attributes."""
    line = line.strip()[:MAX_COOKIE_TEXT]
    first, _, rest = line.partition(";")
    name, eq, value = first.partition("=")
    if not eq or not name.strip():
        return None
    cookie: dict[str, Any] = {"name": name.strip(), "value": value.strip()}
    for part in rest.split(";"):
        key, has, val = part.strip().partition("=")
        key = key.strip().lower()
        if not key:
            continue
        if key in ("httponly", "secure", "partitioned"):
            cookie[{"httponly": "httpOnly"}.get(key, key)] = True
        elif key in ("path", "domain", "expires", "max-age", "samesite", "priority") and has:
            cookie[{"max-age": "maxAge", "samesite": "sameSite"}.get(key, key)] = val.strip()
    return cookie


def set_cookie_lines(headers: dict[str, Any]) -> list[str]:
    """The ``Set-Cookie`` lines of a response's raw headers (CDP joins repeated ones with newlines)."""
    lines: list[str] = []
    for key, value in headers.items():
        if key.lower() == "set-cookie" and isinstance(value, str):
            lines.extend(v for v in value.split("\n") if v.strip())
    return lines[:100]


def cookie_text(cookie: dict[str, Any]) -> str:
    """A cookie as one line: ``name=value; Path=/; HttpOnly; SameSite=Lax``."""
    parts = [f"{cookie.get('name', '')}={cookie.get('value', '')}"]
    for key, title in (("domain", "Domain"), ("path", "Path"), ("expires", "Expires"), ("maxAge", "Max-Age"),
                       ("sameSite", "SameSite")):
        value = cookie.get(key)
        if value not in (None, "", -1) and not (key == "expires" and cookie.get("session")):
            parts.append(f"{title}={value}")
    for key, title in (("httpOnly", "HttpOnly"), ("secure", "Secure"), ("partitioned", "Partitioned")):
        if cookie.get(key) is True:
            parts.append(title)
    return "; ".join(parts)[:MAX_COOKIE_TEXT]


def sent_cookies(associated: object) -> tuple[list[dict[str, Any]], list[str]]:
    """A request's ``associatedCookies``: the cookies it carried (with attributes), and the blocked ones
    as ``name: reasons``."""
    sent: list[dict[str, Any]] = []
    blocked: list[str] = []
    for entry in associated if isinstance(associated, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("cookie"), dict):
            continue
        c = entry["cookie"]
        reasons = entry.get("blockedReasons") or []
        if reasons:
            blocked.append(f"{c.get('name')}: {', '.join(map(str, reasons))}")
        else:
            sent.append({k: c[k] for k in ("name", "value", "domain", "path", "expires", "httpOnly", "secure",
                                           "sameSite", "session") if k in c})
        if len(sent) + len(blocked) >= 200:
            break
    return sent, blocked


__all__ = ["BINDING", "INIT_SCRIPT", "cookie_text", "page_report", "parse_set_cookie", "sent_cookies",
           "set_cookie_lines"]
