"""Where each credential may go, and the proof that it goes nowhere else.

* The connection's login/secret (Basic) go only to a trusted token realm: https on the registry's own host,
  ``auth.docker.io`` for Docker Hub, or a host listed in ``trusted_realms``; plain http only between loopback
  addresses, even when listed. A refused realm is never contacted.
* The Hub JWT goes to the Hub and to Scout only: never to a registry or its token issuer (checked on the wire
  against a real ``docker-registry`` and the Hub emulator), and never to a ``scout_url`` on a foreign host.
* A registry redirect to a CDN carries no ``Authorization``, and the blob is still verified against its digest.
* The SCIM token goes to the Hub's SCIM endpoints only, and SCIM requests never carry the JWT.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_dockerhub.client import (
    ClientConfig,
    ConfigurationError,
    DigestMismatchError,
    DockerHubSession,
    UntrustedRealmError,
)
from airflow_provider_dockerhub.testing.hub import HubEmulator
from airflow_provider_dockerhub.testing.registry import LocalRegistry
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer

REG = "https://registry.example.com"
HUB = "https://hub.docker.com"
SCOUT = "https://api.scout.docker.com"
SECRET = "alice-s3cret"
BASIC = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
SCIM_TOKEN = "scim-only-token"
BLOB = b"layer bytes served from a CDN"
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


def jwt(sub: str = "alice") -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part({'sub': sub, 'exp': 4_102_444_800})}.c2ln"


HUB_JWT = jwt()


def session(login: str | None = "alice", **extra: Any) -> DockerHubSession:
    config = ClientConfig.from_fields(login, SECRET if login else None, {"registry_url": REG, **extra})
    return DockerHubSession(config, sleep=lambda _: None)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


def challenge(router: respx.MockRouter, realm: str, registry: str = REG) -> respx.Route:
    header = f'Bearer realm="{realm}",service="registry.example.com"'
    return router.get(f"{registry}/v2/").respond(401, headers={"WWW-Authenticate": header})


# -- registry credentials and token realms ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("realm", "realm_host"),
    [
        ("https://auth.evil.example/token", "auth.evil.example"),
        ("https://registry.example.com.evil.example/token", "registry.example.com.evil.example"),
        ("https://registry.example.com@evil.example/token", "evil.example"),
        ("https://evil.example/token?host=registry.example.com", "evil.example"),
        ("https://auth.docker.io/token", "auth.docker.io"),  # Docker's auth host is trusted for Docker Hub only
        ("https://example.com/token", "example.com"),  # the parent domain is another host
    ],
)
def test_foreign_https_realm_never_receives_the_credentials(
    router: respx.MockRouter, realm: str, realm_host: str
) -> None:
    ping = challenge(router, realm)
    token = router.route(host=realm_host).respond(200, json={"token": "t"})
    with session() as s, pytest.raises(UntrustedRealmError, match="trusted_realms"):
        s.registry.ping()
    assert ping.call_count == 1 and "authorization" not in ping.calls[0].request.headers
    assert not token.called


@pytest.mark.parametrize("listed", ["auth.example.com", "http://auth.example.com/token"])
def test_plain_http_realm_off_loopback_is_refused_even_when_listed(router: respx.MockRouter, listed: str) -> None:
    challenge(router, "http://auth.example.com/token")
    token = router.route(host="auth.example.com").respond(200, json={"token": "t"})
    with session(trusted_realms=listed) as s, pytest.raises(UntrustedRealmError, match="plain http"):
        s.registry.ping()
    assert not token.called


def test_loopback_http_realm_is_refused_for_a_remote_registry(router: respx.MockRouter) -> None:
    # A remote registry must not steer our credentials to whatever listens on this machine.
    challenge(router, "http://127.0.0.1:5001/token")
    token = router.route(host="127.0.0.1").respond(200, json={"token": "t"})
    with session() as s, pytest.raises(UntrustedRealmError, match="plain http"):
        s.registry.ping()
    assert not token.called


@pytest.mark.parametrize(
    ("registry", "realm", "extra"),
    [
        (REG, f"{REG}/token", {}),  # the registry's own host
        (REG, "https://auth.example.com/token", {"trusted_realms": "auth.example.com"}),
        (REG, "https://auth.example.com/token", {"trusted_realms": ["https://auth.example.com/token"]}),
        ("https://registry-1.docker.io", "https://auth.docker.io/token", {}),  # Docker Hub's own auth host
    ],
)
def test_trusted_realm_receives_basic_credentials_and_nothing_else_does(
    router: respx.MockRouter, registry: str, realm: str, extra: dict[str, Any]
) -> None:
    ping = challenge(router, realm, registry)
    token = router.get(url__startswith=realm).respond(200, json={"token": "registry-token"})
    ping.side_effect = [
        httpx.Response(401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'}),
        httpx.Response(200),
    ]
    with session(registry_url=registry, **extra) as s:
        assert s.registry.ping() is True
    assert token.call_count == 1 and token.calls[0].request.headers["authorization"] == BASIC
    assert "authorization" not in ping.calls[0].request.headers
    assert ping.calls[1].request.headers["authorization"] == "Bearer registry-token"


def test_anonymous_pull_may_use_a_foreign_realm_because_it_sends_nothing(router: respx.MockRouter) -> None:
    header = 'Bearer realm="https://auth.elsewhere.example/token",service="s"'
    router.get(f"{REG}/v2/").mock(
        side_effect=[httpx.Response(401, headers={"WWW-Authenticate": header}), httpx.Response(200)]
    )
    token = router.get(url__startswith="https://auth.elsewhere.example/token").respond(200, json={"token": "anon"})
    with session(login=None) as s:
        s.registry.ping()
    assert token.call_count == 1 and "authorization" not in token.calls[0].request.headers


def test_basic_credentials_never_go_over_plain_http_to_a_remote_registry(router: respx.MockRouter) -> None:
    ping = router.get("http://registry.example.com/v2/").respond(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
    with (
        session(registry_url="http://registry.example.com") as s,
        pytest.raises(UntrustedRealmError, match="plain http"),
    ):
        s.registry.ping()
    assert ping.call_count == 1 and "authorization" not in ping.calls[0].request.headers


# -- CDN redirects ----------------------------------------------------------------------------------------------


def blob_routes(router: respx.MockRouter, cdn_body: bytes) -> tuple[respx.Route, respx.Route, respx.Route]:
    """A registry that answers a blob GET with a 307 to a CDN on another host, behind token auth."""
    realm = f"{REG}/token"
    unauthorized = httpx.Response(401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'})
    location = f"https://cdn.example.net/blobs/{BLOB_DIGEST.split(':')[1]}?sig=abc&expires=99"
    blob = router.get(f"{REG}/v2/acme/app/blobs/{BLOB_DIGEST}").mock(
        side_effect=[unauthorized, httpx.Response(307, headers={"Location": location})]
    )
    token = router.get(url__startswith=realm).respond(200, json={"token": "registry-token"})
    cdn = router.get(url__startswith="https://cdn.example.net/").respond(200, content=cdn_body)
    return blob, token, cdn


def test_redirect_to_a_cdn_carries_no_authorization_and_is_verified(router: respx.MockRouter) -> None:
    blob, token, cdn = blob_routes(router, BLOB)
    with session() as s:
        assert s.registry.get_blob("acme/app", BLOB_DIGEST) == BLOB
    assert blob.calls[1].request.headers["authorization"] == "Bearer registry-token"
    assert token.calls[0].request.headers["authorization"] == BASIC
    assert cdn.call_count == 1
    assert "authorization" not in cdn.calls[0].request.headers
    assert cdn.calls[0].request.url.params["sig"] == "abc"  # the signed URL is followed verbatim


def test_tampered_cdn_bytes_fail_the_digest_check_and_never_land(router: respx.MockRouter, tmp_path: Path) -> None:
    blob_routes(router, b"bytes a compromised CDN substituted")
    target = tmp_path / "layer.tar.gz"
    with session() as s, pytest.raises(DigestMismatchError) as info:
        s.registry.download_blob("acme/app", BLOB_DIGEST, target)
    assert info.value.expected == BLOB_DIGEST
    assert list(tmp_path.iterdir()) == []  # neither the file nor a partial temporary is left


# -- the Hub JWT ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scout_url",
    [
        "https://scout.evil.example",
        "https://api.scout.docker.com.evil.example",
        "https://evildocker.com",
        "http://api.scout.docker.com",  # plain http to a Docker host
        "http://scout.example.net",
    ],
)
def test_jwt_is_never_minted_for_a_foreign_scout_host(router: respx.MockRouter, scout_url: str) -> None:
    mint = router.post(f"{HUB}/v2/auth/token").respond(200, json={"token": HUB_JWT})
    scout = router.route(host=httpx.URL(scout_url).host).respond(200, json={"data": {}})
    with session(scout_url=scout_url) as s, pytest.raises(ConfigurationError, match="scout_url"):
        s.scout.graphql("query { ok }")
    assert not mint.called and not scout.called


def test_a_listed_scout_host_gets_the_jwt(router: respx.MockRouter) -> None:
    router.post(f"{HUB}/v2/auth/token").respond(200, json={"token": HUB_JWT})
    scout = router.post("https://scout.example.net/v1/graphql").respond(200, json={"data": {"ok": True}})
    with session(scout_url="https://scout.example.net", trusted_realms="scout.example.net") as s:
        assert s.scout.graphql("query { ok }") == {"ok": True}
    assert scout.calls[0].request.headers["authorization"] == f"Bearer {HUB_JWT}"


@pytest.fixture(scope="module")
def hub_emulator() -> Iterator[HubEmulator]:
    # The same login and secret as the token registry's, so that one connection authenticates to both.
    with HubEmulator(users={"alice": "alice-secret", "bob": "bob-secret"}, orgs=("acme",)) as emulator:
        yield emulator


@pytest.mark.registry
def test_hub_jwt_never_reaches_a_private_registry_or_its_token_issuer(
    hub_emulator: HubEmulator, token_registry: LocalRegistry, token_issuer: TokenIssuer
) -> None:
    hub_emulator.reset()
    token_issuer.reset()
    extra = {"hub_url": hub_emulator.url, "registry_url": token_registry.url, "allow_destructive": True}
    config = ClientConfig.from_fields("alice", "alice-secret", extra)
    issuer_url = token_issuer.realm.removesuffix("/token")
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as wire:
        hub = wire.route(url__startswith=hub_emulator.url).pass_through()
        registry = wire.route(url__startswith=token_registry.url).pass_through()
        issuer = wire.route(url__startswith=issuer_url).pass_through()
        with DockerHubSession(config) as s:
            s.hub.get_org_settings("acme")  # mints the Hub JWT first, so it is in the cache for what follows
            blob = s.registry.upload_blob("trust/app", b"a blob pushed next to a Hub session")
            assert s.registry.blob_exists("trust/app", blob)
            s.hub.get_org_settings("acme")
    jwts = set(hub_emulator.issued_tokens)
    assert jwts and hub.call_count >= 3
    hub_auth = {c.request.headers.get("authorization") for c in hub.calls if c.request.url.path != "/v2/auth/token"}
    assert hub_auth and hub_auth <= {f"Bearer {t}" for t in jwts}  # the Hub saw the JWT, and only the JWT
    registry_auth = [c.request.headers.get("authorization") for c in registry.calls]
    issuer_auth = [c.request.headers.get("authorization") for c in issuer.calls]
    assert registry.call_count >= 3 and issuer.call_count >= 1
    for header in registry_auth + issuer_auth:
        assert header is None or not any(t in header for t in jwts)
    assert set(registry_auth) <= {None} | {f"Bearer {t}" for t in token_issuer.issued_tokens}
    assert set(issuer_auth) == {"Basic " + base64.b64encode(b"alice:alice-secret").decode()}
    # The issuer's own log agrees: every token request authenticated as alice with Basic, none was refused.
    assert token_issuer.requests and all(r.user == "alice" and r.status == 200 for r in token_issuer.requests)


def test_the_hub_jwt_is_never_sent_to_the_registry_even_when_both_are_docker(router: respx.MockRouter) -> None:
    mint = router.post(f"{HUB}/v2/auth/token").respond(200, json={"token": HUB_JWT})
    router.get(f"{HUB}/v2/orgs/acme/settings").respond(200, json={"restricted_images": {"enabled": False}})
    realm = "https://auth.docker.io/token"
    manifest = router.head("https://registry-1.docker.io/v2/library/alpine/manifests/3").mock(
        side_effect=[
            httpx.Response(401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="registry.docker.io"'}),
            httpx.Response(200, headers={"Docker-Content-Digest": BLOB_DIGEST}),
        ]
    )
    token = router.get(url__startswith=realm).respond(200, json={"token": "registry-token"})
    with session(registry_url="https://registry-1.docker.io") as s:
        s.hub.get_org_settings("acme")
        assert s.registry.resolve_digest("alpine", "3") == BLOB_DIGEST
    assert mint.call_count == 1
    for call in [*manifest.calls, *token.calls]:
        assert HUB_JWT not in call.request.headers.get("authorization", "")
    assert token.calls[0].request.headers["authorization"] == BASIC


# -- the SCIM token ---------------------------------------------------------------------------------------------


def test_scim_token_goes_only_to_the_scim_endpoints(router: respx.MockRouter) -> None:
    seen: list[httpx.Request] = []

    def answer(status: int, **kwargs: Any) -> Any:
        def respond(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(status, **kwargs)

        return respond

    router.post(f"{HUB}/v2/auth/token").mock(side_effect=answer(200, json={"token": HUB_JWT}))
    router.get(f"{HUB}/v2/namespaces/acme/repositories/app").mock(side_effect=answer(200, json={"name": "app"}))
    router.get(f"{HUB}/v2/scim/2.0/Users").mock(
        side_effect=answer(200, json={"totalResults": 0, "startIndex": 1, "Resources": []})
    )
    router.get(f"{REG}/v2/").mock(side_effect=answer(200))
    router.post(f"{SCOUT}/v1/graphql").mock(side_effect=answer(200, json={"data": {"ok": True}}))
    with session(scim_token=SCIM_TOKEN) as s:
        s.hub.get_repository("acme", "app")
        assert list(s.scim.list_users()) == []
        s.registry.ping()
        s.scout.graphql("query { ok }")
    assert len(seen) == 5
    for request in seen:
        carries = SCIM_TOKEN in request.headers.get("authorization", "") or SCIM_TOKEN.encode() in request.content
        is_scim = request.url.host == "hub.docker.com" and request.url.path.startswith("/v2/scim/2.0/")
        assert carries is is_scim, request.url
        assert SCIM_TOKEN not in str(request.url)
        if is_scim:
            assert request.headers["authorization"] == f"Bearer {SCIM_TOKEN}"  # the JWT is never added
    with_jwt = {(r.url.host, r.url.path) for r in seen if HUB_JWT in r.headers.get("authorization", "")}
    assert with_jwt == {
        ("hub.docker.com", "/v2/namespaces/acme/repositories/app"),
        ("api.scout.docker.com", "/v1/graphql"),
    }


def test_scim_token_is_not_sent_to_a_plain_http_hub(router: respx.MockRouter) -> None:
    scim = router.route(host="hub.example.com").respond(200, json={})
    with (
        session(hub_url="http://hub.example.com", scim_token=SCIM_TOKEN) as s,
        pytest.raises(ConfigurationError, match="https"),
    ):
        s.scim.service_provider_config()
    assert not scim.called
