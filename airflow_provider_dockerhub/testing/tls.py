"""A throwaway certificate authority and server certificates for TLS tests and demos. Not for production.

:func:`make_test_ca` writes a CA certificate (``ca.pem``: what a client trusts, e.g. the connection extra
``registry_ca_bundle``) and :meth:`CertificateAuthority.issue` a server certificate and key for
:class:`~airflow_provider_dockerhub.testing.registry.LocalRegistry` and
:class:`~airflow_provider_dockerhub.testing.token_issuer.TokenIssuer` (``tls=``). The CA is private, so nothing
that trusts only the public roots (certifi, httpx's default) accepts these certificates: that is the point.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

__all__ = ["CertificateAuthority", "TlsFiles", "make_test_ca"]

DEFAULT_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class TlsFiles:
    """A server's PEM certificate chain and private key; ``ca`` is the certificate that signed it, if known
    (servers do not need it; readiness probes and clients do)."""

    certificate: Path
    key: Path
    ca: Path | None = None


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA whose certificate is ``certificate`` (PEM) and whose key stays in memory."""

    certificate: Path
    _key: EllipticCurvePrivateKey
    _pem: bytes

    def issue(
        self, directory: str | os.PathLike[str], hosts: tuple[str, ...] = DEFAULT_HOSTS, *, name: str = "server"
    ) -> TlsFiles:
        """Write ``<name>.crt`` (leaf, then CA: the chain a server sends) and ``<name>.key`` for ``hosts``
        (IP addresses and DNS names, as subjectAltNames); return their paths."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        ca_cert = x509.load_pem_x509_certificate(self._pem)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            # OpenSSL's strict verification (Python 3.13's default context) wants the leaf to name its issuer's key.
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + self._pem)
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_path.chmod(0o600)
        return TlsFiles(cert_path, key_path, self.certificate)


def self_signed_ca(
    common_name: str, *, days: int, path_length: int | None, key_usage: bool = True
) -> tuple[EllipticCurvePrivateKey, x509.Certificate]:
    """A P-256 key and its self-signed CA certificate: the test CA here, and the token issuer's signing key
    (which distribution 2.8 needs as a CA certificate in its root bundle)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
    )
    if key_usage:
        builder = builder.add_extension(_key_usage(ca=True), critical=True).add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    return key, builder.sign(key, hashes.SHA256())


def make_test_ca(
    directory: str | os.PathLike[str], common_name: str = "airflow-provider-dockerhub test CA"
) -> CertificateAuthority:
    """Create a P-256 CA valid for 30 days and write its certificate to ``<directory>/ca.pem``."""
    from cryptography.hazmat.primitives import serialization

    key, cert = self_signed_ca(common_name, days=30, path_length=0)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    path = Path(directory) / "ca.pem"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pem)
    return CertificateAuthority(path, key, pem)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )
