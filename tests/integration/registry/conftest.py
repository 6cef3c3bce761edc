"""TLS fixtures: a private test CA, and a token issuer and real registries serving HTTPS with certificates it
signed (for 127.0.0.1 and localhost). Nothing that trusts only the public roots accepts them, so a test can tell
which surface trusts what. Each server starts once per session; tests that count the issuer's requests call
``tls_token_issuer.reset()`` first (or use the function-scoped ``tls_issuer``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_dockerhub.testing.registry import BasicAuth, LocalRegistry, TokenAuth
from airflow_provider_dockerhub.testing.tls import CertificateAuthority, TlsFiles, make_test_ca
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer

TLS_USERS = {"alice": "alice-secret", "bob": "bob-secret"}


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    """The private CA; ``str(test_ca.certificate)`` is the PEM path for ``registry_ca_bundle`` or ``verify``."""
    return make_test_ca(tmp_path_factory.mktemp("test-ca"))


@pytest.fixture(scope="session")
def tls_server_files(test_ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A server certificate and key for 127.0.0.1 and localhost, signed by ``test_ca``."""
    return test_ca.issue(tmp_path_factory.mktemp("tls-server"))


@pytest.fixture(scope="session")
def tls_token_issuer(tls_server_files: TlsFiles) -> Iterator[TokenIssuer]:
    """The token issuer of ``tls_token_registry``, its realm at ``https://127.0.0.1:<port>/token``."""
    with TokenIssuer(users=dict(TLS_USERS), tls=tls_server_files) as issuer:
        yield issuer


@pytest.fixture
def tls_issuer(tls_token_issuer: TokenIssuer) -> Iterator[TokenIssuer]:
    """``tls_token_issuer`` with an empty request log and no faults left behind."""
    tls_token_issuer.reset()
    try:
        yield tls_token_issuer
    finally:
        tls_token_issuer.clear_faults()


@pytest.fixture(scope="session")
def tls_token_registry(
    tls_token_issuer: TokenIssuer, tls_server_files: TlsFiles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRegistry]:
    """A registry with token auth, both it and its realm over HTTPS signed by ``test_ca``."""
    workdir = tmp_path_factory.mktemp("tls-token-registry")
    with LocalRegistry(workdir, auth=TokenAuth(tls_token_issuer), tls=tls_server_files) as registry:
        yield registry


@pytest.fixture(scope="session")
def tls_basic_registry(tls_server_files: TlsFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A registry with Basic auth (user ``alice``/``alice-secret``) over HTTPS signed by ``test_ca``."""
    workdir = tmp_path_factory.mktemp("tls-basic-registry")
    users = {"alice": TLS_USERS["alice"]}
    with LocalRegistry(workdir, auth=BasicAuth(users), tls=tls_server_files) as registry:
        yield registry
