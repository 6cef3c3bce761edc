"""Per-surface TLS trust, for real over HTTPS: a registry and its token realm serving certificates of a private CA
the tests create (``conftest.py``), and the client's trust rules checked against them.

``registry_ca_bundle`` adds that CA to the default roots for the registry's host only; Hub and Scout keep the
default roots (or ``verify``); ``verify`` false turns checking off everywhere, with one warning per session.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time

import pytest

from airflow_provider_dockerhub.client import (
    ApiError,
    AsyncDockerHubSession,
    ClientConfig,
    DockerHubSession,
    TransportError,
)
from airflow_provider_dockerhub.testing.registry import LocalRegistry, TokenAuth
from airflow_provider_dockerhub.testing.tls import CertificateAuthority, TlsFiles
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer

pytestmark = pytest.mark.registry

LOGGER = "airflow_provider_dockerhub.client"
CONFIG_BLOB = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def config_for(registry: LocalRegistry, **extra: object) -> ClientConfig:
    # No retries: a certificate failure must be final on its own, not after the retry budget runs out.
    fields = {"registry_url": registry.url, "allow_destructive": True, "max_retries": 0, **extra}
    return ClientConfig.from_fields("alice", "alice-secret", fields)


def push_and_head(session: DockerHubSession, repository: str) -> str:
    """Push a small blob and a manifest naming it, then HEAD the manifest; returns the manifest digest."""
    blob_digest = session.registry.upload_blob(repository, CONFIG_BLOB)
    assert blob_digest == "sha256:" + hashlib.sha256(CONFIG_BLOB).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob_digest, "size": 78},
        "layers": [],
    }
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    digest = session.registry.put_manifest(repository, "v1", raw, MANIFEST_TYPE)
    head = session.registry.head_manifest(repository, "v1")
    assert head is not None and head.digest == digest
    return digest


def ca_path(test_ca: CertificateAuthority) -> str:
    return str(test_ca.certificate)


# -- the registry and its realm ------------------------------------------------------------------------------


def test_registry_ca_bundle_verifies_the_registry_and_its_tls_realm(
    tls_token_registry: LocalRegistry, tls_issuer: TokenIssuer, test_ca: CertificateAuthority
) -> None:
    assert tls_token_registry.url.startswith("https://") and tls_issuer.realm.startswith("https://")
    with DockerHubSession(config_for(tls_token_registry, registry_ca_bundle=ca_path(test_ca))) as session:
        push_and_head(session, "tls/app")
    # The realm was reached over TLS with the connection's credentials (the registry would not answer without).
    assert tls_issuer.count >= 1
    assert all(r.status == 200 and r.authorization_present for r in tls_issuer.requests)


def test_async_session_verifies_the_registry_with_registry_ca_bundle(
    tls_token_registry: LocalRegistry, tls_issuer: TokenIssuer, test_ca: CertificateAuthority
) -> None:
    with DockerHubSession(config_for(tls_token_registry, registry_ca_bundle=ca_path(test_ca))) as session:
        pushed = push_and_head(session, "tls/async")

    async def head() -> str | None:
        config = config_for(tls_token_registry, registry_ca_bundle=ca_path(test_ca))
        async with AsyncDockerHubSession(config) as session:
            found = await session.registry.head_manifest("tls/async", "v1")
            return found.digest if found is not None else None

    assert asyncio.run(head()) == pushed


def test_without_registry_ca_bundle_the_registry_fails_verification_and_no_credential_is_sent(
    tls_token_registry: LocalRegistry, tls_issuer: TokenIssuer
) -> None:
    started = time.monotonic()
    with DockerHubSession(config_for(tls_token_registry)) as session:
        with pytest.raises(TransportError, match="certificate verification failed") as info:
            session.registry.head_manifest("tls/app", "v1")
    message = str(info.value)
    assert tls_token_registry.host in message  # which server did not verify
    assert "registry_ca_bundle" in message  # and what to set
    assert "alice-secret" not in message
    assert info.value.attempts == 1  # final at once: a certificate does not verify on a retry
    assert time.monotonic() - started < 5
    assert tls_issuer.count == 0  # the handshake failed before any request, so the realm never saw a credential


def test_async_driver_reports_the_certificate_failure_too(tls_token_registry: LocalRegistry) -> None:
    async def head() -> None:
        # Retries allowed here: the async driver must make the failure final itself.
        config = ClientConfig.from_fields("alice", "alice-secret", {"registry_url": tls_token_registry.url})
        async with AsyncDockerHubSession(config) as session:
            await session.registry.head_manifest("tls/app", "v1")

    with pytest.raises(TransportError, match="certificate verification failed") as info:
        asyncio.run(head())
    assert info.value.attempts == 1


def test_registry_ca_bundle_does_not_reach_a_realm_on_another_host(
    tls_server_files: TlsFiles, test_ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The bundle is for the registry's host: a realm on ``localhost`` (the same certificate, another host than the
    registry's 127.0.0.1, trusted for credentials by ``trusted_realms``) is verified against the default roots."""
    with (
        TokenIssuer(users={"alice": "alice-secret"}, tls=tls_server_files, public_host="localhost") as issuer,
        LocalRegistry(tmp_path_factory.mktemp("tls-far-realm"), auth=TokenAuth(issuer), tls=tls_server_files) as reg,
    ):
        assert issuer.realm.startswith("https://localhost:")
        extra = {"registry_ca_bundle": ca_path(test_ca), "trusted_realms": "localhost"}
        with DockerHubSession(config_for(reg, **extra)) as session:
            with pytest.raises(TransportError, match="certificate verification failed for https://localhost:"):
                session.registry.head_manifest("tls/app", "v1")
        assert issuer.count == 0  # the Basic credentials never left
        # The same realm verifies once the CA replaces the roots for every host (``verify``).
        with DockerHubSession(config_for(reg, verify=ca_path(test_ca), trusted_realms="localhost")) as session:
            assert session.registry.head_manifest("tls/app", "v1") is None  # a fresh registry: not found
        assert issuer.count == 1


# -- verification off ----------------------------------------------------------------------------------------


def test_verify_false_works_and_warns_once_per_session(
    tls_token_registry: LocalRegistry, tls_issuer: TokenIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with DockerHubSession(config_for(tls_token_registry, verify="false")) as session:
        push_and_head(session, "tls/insecure")  # two origins (registry and realm), several requests
        session.registry.head_manifest("tls/insecure", "v1")
    warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "verification is off" in text
    assert tls_token_registry.host in text and "hub.docker.com" in text and "api.scout.docker.com" in text
    assert tls_issuer.count >= 1  # the realm was used, over TLS, unverified

    with DockerHubSession(config_for(tls_token_registry, verify="false")) as session:
        session.registry.head_manifest("tls/insecure", "v1")
    assert len([r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]) == 2


def test_verified_sessions_log_no_tls_warning(
    tls_token_registry: LocalRegistry, test_ca: CertificateAuthority, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with DockerHubSession(config_for(tls_token_registry, registry_ca_bundle=ca_path(test_ca))) as session:
        session.registry.head_manifest("tls/app", "v1")
    assert not [r for r in caplog.records if "verification is off" in r.getMessage()]


# -- the Hub keeps the default roots -------------------------------------------------------------------------


def test_registry_ca_bundle_does_not_vouch_for_the_hub(
    tls_basic_registry: LocalRegistry, tls_issuer: TokenIssuer, test_ca: CertificateAuthority
) -> None:
    """The Hub URL on the same private CA and the same host as the registry (the TLS token issuer's origin): the
    Hub mint fails verification, while the registry of the same session verifies with the bundle."""
    hub_url = tls_issuer.origin
    extra = {"registry_ca_bundle": ca_path(test_ca), "hub_url": hub_url}
    with DockerHubSession(config_for(tls_basic_registry, **extra)) as session:
        with pytest.raises(TransportError, match="certificate verification failed") as info:
            session.hub.authenticate()
        assert hub_url.removeprefix("https://") in str(info.value)
        push_and_head(session, "tls/hub-neighbour")

    # Control: with the CA as ``verify`` the handshake succeeds and the mint reaches the server (which is a token
    # issuer, not a Hub: it answers the POST with an HTTP error, not a certificate failure).
    with DockerHubSession(config_for(tls_basic_registry, verify=ca_path(test_ca), hub_url=hub_url)) as session:
        with pytest.raises(ApiError) as api_error:
            session.hub.authenticate()
        assert api_error.value.status >= 400


# -- Basic auth over TLS -------------------------------------------------------------------------------------


def test_basic_auth_over_tls_with_registry_ca_bundle(
    tls_basic_registry: LocalRegistry, test_ca: CertificateAuthority
) -> None:
    with DockerHubSession(config_for(tls_basic_registry, registry_ca_bundle=ca_path(test_ca))) as session:
        push_and_head(session, "tls/basic")


def test_basic_auth_over_tls_without_the_bundle_fails_verification(tls_basic_registry: LocalRegistry) -> None:
    with DockerHubSession(config_for(tls_basic_registry)) as session:
        with pytest.raises(TransportError, match="certificate verification failed"):
            session.registry.head_manifest("tls/basic", "v1")
