"""Duplex's own errors: one human sentence each, the original chained.

Library exceptions (websockets, aiohttp, ssl, OSError) are translated once, at
the client boundary, by :func:`explain`. The UI and ``probe`` show
``str(error)``; nobody downstream needs to know which library failed.

    DuplexError
    ├── InvalidURL            fatal: fix the URL
    ├── ConnectFailed         refused, unreachable, name not found, reset
    ├── ConnectTimeout        no answer to the opening handshake in time
    ├── TLSFailure            fatal: certificate or protocol problem
    ├── BadStatus             an HTTP status; fatal for 4xx (but 408/425/429)
    │   └── HandshakeRejected the server answered HTTP, not a protocol switch
    ├── ProtocolViolation     the peer spoke something else
    ├── MessageTooBig         fatal: a message over the configured limit
    ├── WrongResponse         fatal: an HTTP status or content type the client cannot use
    ├── ServerStopped         fatal: the server asked the client to stop (SSE 204)
    └── NotConnected          an action that needs an open connection
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import ssl


def one_line(text: str, limit: int = 400) -> str:
    """``text`` as one printable line: control and format characters escaped (as Python's ``repr`` finds
    them unprintable: U+202E, U+200B…), runs of whitespace one space, at most
    ``limit`` characters (a server's garbage must not reach a terminal or a status bar raw)."""
    out = " ".join(text.split())
    if not out.isprintable():  # control characters, and format ones (U+202E turns the line around)
        out = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}"
                      if ord(c) < 0x10000 else f"\\U{ord(c):08x}" for c in out)
    return out if len(out) <= limit else out[: limit - 1] + "…"


class DuplexError(Exception):
    fatal = False  # True: reconnecting cannot help, the client gives up

    def __init__(self, sentence: str) -> None:
        sentence = one_line(sentence)
        super().__init__(sentence)
        self.sentence = sentence

    def restated(self, sentence: str) -> "DuplexError":
        """The same error (same class, same cause) with another sentence."""
        err = type(self).__new__(type(self))  # no __init__: subclasses take other arguments
        err.__dict__.update(self.__dict__)
        err.sentence = one_line(sentence)
        err.args = (err.sentence,)
        err.__cause__ = self.__cause__
        return err


class InvalidURL(DuplexError):
    fatal = True


class ConnectFailed(DuplexError):
    pass


class ConnectTimeout(DuplexError):
    pass


class TLSFailure(DuplexError):
    fatal = True


class BadStatus(DuplexError):
    """An HTTP status the client cannot use."""

    def __init__(self, sentence: str, status: int) -> None:
        super().__init__(sentence)
        self.status = status
        # 4xx will not change by retrying; 5xx and 429 may
        self.fatal = 400 <= status < 500 and status not in (408, 425, 429)


class HandshakeRejected(BadStatus):
    pass


class ProtocolViolation(DuplexError):
    pass


class MessageTooBig(DuplexError):
    fatal = True


class NotConnected(DuplexError):
    pass


class WrongResponse(DuplexError):
    fatal = True
    read_by: str | None = None  # the transport that reads this answer (an SSE stream met by the NDJSON client)


class ServerStopped(DuplexError):
    fatal = True


class StreamError(DuplexError):
    """The server reported an error inside the stream (an ``{"error": …}`` chunk of an LLM API's answer)."""

    fatal = True


CLOSE_CODES = {
    1000: "normal closure",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1005: "no status code",
    1006: "connection dropped without a close frame",
    1007: "invalid payload data",
    1008: "policy violation",
    1009: "message too big",
    1010: "mandatory extension missing",
    1011: "internal server error",
    1012: "service restart",
    1013: "try again later",
    1014: "bad gateway",
    1015: "TLS handshake failure",
}


def describe_close(code: int | None, reason: str = "") -> str:
    """``1011 (internal server error): reason`` — for timelines and logs."""
    if code is None:
        return "closed without a close code"
    name = CLOSE_CODES.get(code) or ("application-defined" if 3000 <= code <= 4999 else "unknown code")
    text = f"{code} ({name})"
    return f"{text}: {reason}" if reason else text


def human_size(n: int) -> str:
    for unit, div in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return f"{n} bytes"


def snippet(body: bytes, limit: int = 120) -> str:
    """The start of a body as one line, for messages (an HTML title when there is one)."""
    text = body[:4096].decode("utf-8", "replace")
    low = text.lower()
    start, end = low.find("<title>"), low.find("</title>")
    if 0 <= start < end:
        text = text[start + 7:end]
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


def body_reason(body: bytes, limit: int = 200) -> str:
    """The reason a refusal's body gives, on one line: a JSON ``error`` (or ``message``), else short text."""
    text = body[:4096].decode("utf-8", "replace").strip()
    if not text:
        return ""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        found = value.get("error") or value.get("message") or value.get("reason")
        return snippet(found.encode(), limit - 1) if isinstance(found, str) else ""
    if value is not None or text.startswith("<"):
        return ""  # a bare JSON value or an HTML page: nothing a sentence can carry
    return snippet(body, limit - 1)


def explain(exc: BaseException, where: str, *, timeout: float | None = None) -> DuplexError:
    """Translate any connection-time exception into a DuplexError for ``where`` (host:port or URL)."""
    if isinstance(exc, DuplexError):
        return exc
    # websockets is imported lazily: the mapping must work for HTTP clients too
    try:
        from websockets import exceptions as wsx
    except ImportError:  # pragma: no cover
        wsx = None  # type: ignore[assignment]  # websockets is optional for the HTTP-only paths
    if wsx is not None:
        if isinstance(exc, wsx.InvalidURI):
            return _chain(InvalidURL(f"Invalid URL: {exc.msg} ({exc.uri!r})."), exc)
        if isinstance(exc, wsx.InvalidStatus):
            status = exc.response.status_code
            reason = " ".join(f"{status} {exc.response.reason_phrase}".split())
            said = body_reason(bytes(exc.response.body or b""))
            return _chain(HandshakeRejected(
                f"{where} answered HTTP {reason} instead of switching to WebSocket"
                + (f": {said}" if said else "") + ".", status), exc)
        if isinstance(exc, wsx.InvalidMessage):
            cause = exc.__cause__
            if isinstance(cause, EOFError) or cause is None:
                return _chain(ProtocolViolation(
                    f"{where} closed the connection during the WebSocket handshake."), exc)
            return _chain(ProtocolViolation(
                f"{where} did not answer with a valid HTTP response: it is not a WebSocket server ({cause})."), exc)
        if isinstance(exc, wsx.InvalidHandshake):
            return _chain(HandshakeRejected(f"{where} rejected the WebSocket handshake: {exc}.", 400), exc)
        if isinstance(exc, wsx.InvalidProxy):
            return _chain(InvalidURL(f"Invalid proxy setting: {exc}."), exc)
    mapped = _explain_aiohttp(exc, where)
    if mapped is not None:
        return mapped
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        limit = f" within {timeout:g} s" if timeout else ""
        return _chain(ConnectTimeout(f"{where} did not answer{limit} (connect timeout)."), exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _chain(TLSFailure(cert_sentence(where, exc.verify_code, exc.verify_message)), exc)
    if isinstance(exc, ssl.SSLError):
        return _chain(TLSFailure(ssl_sentence(where, exc)), exc)
    if isinstance(exc, socket.gaierror):
        return _chain(ConnectFailed(f"Cannot resolve the host name in {where} ({exc.strerror})."), exc)
    if isinstance(exc, ConnectionRefusedError):
        return _chain(ConnectFailed(f"Connection refused by {where}: nothing is listening there."), exc)
    if isinstance(exc, ConnectionResetError):
        return _chain(ConnectFailed(f"{where} reset the connection."), exc)
    if isinstance(exc, OSError):
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return _chain(ConnectFailed(f"{where} is unreachable from this machine ({exc.strerror})."), exc)
        if exc.errno == errno.EADDRNOTAVAIL:
            return _chain(ConnectFailed(f"{where} is not a usable address ({exc.strerror})."), exc)
        detail = exc.strerror or str(exc) or type(exc).__name__
        return _chain(ConnectFailed(f"Cannot connect to {where}: {detail}."), exc)
    if isinstance(exc, ValueError):
        return _chain(InvalidURL(f"Invalid URL or option: {exc}."), exc)
    return _chain(DuplexError(f"Unexpected failure with {where}: {type(exc).__name__}: {exc}"), exc)


# OpenSSL's verify codes (x509_vfy.h) a user meets, by what failed
_UNKNOWN_ISSUER = {2, 18, 19, 20, 21, 27}
_EXPIRED, _NOT_YET_VALID = 10, 9
_NAME_MISMATCH = {62, 64}


def cert_sentence(where: str, code: int | None, message: str | None) -> str:
    """One sentence for a certificate the client would not accept, naming what failed."""
    if code in _UNKNOWN_ISSUER:
        return (f"TLS failure with {where}: unknown issuer — the certificate is signed by an authority this client "
                f"does not trust ({message}); give that authority's certificate as the CA file (probe --ca FILE) "
                "or turn verification off (--insecure).")
    if code == _EXPIRED:
        return f"TLS failure with {where}: the certificate has expired ({message})."
    if code == _NOT_YET_VALID:
        return f"TLS failure with {where}: the certificate is not valid yet (its start date is in the future)."
    if code in _NAME_MISMATCH:
        return (f"TLS failure with {where}: name mismatch — the certificate is not for the host in the URL "
                f"({message}).")
    return f"TLS failure with {where}: the certificate is not trusted ({message})."


def ssl_sentence(where: str, exc: BaseException) -> str:
    """One sentence for a TLS handshake that failed before any certificate was judged."""
    reason = (getattr(exc, "reason", None) or "").upper()
    if reason in ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE"):
        return (f"TLS failure with {where}: protocol — the server did not answer in TLS ({reason.lower()}): is it "
                "a plain http:// or ws:// endpoint?")
    if "PROTOCOL_VERSION" in reason or "UNSUPPORTED_PROTOCOL" in reason or "NO_PROTOCOLS" in reason:
        return (f"TLS failure with {where}: protocol — no TLS version both sides accept ({reason.lower()}).")
    if "HANDSHAKE_FAILURE" in reason or "NO_SHARED_CIPHER" in reason:
        return f"TLS failure with {where}: handshake — no cipher or setting both sides accept ({reason.lower()})."
    detail = getattr(exc, "reason", None) or str(exc)
    return f"TLS failure with {where}: {detail} — is it really a TLS (wss/https) endpoint?"


def _explain_aiohttp(exc: BaseException, where: str) -> DuplexError | None:
    try:
        import aiohttp
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert = exc.certificate_error
        return _chain(TLSFailure(cert_sentence(where, getattr(cert, "verify_code", None),
                                               getattr(cert, "verify_message", None) or str(cert))), exc)
    if isinstance(exc, (aiohttp.ClientConnectorSSLError, aiohttp.ClientSSLError)):
        inner = getattr(exc, "os_error", None)
        return _chain(TLSFailure(ssl_sentence(where, inner if isinstance(inner, ssl.SSLError) else exc)), exc)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return explain(exc.os_error, where)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return _chain(ConnectFailed(f"{where} closed the connection before answering."), exc)
    if isinstance(exc, aiohttp.TooManyRedirects):
        return _chain(WrongResponse(f"{where} redirected too many times ({len(exc.history)} redirects)."), exc)
    if isinstance(exc, aiohttp.InvalidURL):
        return _chain(InvalidURL(f"Invalid URL {str(exc.url)!r}."), exc)
    if isinstance(exc, aiohttp.ClientResponseError):
        return _chain(ProtocolViolation(f"{where} sent a malformed HTTP response: {exc.message}."), exc)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return _chain(ProtocolViolation(f"{where} sent a malformed response body: {exc}."), exc)
    return None


def lost_mid_stream(exc: BaseException) -> str:
    """Why a body being read stopped, in words: never a library's repr (a ``TransferEncodingError:
    400`` reads like an HTTP status)."""
    import aiohttp
    from aiohttp import http_exceptions as hx

    causes = (exc, exc.__cause__, exc.__context__)
    if any(isinstance(c, hx.TransferEncodingError) for c in causes) or "TransferEncodingError" in str(exc):
        return "the body was cut in the middle of a chunk (the server or something between closed the connection)"
    if any(isinstance(c, hx.ContentLengthError) for c in causes) or "ContentLengthError" in str(exc):
        return "the body ended before the length the server announced"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the response body was cut off"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "the connection was reset"
    if isinstance(exc, (aiohttp.ClientOSError, OSError)) and getattr(exc, "strerror", None):
        return f"the connection failed ({str(exc.strerror).lower()})"
    return f"the connection failed ({type(exc).__name__})"


def _chain(err: DuplexError, cause: BaseException) -> DuplexError:
    err.__cause__ = cause
    return err
