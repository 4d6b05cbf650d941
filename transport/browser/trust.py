"""How a Chromium that Duplex starts trusts a TLS server: the server certificate's SPKI hash, pinned with
``--ignore-certificate-errors-spki-list`` (never ``--ignore-certificate-errors``, which trusts everything).

The hash is read from the certificate the server presents, fetched with Python's ``ssl``: verified against the
CA file the user gave (the TLS lab's ``tls.ca``) before it is pinned, or taken as it is with ``insecure``. A
Chrome the user started and attached to cannot be told any of this: :data:`ATTACHED_SENTENCE` says so.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

from transport.clients.tls import client_ssl
from transport.core.certs import spki_hash
from transport.core.errors import explain

ATTACHED_SENTENCE = ("A Chrome you attached to was started by you: Duplex cannot tell it to trust the lab's "
                     "certificate (start it with --ignore-certificate-errors-spki-list=HASH, the lab's tls.spki).")


async def server_spki(url: str, ca_file: str | None = None, insecure: bool = False, timeout: float = 10.0) -> str:
    """The SPKI hash of the certificate the server at ``url`` presents (verified against ``ca_file`` unless
    ``insecure``); a failure is the client's TLS sentence."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 443
    ctx: ssl.SSLContext = client_ssl(not insecure, ca_file)
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname=host)
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        raise explain(exc, f"{host}:{port}", timeout=timeout) from None
    try:
        obj = writer.get_extra_info("ssl_object")
        der = obj.getpeercert(binary_form=True) if obj is not None else None
    finally:
        writer.close()
    if not der:
        raise explain(ssl.SSLError("no certificate presented"), f"{host}:{port}")
    return spki_hash(der)


def trust_flags(spki: str | None) -> tuple[str, ...]:
    """Chromium's command-line flags that trust the certificate with this SPKI hash (and nothing else)."""
    return (f"--ignore-certificate-errors-spki-list={spki}",) if spki else ()
