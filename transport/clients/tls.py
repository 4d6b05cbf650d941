"""TLS as every client uses it: one context per (verify, CA file), what a connection negotiated, and the rows
of a connection that does not verify.

- Verification is on by default. A CA file (PEM) replaces the system's store: the client trusts that authority
  and nothing else (curl's ``--cacert``; the GUI's tabs trust the TLS lab's CA this way).
- ``insecure`` turns verification off; every row of such a connection carries ``"insecure": true`` in its
  meta (the timeline marks it ⚠), so a screenshot or a HAR never passes for a verified run.
- The clients speak HTTP/1.1 (aiohttp, websockets): they offer ALPN ``http/1.1`` so that a server that
  chooses by ALPN says so.
"""

from __future__ import annotations

import os
import ssl
from typing import Any
from urllib.parse import urlsplit

from transport.core.errors import TLSFailure
from transport.core.events import Event, EventSink, batch_sink

_CONTEXTS: dict[tuple[bool, str | None, float], ssl.SSLContext] = {}
_TRUSTED: dict[str, str] = {}  # host:port of a TLS server (the TLS lab) → the CA file its clients trust alone


def trust(url: str, ca_file: str | None) -> None:
    """Every client of ``https://``/``wss://`` ``url``'s host and port trusts ``ca_file`` alone from now on, unless
    it names its own (the TLS lab, whose CA Duplex made); None forgets it."""
    key = _authority(url)
    if not key:
        return
    if ca_file:
        _TRUSTED[key] = ca_file
    else:
        _TRUSTED.pop(key, None)


def trusted_ca(url: str) -> str | None:
    """The CA file :func:`trust` gave ``url``'s host and port, if any."""
    key = _authority(url)
    return _TRUSTED.get(key) if key else None


def _authority(url: str) -> str:
    if not uses_tls(url):
        return ""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port or 443}"
    except ValueError:
        return ""


def ca_problem(path: str) -> str | None:
    """Why ``path`` cannot serve as a CA file, in one sentence (None: it can)."""
    try:
        ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        return f"The CA file {path} does not exist."
    except IsADirectoryError:
        return f"The CA file {path} is a folder, not a PEM file."
    except PermissionError:
        return f"The CA file {path} cannot be read (permission denied)."
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
        return (f"The CA file {path} holds no PEM certificate ({getattr(exc, 'reason', None) or exc}): give the "
                "authority's certificate as PEM text (-----BEGIN CERTIFICATE-----).")
    except OSError as exc:
        return f"The CA file {path} cannot be read ({exc.strerror or exc})."
    return None


def client_ssl(verify: bool = True, ca_file: str | None = None) -> ssl.SSLContext:
    """The context for ``verify`` and ``ca_file`` (raises TLSFailure with a sentence on a bad CA file)."""
    try:
        stamp = os.stat(ca_file).st_mtime if ca_file else 0.0
    except OSError:
        stamp = -1.0
    key = (verify, ca_file or None, stamp)
    ctx = _CONTEXTS.get(key)
    if ctx is not None:
        return ctx
    try:
        ctx = ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError, UnicodeDecodeError, ValueError):
        err = TLSFailure(ca_problem(str(ca_file)) or f"The CA file {ca_file} cannot be used.")
        err.fatal = True
        raise err from None
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    if len(_CONTEXTS) > 32:
        _CONTEXTS.clear()
    _CONTEXTS[key] = ctx
    return ctx


def uses_tls(url: str) -> bool:
    return url.lower().startswith(("https:", "wss:"))


def ws_tls(url: str, verify: bool, ca_file: str | None) -> dict[str, Any]:
    """websockets' ``connect`` keyword for ``url`` (it refuses ``ssl`` with a ws:// URL)."""
    return {"ssl": client_ssl(verify, ca_file)} if uses_tls(url) else {}


def tls_meta(transport: Any) -> dict[str, Any]:
    """What a connection's TLS negotiated (empty for plain TCP): version, cipher, ALPN protocol."""
    if transport is None:
        return {}
    obj = transport.get_extra_info("ssl_object")
    if obj is None:
        return {}
    cipher = obj.cipher()
    return {"tls": obj.version(), "cipher": cipher[0] if cipher else None,
            "alpn": obj.selected_alpn_protocol() or "none (http/1.1)"}


def tls_words(meta: dict[str, Any]) -> str:
    """`` · TLSv1.3 TLS_AES_256_GCM_SHA384, ALPN http/1.1`` for an open row's text ('' without TLS)."""
    if not meta.get("tls"):
        return ""
    return f" · {meta['tls']} {meta.get('cipher') or ''}, ALPN {meta.get('alpn')}"


class InsecureMark:
    """A sink that marks every row it passes with ``"insecure": true`` (the connection's insecure switch)."""

    def __init__(self, sink: EventSink) -> None:
        self._sink = sink
        self._many = batch_sink(sink)

    def __call__(self, event: Event) -> None:
        self._sink(_marked(event))

    def many(self, events: list[Event]) -> None:
        self._many([_marked(e) for e in events])


def _marked(event: Event) -> Event:
    return event._replace(meta={**event.meta, "insecure": True})
