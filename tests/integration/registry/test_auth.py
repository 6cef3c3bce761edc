"""Registry auth lifecycle against a real ``docker-registry`` (distribution 2.8) with token auth and Basic auth.

The token issuer counts every token request, so each test states how many mints a behaviour costs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from airflow_provider_dockerhub.client import (
    AuthenticationError,
    ClientConfig,
    DockerHubSession,
    NotFoundError,
    PermissionDeniedError,
    UntrustedRealmError,
)
from airflow_provider_dockerhub.client.auth.registry import RegistryTokenKey
from airflow_provider_dockerhub.client.auth.tokens import MintedToken
from airflow_provider_dockerhub.client.core.reference import repository_scope
from airflow_provider_dockerhub.testing.registry import LocalRegistry, TokenAuth
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer

pytestmark = pytest.mark.registry

CONFIG_BLOB = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'


def session_for(
    registry: LocalRegistry, login: str | None = "alice", password: str | None = "alice-secret", **extra: object
) -> DockerHubSession:
    config = ClientConfig.from_fields(login, password, {"registry_url": registry.url, **extra})
    return DockerHubSession(config)


def push_image(session: DockerHubSession, repository: str, tag: str) -> str:
    config_digest = session.registry.upload_blob(repository, CONFIG_BLOB)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(CONFIG_BLOB),
        },
        "layers": [],
    }
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    return session.registry.put_manifest(repository, tag, raw, manifest["mediaType"])


@pytest.fixture
def issuer(token_issuer: TokenIssuer) -> Iterator[TokenIssuer]:
    token_issuer.reset()
    saved = (token_issuer.ttl, token_issuer.public_repositories)
    try:
        yield token_issuer
    finally:
        token_issuer.clear_faults()
        token_issuer.ttl, token_issuer.public_repositories = saved


@pytest.fixture(scope="module")
def pushed(token_registry: LocalRegistry) -> str:
    with session_for(token_registry, allow_destructive=True) as session:
        return push_image(session, "team/app", "v1")


def test_token_reused_for_100_calls_on_one_scope(token_registry: LocalRegistry, issuer: TokenIssuer, pushed: str):
    with session_for(token_registry) as session:
        for _ in range(100):
            head = session.registry.head_manifest("team/app", "v1")
            assert head is not None and head.digest == pushed
    # Figure for the closing note: one token request for 100 calls within a token's lifetime.
    assert issuer.count == 1
    assert issuer.requests[0].scopes == ("repository:team/app:pull",)
    assert issuer.requests[0].user == "alice"
    assert issuer.requests[0].query.get("account") == ["alice"]


def test_anonymous_pull_allowed_when_public(token_registry: LocalRegistry, issuer: TokenIssuer, pushed: str):
    issuer.public_repositories = frozenset({"team/app"})
    with session_for(token_registry, login=None, password=None) as session:
        assert session.registry.resolve_digest("team/app", "v1") == pushed
    assert issuer.requests[-1].user is None
    assert not issuer.requests[-1].authorization_present


def test_anonymous_pull_denied_when_private(token_registry: LocalRegistry, issuer: TokenIssuer, pushed: str):
    issuer.public_repositories = frozenset()
    with session_for(token_registry, login=None, password=None) as session, pytest.raises(PermissionDeniedError) as exc:
        session.registry.resolve_digest("team/app", "v1")
    assert exc.value.status == 401
    # Not allowed is not "bad password": the answer says what the identity may not do.
    assert "anonymous access may not pull repository team/app" in str(exc.value)
    assert "password" not in str(exc.value)
    assert "HEAD" in str(exc.value) and "/v2/team/app/manifests/v1" in str(exc.value)
    # One token for the challenge, one retry after the insufficient_scope answer: never a loop.
    assert issuer.count == 1


def test_anonymous_cannot_push(token_registry: LocalRegistry, issuer: TokenIssuer):
    with session_for(token_registry, login=None, password=None, allow_destructive=True) as session:
        with pytest.raises(PermissionDeniedError) as exc:
            session.registry.upload_blob("team/anon", b"data")
    assert exc.value.code == "UNAUTHORIZED"
    assert "may not pull,push repository team/anon" in str(exc.value)
    assert issuer.count <= 3


def test_insufficient_scope_gets_exactly_one_new_token(token_registry: LocalRegistry, issuer: TokenIssuer, pushed: str):
    with session_for(token_registry, allow_destructive=True) as session:
        assert session.registry.blob_exists("team/app", pushed) is False  # a manifest is not a blob
        assert issuer.count == 1
        ops = session.registry.ops
        # Ask for an upload with a pull-only scope: the registry answers insufficient_scope and names pull,push.
        response = session.registry.run(
            ops.request("POST", ops.url("team/app", "blobs", "uploads", ""), (repository_scope("team/app", "pull"),))
        )
        assert response.status_code == 202
        # The pull-only token was not thrown away by the insufficient_scope answer: a pull reuses it.
        assert session.registry.blob_exists("team/app", pushed) is False
    assert issuer.count == 2
    assert set(issuer.requests[1].scopes) == {"repository:team/app:pull,push"}


def test_pull_and_push_scopes_are_separate_tokens(token_registry: LocalRegistry, issuer: TokenIssuer):
    with session_for(token_registry, allow_destructive=True) as session:
        digest = session.registry.upload_blob("team/scopes", b"scoped blob")
        assert session.registry.blob_exists("team/scopes", digest)
        session.registry.upload_blob("team/scopes", b"second blob")
    scopes = [r.scopes for r in issuer.requests]
    assert scopes == [("repository:team/scopes:pull",), ("repository:team/scopes:pull,push",)]


def test_expiry_triggers_a_new_mint(
    token_registry: LocalRegistry, issuer: TokenIssuer, pushed: str, monkeypatch: pytest.MonkeyPatch
):
    issuer.ttl = 2  # below the spec's 60 s floor: the client keeps it 60 s, refreshing at 80 %
    clock = [time.time()]
    monkeypatch.setattr("airflow_provider_dockerhub.client.auth.registry.now", lambda: clock[0])
    with session_for(token_registry) as session:
        session.registry.head_manifest("team/app", "v1")
        clock[0] += 2.1  # past the server's 2 s but within the floor: reused (a registry that disagrees says 401)
        session.registry.head_manifest("team/app", "v1")
        assert issuer.count == 1
        clock[0] += 60  # past the floor
        session.registry.head_manifest("team/app", "v1")
    assert issuer.count == 2


def test_server_side_expiry_invalidates_and_remints_once(
    token_registry: LocalRegistry, issuer: TokenIssuer, pushed: str
):
    with session_for(token_registry) as session:
        session.registry.head_manifest("team/app", "v1")
        assert issuer.count == 1
        # The server has expired a token the client still believes fresh (clock skew, revocation).
        issuer.exp_offset = -(issuer.ttl + 300)
        stale = issuer.make_token([{"type": "repository", "name": "team/app", "actions": ["pull"]}], "alice")
        issuer.exp_offset = 0
        tokens = session.state.registry_tokens
        (key,) = [k for k in tokens._tokens if isinstance(k, RegistryTokenKey)]
        # Received two minutes ago: old enough that a 401 means "expired or revoked", not "clock skew".
        tokens._tokens[key] = MintedToken(stale, time.time() + 3600, time.time() - 120)
        assert session.registry.head_manifest("team/app", "v1") is not None
    assert issuer.count == 2


def test_expired_tokens_from_the_issuer_fail_after_one_retry(
    token_registry: LocalRegistry, issuer: TokenIssuer, pushed: str
):
    issuer.exp_offset = -(issuer.ttl + 300)
    with session_for(token_registry) as session:
        # Fresh session: unauthenticated try, challenge, one token, rejected -> stop.
        with pytest.raises(AuthenticationError) as exc:
            session.registry.head_manifest("team/app", "v1")
        assert exc.value.status == 401
        assert issuer.count == 1
        assert "expired by its own exp claim" in str(exc.value) and "password" not in str(exc.value)
        # Challenge known, cached token rejected: invalidate, one re-mint, rejected again -> stop.
        with pytest.raises(AuthenticationError):
            session.registry.head_manifest("team/app", "v1")
        assert issuer.count == 2


def test_wrong_password_is_one_token_request(token_registry: LocalRegistry, issuer: TokenIssuer):
    with session_for(token_registry, password="wrong") as session, pytest.raises(AuthenticationError) as exc:
        session.registry.ping()
    assert "token service rejected" in str(exc.value)
    assert issuer.count == 1


def test_missing_manifest_is_none_and_resolve_raises(token_registry: LocalRegistry, issuer: TokenIssuer):
    with session_for(token_registry) as session:
        assert session.registry.head_manifest("team/app", "no-such-tag") is None
        with pytest.raises(NotFoundError) as exc:
            session.registry.resolve_digest("team/app", "no-such-tag")
    assert exc.value.status == 404


def test_get_manifest_keeps_raw_bytes_and_verifies(token_registry: LocalRegistry, issuer: TokenIssuer, pushed: str):
    with session_for(token_registry) as session:
        manifest = session.registry.get_manifest("team/app", "v1")
        by_digest = session.registry.get_manifest("team/app", pushed)
    assert manifest.digest == pushed == by_digest.digest
    assert manifest.raw == by_digest.raw
    assert manifest.media_type == "application/vnd.oci.image.manifest.v1+json"


def test_tag_listing_returns_every_tag(token_registry: LocalRegistry, issuer: TokenIssuer):
    with session_for(token_registry, allow_destructive=True) as session:
        for tag in ("a", "b", "c", "d", "e"):
            push_image(session, "team/paged", tag)
        tags = list(session.registry.list_tags("team/paged", page_size=2))
    # distribution 2.8 ignores n/last on tags/list (paging came in 3.0) and answers in storage order; Link
    # paging is covered against a scripted server in test_registry_paging.py.
    assert sorted(tags) == ["a", "b", "c", "d", "e"]


def test_32_threads_share_one_token_per_scope(token_registry: LocalRegistry, issuer: TokenIssuer, pushed: str):
    errors: list[BaseException] = []
    with session_for(token_registry) as session:
        barrier = threading.Barrier(32)

        def work() -> None:
            try:
                barrier.wait()
                for _ in range(5):
                    assert session.registry.resolve_digest("team/app", "v1") == pushed
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert issuer.count == 1


def test_x5c_signed_tokens_work(tmp_path_factory: pytest.TempPathFactory):
    with (
        TokenIssuer(users={"alice": "pw"}, key_id_mode="x5c", include_issued_at=False) as x5c_issuer,
        LocalRegistry(tmp_path_factory.mktemp("x5c"), auth=TokenAuth(x5c_issuer)) as registry,
    ):
        with session_for(registry, password="pw", allow_destructive=True) as session:
            digest = session.registry.upload_blob("x/y", b"payload")
            assert session.registry.blob_exists("x/y", digest)
        assert x5c_issuer.count == 2


def test_untrusted_realm_gets_no_credentials(tmp_path_factory: pytest.TempPathFactory, token_issuer: TokenIssuer):
    # A registry whose challenge names a plain-http realm off loopback: the client must refuse before sending.
    overrides = {"auth": {"token": {"realm": "http://tokens.example.invalid/token"}}}
    with LocalRegistry(
        tmp_path_factory.mktemp("evil"), auth=TokenAuth(token_issuer), config_overrides=overrides
    ) as registry:
        with session_for(registry) as session, pytest.raises(UntrustedRealmError) as exc:
            session.registry.ping()
    assert "tokens.example.invalid" in str(exc.value)


class TestBasicAuthRegistry:
    def test_credentials_work(self, basic_registry: LocalRegistry):
        with session_for(basic_registry, allow_destructive=True) as session:
            assert session.registry.ping() is True
            digest = session.registry.upload_blob("basic/app", b"basic blob")
            assert session.registry.blob_exists("basic/app", digest)

    def test_wrong_password_is_authentication_error(self, basic_registry: LocalRegistry):
        with session_for(basic_registry, password="nope") as session, pytest.raises(AuthenticationError) as exc:
            session.registry.ping()
        assert exc.value.status == 401 and exc.value.code == "UNAUTHORIZED"

    def test_anonymous_is_refused(self, basic_registry: LocalRegistry):
        with session_for(basic_registry, login=None, password=None) as session, pytest.raises(AuthenticationError):
            session.registry.ping()
