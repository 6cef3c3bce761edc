"""One credential policy for every sender of a secret, at the HTTP level (respx): where each credential may go, the
one same-origin rule for Link, Location and redirects, tokens checked before use, token lifetimes measured from
receipt. Each test here failed before the policy existed (the issue's "Why" list)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from airflow_provider_dockerhub.client import (
    AuthenticationError,
    ClientConfig,
    ConfigurationError,
    DockerHubSession,
    ProtocolError,
    UntrustedRealmError,
)
from airflow_provider_dockerhub.client.auth.trust import Credential, CredentialPolicy
from airflow_provider_dockerhub.client.scout.api import ImageCoordinates

REGISTRY = "https://registry.example.com"
REALM = f"{REGISTRY}/token"
DIGEST = "sha256:" + "ab" * 32
BEARER = f'Bearer realm="{REALM}",service="registry.example.com"'


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


def session(**extra: object) -> DockerHubSession:
    config = ClientConfig.from_fields("alice", "s3cret-pw", {"registry_url": REGISTRY, **extra})
    return DockerHubSession(config, sleep=lambda _: None)


def token_answer(token: str = "good-token", **fields: object) -> httpx.Response:
    return httpx.Response(200, json={"token": token, **fields})


# -- where each credential may go ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credential", "url", "allowed"),
    [
        (Credential.HUB_SECRET, "https://hub.docker.com/v2/auth/token", True),
        (Credential.HUB_SECRET, "https://api.scout.docker.com/v1/graphql", False),
        (Credential.HUB_JWT, "https://api.scout.docker.com/v1/graphql", True),
        (Credential.HUB_JWT, "https://registry-1.docker.io/v2/", False),
        (Credential.SCIM_TOKEN, "https://hub.docker.com/v2/scim/2.0/Users", True),
        (Credential.SCIM_TOKEN, "https://hub.docker.com:8443/v2/scim/2.0/Users", False),
        (Credential.REGISTRY_BEARER, "https://registry-1.docker.io/v2/library/alpine/manifests/3", True),
        (Credential.REGISTRY_BEARER, "http://registry-1.docker.io/v2/library/alpine/manifests/3", False),
        (Credential.REGISTRY_BEARER, "https://cdn.example.com/blob", False),
        (Credential.REGISTRY_BASIC, "https://hub.docker.com/v2/", False),
    ],
)
def test_each_credential_goes_only_to_its_origins(credential: Credential, url: str, allowed: bool) -> None:
    policy = CredentialPolicy(ClientConfig())
    if allowed:
        policy.check(credential, httpx.URL(url))
    else:
        with pytest.raises(UntrustedRealmError, match="refusing to send"):
            policy.check(credential, httpx.URL(url))


def test_plain_http_is_allowed_between_loopback_addresses_only() -> None:
    policy = CredentialPolicy(ClientConfig(registry_url="http://127.0.0.1:5000"))
    policy.check(Credential.REGISTRY_BEARER, httpx.URL("http://127.0.0.1:5000/v2/"))
    policy = CredentialPolicy(ClientConfig(registry_url="http://registry.example.com"))
    with pytest.raises(UntrustedRealmError, match="plain http"):
        policy.check(Credential.REGISTRY_BEARER, httpx.URL("http://registry.example.com/v2/"))


def test_bearer_is_never_sent_to_an_http_registry_off_loopback(router: respx.MockRouter) -> None:
    """Basic was refused over http, Bearer was not: the token went in clear."""
    registry = "http://registry.example.com"
    challenge = 'Bearer realm="https://registry.example.com/token",service="r"'
    router.head(f"{registry}/v2/acme/app/manifests/1").respond(401, headers={"WWW-Authenticate": challenge})
    tokens = router.get("https://registry.example.com/token").mock(return_value=token_answer())
    config = ClientConfig.from_fields("alice", "s3cret-pw", {"registry_url": registry})
    with DockerHubSession(config) as s, pytest.raises(UntrustedRealmError, match="plain http"):
        s.registry.head_manifest("acme/app", "1")
    assert tokens.call_count == 0  # refused before a token was even minted


def test_the_hub_mint_for_scout_checks_hub_url(router: respx.MockRouter) -> None:
    """Only the Hub and SCIM operations checked hub_url: the Scout path posted login and PAT to it over http."""
    mint = router.post("http://hub.example.com/v2/auth/token").respond(200, json={"access_token": "jwt"})
    config = ClientConfig.from_fields(
        "alice", "dckr_pat_x", {"hub_url": "http://hub.example.com", "scout_url": "http://127.0.0.1:9"}
    )
    with DockerHubSession(config) as s, pytest.raises((UntrustedRealmError, ConfigurationError)):
        s.scout.index_state("acme", ImageCoordinates("hub.docker.com", "acme/app", DIGEST))
    assert mint.call_count == 0


def test_a_path_in_hub_url_prefixes_every_call_as_it_prefixes_the_mint(router: respx.MockRouter) -> None:
    base = "https://proxy.example.com/dockerhub"
    mint = router.post(f"{base}/v2/auth/token").respond(200, json={"access_token": "jwt-token"})
    repo = router.get(f"{base}/v2/namespaces/acme/repositories/app").respond(200, json={"name": "app"})
    config = ClientConfig.from_fields("alice", "dckr_pat_x", {"hub_url": base})
    with DockerHubSession(config) as s:
        assert s.hub.get_repository("acme", "app").name == "app"
    assert (mint.call_count, repo.call_count) == (1, 1)
    assert repo.calls[0].request.headers["authorization"] == "Bearer jwt-token"


# -- one same-origin rule ----------------------------------------------------------------------------------------


def test_a_next_page_on_http_at_the_same_host_is_refused(router: respx.MockRouter) -> None:
    """Tags paging followed a Link to http:// on the same host, switching the token to cleartext."""
    router.get(f"{REGISTRY}/v2/acme/app/tags/list").respond(
        200,
        json={"tags": ["a"]},
        headers={"Link": '<http://registry.example.com/v2/acme/app/tags/list?last=a>; rel="next"'},
    )
    with session() as s, pytest.raises(ProtocolError, match="another host"):
        list(s.registry.list_tags("acme/app"))


def test_a_challenge_from_a_redirect_target_is_not_learned(router: respx.MockRouter) -> None:
    """A CDN's Basic challenge was stored under the registry's origin: the password then went to the registry."""
    blob = f"{REGISTRY}/v2/acme/app/blobs/{DIGEST}"
    router.get(blob).respond(307, headers={"Location": "https://cdn.example.com/blob"})
    router.get("https://cdn.example.com/blob").respond(401, headers={"WWW-Authenticate": 'Basic realm="cdn"'})
    head = router.head(f"{REGISTRY}/v2/acme/app/manifests/1").respond(200, headers={"Docker-Content-Digest": DIGEST})
    with session() as s:
        with pytest.raises(AuthenticationError):
            s.registry.get_blob("acme/app", DIGEST)
        s.registry.head_manifest("acme/app", "1")
    # The CDN's 401 taught nothing about the registry: no Basic credentials on the registry's next request.
    assert "authorization" not in head.calls[0].request.headers
    assert all(
        "authorization" not in c.request.headers for c in router.calls if c.request.url.host == "cdn.example.com"
    )


def test_a_delete_without_body_answers_its_challenge(router: respx.MockRouter) -> None:
    """A DELETE is not replayed on 5xx, but a 401 means the server did not act: it is answered like any request."""
    url = f"{REGISTRY}/v2/acme/app/manifests/{DIGEST}"
    delete = router.delete(url).mock(
        side_effect=[httpx.Response(401, headers={"WWW-Authenticate": BEARER}), httpx.Response(202)]
    )
    router.get(REALM).mock(return_value=token_answer())
    with session(allow_destructive=True) as s:
        assert s.registry.delete_manifest("acme/app", DIGEST) == DIGEST
    assert delete.call_count == 2
    assert delete.calls[1].request.headers["authorization"] == "Bearer good-token"


# -- tokens checked before use, never quoted ------------------------------------------------------------------


def test_a_token_with_a_control_character_is_refused_unquoted_and_not_retried(router: respx.MockRouter) -> None:
    router.head(f"{REGISTRY}/v2/acme/app/manifests/1").respond(401, headers={"WWW-Authenticate": BEARER})
    tokens = router.get(REALM).mock(return_value=token_answer("evil\ntoken"))
    with session() as s, pytest.raises(ProtocolError, match="RFC 6750") as exc:
        s.registry.head_manifest("acme/app", "1")
    assert "evil" not in str(exc.value) and "evil" not in repr(exc.value.__cause__)
    assert tokens.call_count == 1


def test_a_scim_token_with_a_control_character_is_refused_before_any_request(router: respx.MockRouter) -> None:
    config = ClientConfig.from_fields("alice", "pw", {"scim_token": "abc\r\ndef"})
    with DockerHubSession(config) as s, pytest.raises(ConfigurationError) as exc:
        list(s.scim.list_users())
    assert "abc" not in str(exc.value)
    assert router.calls.call_count == 0


def test_a_header_httpx_cannot_encode_is_not_retried_nor_quoted() -> None:
    """What h11 says of an illegal header quotes it; the transport neither retries it nor chains that message."""
    from airflow_provider_dockerhub.client.core.flow import Send
    from airflow_provider_dockerhub.client.core.transport import RetryPolicy, send_flow

    request = httpx.Request("GET", "https://registry.example.com/v2/", headers={"X-Secret": "not-a-secret"})
    flow = send_flow(request, RetryPolicy())
    assert isinstance(next(flow), Send)
    with pytest.raises(ProtocolError, match="could not be encoded") as exc:
        flow.throw(httpx.LocalProtocolError("Illegal header value b'Bearer s3cret\\n'"))
    assert exc.value.__cause__ is None and exc.value.__suppress_context__
    assert "s3cret" not in str(exc.value)


# -- token lifetime measured from receipt ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "issued_at",
    [
        "0001-01-01T00:00:00Z",  # Go's zero time
        "2009-12-31T23:59:59Z",  # the token spec's own example response
        "2999-01-01T00:00:00Z",  # a server clock far ahead
    ],
)
def test_twenty_heads_cost_one_token_whatever_issued_at_says(router: respx.MockRouter, issued_at: str) -> None:
    router.head(f"{REGISTRY}/v2/acme/app/manifests/1").mock(
        side_effect=lambda request: (
            httpx.Response(200, headers={"Docker-Content-Digest": DIGEST})
            if request.headers.get("authorization") == "Bearer good-token"
            else httpx.Response(401, headers={"WWW-Authenticate": BEARER})
        )
    )
    tokens = router.get(REALM).mock(return_value=token_answer(expires_in=300, issued_at=issued_at))
    with session() as s:
        for _ in range(20):
            s.registry.head_manifest("acme/app", "1")
    assert tokens.call_count == 1


def test_a_token_refused_seconds_after_it_was_issued_is_final(router: respx.MockRouter) -> None:
    """A 401 on a token seconds old is about clocks or keys, not expiry: no mint per call, no password hint."""
    head = router.head(f"{REGISTRY}/v2/acme/app/manifests/1").respond(
        401, headers={"WWW-Authenticate": BEARER + ',error="invalid_token"'}
    )
    tokens = router.get(REALM).mock(return_value=token_answer(expires_in=300))
    with session() as s:
        for _ in range(3):
            with pytest.raises(AuthenticationError) as exc:
                s.registry.head_manifest("acme/app", "1")
            assert "issued seconds ago" in str(exc.value) and "password" not in str(exc.value)
    assert tokens.call_count == 1
    assert head.call_count == 4  # the first, unauthenticated, then one per call with the one token
