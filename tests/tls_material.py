"""Certificates made at test time: a CA, a server certificate it signs for 127.0.0.1 and
localhost, a client certificate it signs, and a second CA nobody trusts."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


@dataclass(frozen=True)
class TlsFiles:
    ca_pem: Path
    """The CA that signed the server and client certificates."""
    other_ca_pem: Path
    """A CA that signed nothing here: trusting only it must fail."""
    server_pem: Path
    """Server certificate, then its private key (unencrypted), for an HTTPS test server."""
    server_p12: Path
    """The server's key and certificate chain as PKCS#12, for the Kafka broker."""
    client_cert_pem: Path
    client_key_pem: Path
    """Encrypted with ``key_password``."""
    key_password: str


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + _DAY)
    )


def make_ca(common_name: str) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(common_name, _name(common_name), key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Issued(key, cert)


def issue(ca: Issued, common_name: str, *, server: bool) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = _builder(common_name, ca.cert.subject, key).add_extension(
        x509.ExtendedKeyUsage([usage]), critical=False
    )
    if server:
        names: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_tls_files(directory: Path, store_password: str) -> TlsFiles:
    """Everything in ``directory``; ``store_password`` protects the PKCS#12 store and the client
    key."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, other = make_ca("nightstream test CA"), make_ca("nobody's CA")
    server, client = issue(ca, "localhost", server=True), issue(ca, "client", server=False)
    files = TlsFiles(
        ca_pem=directory / "ca.pem",
        other_ca_pem=directory / "other-ca.pem",
        server_pem=directory / "server.pem",
        server_p12=directory / "server.p12",
        client_cert_pem=directory / "client.pem",
        client_key_pem=directory / "client.key",
        key_password=store_password,
    )
    files.ca_pem.write_bytes(_pem(ca.cert))
    files.other_ca_pem.write_bytes(_pem(other.cert))
    plain_key = server.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    files.server_pem.write_bytes(_pem(server.cert) + plain_key)
    encryption = serialization.BestAvailableEncryption(store_password.encode())
    files.server_p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"broker", server.key, server.cert, [ca.cert], encryption
        )
    )
    files.client_cert_pem.write_bytes(_pem(client.cert))
    files.client_key_pem.write_bytes(
        client.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
    )
    return files
