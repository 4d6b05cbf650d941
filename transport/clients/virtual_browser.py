"""Virtual browsers and tabs: the client side of sessions.

A :class:`VirtualBrowser` owns one cookie jar, shared by every client of
every one of its tabs (HTTP clients use it directly; the WebSocket client
sends the jar's ``Cookie`` header itself, websockets having no jar). A
:class:`VirtualTab` keeps ``sessionStorage`` per origin (scheme, host, port):
reload keeps it, close clears it, a new tab starts empty but shares the
browser's cookies. Closing a browser discards its session cookies (no
Expires/Max-Age) and keeps persistent ones until they expire, as a real
browser does; expired cookies leave the jar and the requests.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from http.cookies import Morsel, SimpleCookie
from typing import Iterable
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from transport.core.urls import with_query
from transport.core.wire import SESSION_COOKIE as COOKIE
from transport.core.wire import SESSION_QUERY as QUERY

CARRIERS = ("cookie", "query")
ON_EXPIRY = ("ask", "anonymous")  # stop and ask to log in again, or go on without a session


def origin(url: str) -> str:
    """``scheme://host:port`` (default ports made explicit; ws → http, wss → https)."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme.lower(), parts.scheme.lower())
    port = parts.port or (443 if scheme == "https" else 80)
    return f"{scheme}://{parts.hostname}:{port}"


def _http_url(url: str) -> URL:
    """The jar matches cookies by http(s) URL; a ws(s) URL maps onto it."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme.lower(), parts.scheme.lower())
    return URL(parts._replace(scheme=scheme).geturl())


@dataclass(frozen=True, slots=True)
class CookieView:
    name: str
    value: str
    domain: str
    path: str
    expires: str  # "session" for a session cookie
    httponly: bool
    secure: bool
    samesite: str

    @property
    def session(self) -> bool:
        return self.expires == "session"


def _view(morsel: Morsel) -> CookieView:
    expires = morsel["expires"] or (f"max-age {morsel['max-age']}" if morsel["max-age"] else "session")
    return CookieView(morsel.key, morsel.value, morsel["domain"], morsel["path"] or "/", str(expires),
                      bool(morsel["httponly"]), bool(morsel["secure"]), str(morsel["samesite"] or ""))


class VirtualTab:
    _ids = itertools.count(1)

    def __init__(self, browser: "VirtualBrowser") -> None:
        self.browser = browser
        self.number = next(self._ids)
        self._storage: dict[str, dict[str, str]] = {}
        self.reloads = 0
        self.closed = False

    @property
    def name(self) -> str:
        return f"{self.browser.name} · tab {self.number}"

    def session_storage(self, url: str) -> dict[str, str]:
        """This tab's sessionStorage for the origin of ``url`` (a live dict)."""
        return self._storage.setdefault(origin(url), {})

    def storage_items(self) -> list[tuple[str, str, str]]:
        return [(o, k, v) for o, items in self._storage.items() for k, v in items.items()]

    def reload(self) -> None:
        """sessionStorage survives a reload (the UI drops and reopens the connections)."""
        self.reloads += 1

    def close(self) -> None:
        self._storage.clear()
        self.closed = True
        self.browser.tabs.remove(self)


class VirtualBrowser:
    _ids = itertools.count(1)

    def __init__(self, name: str | None = None) -> None:
        self.name = name or f"Browser {next(self._ids)}"
        self._jar: aiohttp.CookieJar | None = None
        self.tabs: list[VirtualTab] = []
        self.carrier = "cookie"
        self.on_expiry = "ask"
        self.sid: str | None = None  # the query carrier's id (a cookie carrier keeps it in the jar)

    @property
    def jar(self) -> aiohttp.CookieJar:
        """Made on first use by a client: aiohttp's jar wants a running event loop.
        Until then the browser has no cookies, and the views below say so without making it."""
        if self._jar is None:
            self._jar = aiohttp.CookieJar(unsafe=True)  # the default jar drops cookies from 127.0.0.1
        return self._jar

    def new_tab(self) -> VirtualTab:
        tab = VirtualTab(self)
        self.tabs.append(tab)
        return tab

    # -- cookies ----------------------------------------------------------------------
    def cookies(self) -> list[CookieView]:
        if self._jar is None:
            return []
        return [_view(m) for m in self._jar]  # iterating the jar drops what has expired

    def cookie_header(self, url: str) -> str | None:
        """The ``Cookie`` header a request to ``url`` carries (for clients without a jar)."""
        if self._jar is None:
            return None
        found = self._jar.filter_cookies(_http_url(url))
        return "; ".join(f"{m.key}={m.value}" for m in found.values()) or None

    def script_cookies(self, url: str) -> str:
        """What ``document.cookie`` shows a page at ``url``: its cookies but the HttpOnly ones."""
        if self._jar is None:
            return ""
        sent = self._jar.filter_cookies(_http_url(url))  # the names a request there carries (values only)
        hidden = {m.key for m in self._jar if m["httponly"]}  # the jar's own morsels keep the flags
        return "; ".join(f"{m.key}={m.value}" for m in sent.values() if m.key not in hidden)

    def take_set_cookies(self, values: Iterable[str], url: str) -> None:
        """``Set-Cookie`` headers of a response that did not go through the jar (a WebSocket handshake)."""
        for value in values:
            cookie = SimpleCookie()
            cookie.load(value)
            self.jar.update_cookies(cookie, _http_url(url))

    def set_cookie(self, name: str, value: str, url: str) -> None:
        self.jar.update_cookies({name: value}, _http_url(url))

    def edit_cookie(self, name: str, domain: str, path: str, value: str) -> bool:
        """The value of the cookie ``name`` at ``domain`` and ``path`` changed in place, as a browser's
        developer tools do: the same cookie (its domain, host-only or not, path, expiry and flags kept), not a
        second one beside it. False when the jar has no such cookie."""
        if self._jar is None:
            return False
        for m in self._jar:
            if m.key == name and m["domain"] == domain and (m["path"] or "/") == path:
                new: Morsel = Morsel()
                new.set(name, value, value)
                for attr in ("expires", "max-age", "secure", "httponly", "samesite", "comment", "version"):
                    if m[attr]:
                        new[attr] = m[attr]
                new["path"] = path
                # a host-only cookie stays host-only: no Domain attribute, set from its own host
                host_only = (domain, name) in getattr(self._jar, "_host_only_cookies", set())
                new["domain"] = "" if host_only else domain
                cookie = SimpleCookie()
                dict.__setitem__(cookie, name, new)
                self._jar.update_cookies(cookie, URL.build(scheme="http", host=domain, path=path))
                return True
        return False

    def delete_cookie(self, name: str, domain: str | None = None) -> bool:
        if self._jar is None:
            return False
        before = len(self._jar)
        self._jar.clear(lambda m: m.key == name and (domain is None or m["domain"] == domain))
        return len(self._jar) < before

    def session_id(self, url: str) -> str | None:
        """The session id this browser presents to ``url`` (either carrier)."""
        if self.carrier == "query":
            return self.sid
        if self._jar is None:
            return None
        found = self._jar.filter_cookies(_http_url(url)).get(COOKIE)
        return found.value if found is not None else None

    def forget_session(self) -> None:
        """Go on as anonymous: drop the session cookie and the query id."""
        self.delete_cookie(COOKIE)
        self.sid = None

    def with_carrier(self, url: str) -> str:
        """``url`` with ``?sid=`` when the query carrier is chosen and an id is known."""
        if self.carrier != "query" or not self.sid:
            return url
        return with_query(url, **{QUERY: self.sid})

    def close(self) -> None:
        """Close every tab and drop the session cookies; persistent cookies stay until they expire."""
        for tab in list(self.tabs):
            tab.close()
        if self._jar is not None:
            self._jar.clear(lambda m: not m["expires"] and not m["max-age"])
        self.sid = None
