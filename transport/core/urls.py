"""URL helpers both sides of the client use: query strings, loopback, ``host:port`` for sentences. Pure."""

from __future__ import annotations

from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit


def with_query(url: str, **params: object) -> str:
    """``url`` with ``params`` set in its query string (replacing same names)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, str(v)) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def is_loopback(host: str | None) -> bool:
    return host in ("127.0.0.1", "localhost", "::1", "[::1]") or bool(host and host.startswith("127."))


def where(url: str) -> str:
    """``host:port`` of a URL (default ports by scheme), for sentences."""
    parts = urlsplit(url)
    try:
        port: int | str = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    except ValueError:
        port = "?"
    return f"{parts.hostname}:{port}"


def host_port(url: str) -> str:
    """``host:port`` of a URL (default ports by scheme; IPv6 in brackets): a proxy's upstream."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    return f"{host}:{port}"


def split_url(url: str) -> tuple[SplitResult, int | None]:
    """``urlsplit(url)`` and its port; raises ValueError with a sentence for a URL that cannot be parsed
    (a bad IPv6 literal, a port that is not a number from 0 to 65535)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError(f"Invalid URL {url!r}: it cannot be parsed ({exc}).") from None
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"Invalid URL {url!r}: the port is not a number from 1 to 65535.") from None
    if port == 0:  # urlsplit says 0, and a client library would take it as "no port": the scheme's default
        raise ValueError(f"Invalid URL {url!r}: port 0 is not a port a server listens on (1 to 65535).")
    return parts, port
