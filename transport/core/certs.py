"""Throwaway certificates: a certificate authority and a server certificate signed by it, made in memory with
the ``cryptography`` package, and the SPKI hash Chromium's ``--ignore-certificate-errors-spki-list`` takes.

The TLS lab makes one pair per run (transport/server/tls_front.py); tests make the bad ones a user meets (a
certificate for another name, an expired one). Nothing here opens a socket; ``write`` is the only file I/O.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Pair:
    """A certificate and its key, PEM."""
    cert: bytes
    key: bytes


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Duplex lab (throwaway)"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(days: float = 2.0) -> tuple[Pair, ec.EllipticCurvePrivateKey]:
    """A certificate authority that signs nothing but what this run makes (path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name("Duplex lab CA")).issuer_name(_name("Duplex lab CA"))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return Pair(cert.public_bytes(serialization.Encoding.PEM), _pem(key)), key


def make_server_cert(ca: Pair, ca_key: ec.EllipticCurvePrivateKey, names: tuple[str, ...] = LOOPBACK_NAMES,
                     valid_from: float = -300.0, valid_for: float = 2 * 86400.0) -> Pair:
    """A server certificate for ``names`` (IP literals become IP SANs), valid from ``valid_from`` seconds from
    now for ``valid_for`` seconds (a negative end makes an expired one)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    issuer = x509.load_pem_x509_certificate(ca.cert)
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    start = now + datetime.timedelta(seconds=valid_from)
    cert = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(issuer.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(seconds=valid_for))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return Pair(cert.public_bytes(serialization.Encoding.PEM), _pem(key))


@dataclass(frozen=True)
class LabCerts:
    """Where one run's files are: the CA (what clients trust) and HAProxy's PEM (certificate, CA, key)."""
    ca_file: Path
    server_pem: Path
    spki: str  # the server certificate's SPKI hash, for Chromium


def write(folder: Path, names: tuple[str, ...] = LOOPBACK_NAMES) -> LabCerts:
    """A fresh CA and server certificate in ``folder`` (readable by this user only)."""
    ca, ca_key = make_ca()
    server = make_server_cert(ca, ca_key, names)
    folder.mkdir(parents=True, exist_ok=True)
    ca_file, pem = folder / "lab-ca.pem", folder / "lab-server.pem"
    for path, data in ((ca_file, ca.cert), (pem, server.cert + ca.cert + server.key)):
        path.touch(mode=0o600)
        path.write_bytes(data)
    return LabCerts(ca_file, pem, spki_hash(server.cert))


def kept(folder: Path, names: tuple[str, ...] = LOOPBACK_NAMES) -> LabCerts:
    """The CA and certificate already in ``folder`` (a lab restarted by the window keeps the CA its clients
    trust), or new ones written there."""
    ca_file, pem = folder / "lab-ca.pem", folder / "lab-server.pem"
    try:
        return LabCerts(ca_file, pem, spki_hash(pem.read_bytes()))  # the first PEM block: the server's certificate
    except (OSError, ValueError):
        return write(folder, names)


def spki_hash(cert_pem_or_der: bytes) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)): what ``--ignore-certificate-errors-spki-list`` takes."""
    if cert_pem_or_der.lstrip().startswith(b"-----BEGIN"):
        cert = x509.load_pem_x509_certificate(cert_pem_or_der)
    else:
        cert = x509.load_der_x509_certificate(cert_pem_or_der)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki)
    return base64.b64encode(digest.finalize()).decode("ascii")
