"""The offline sandbox (``airflow_provider_dockerhub.testing``) against a real registry, with raw httpx.

No provider code is used here: these tests pin the sandbox itself, so provider tests can trust it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from airflow_provider_dockerhub.testing.registry import (
    LocalRegistry,
    TokenAuth,
    connection_json,
    connection_uri,
)
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer, libtrust_key_id, parse_scope

pytestmark = pytest.mark.registry

ALICE = ("alice", "alice-secret")
MISSING_BLOB = "sha256:" + "0" * 64


def fetch_token(issuer: TokenIssuer, scopes: list[str], auth: tuple[str, str] | None = None) -> str:
    params = {"service": issuer.service, "scope": scopes}
    response = httpx.get(issuer.realm, params=params, auth=auth)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def with_digest(location: str, digest: str) -> str:
    # The Location already carries ``_state``; append rather than rebuild so it is used verbatim.
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def challenge_scopes(challenge: str) -> dict[str, set[str]]:
    """``{"type:name": {actions}}`` from a challenge's ``scope``.

    Registry 2.8 builds it from Go maps, so the order of the scopes and of the actions varies between runs.
    """
    match = re.search(r'scope="([^"]*)"', challenge)
    assert match, challenge
    parsed = (scope.rpartition(":") for scope in match.group(1).split())
    return {resource: set(actions.split(",")) for resource, _, actions in parsed}


def push_blob(registry: LocalRegistry, repo: str, data: bytes, token: str) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=registry.url, headers=bearer(token)) as client:
        started = client.post(f"/v2/{repo}/blobs/uploads/")
        assert started.status_code == 202, started.text
        done = client.put(with_digest(started.headers["Location"], digest), content=data)
        assert done.status_code == 201, done.text
        assert done.headers["Docker-Content-Digest"] == digest
    return digest


# -- token auth ----------------------------------------------------------------------------------------------


def test_anonymous_ping_gets_bearer_challenge(token_registry: LocalRegistry, token_issuer: TokenIssuer) -> None:
    response = httpx.get(f"{token_registry.url}/v2/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="{token_issuer.realm}",service="{token_issuer.service}"'
    )


def test_user_token_pushes_and_heads_blob(token_registry: LocalRegistry, token_issuer: TokenIssuer) -> None:
    before = token_issuer.count
    token = fetch_token(token_issuer, ["repository:a/b:pull,push"], auth=ALICE)
    assert token_issuer.count == before + 1
    seen = token_issuer.requests[-1]
    assert seen.user == "alice"
    assert seen.authorization_present
    assert seen.scopes == ("repository:a/b:pull,push",)
    assert seen.granted == ({"type": "repository", "name": "a/b", "actions": ["pull", "push"]},)

    data = b"hello sandbox"
    digest = push_blob(token_registry, "a/b", data, token)
    head = httpx.head(f"{token_registry.url}/v2/a/b/blobs/{digest}", headers=bearer(token))
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(data))


def test_anonymous_token_is_pull_only(token_registry: LocalRegistry, token_issuer: TokenIssuer) -> None:
    token = fetch_token(token_issuer, ["repository:a/b:pull,push"])
    seen = token_issuer.requests[-1]
    assert (seen.user, seen.authorization_present) == (None, False)
    assert seen.granted == ({"type": "repository", "name": "a/b", "actions": ["pull"]},)

    pull = httpx.head(f"{token_registry.url}/v2/a/b/blobs/{MISSING_BLOB}", headers=bearer(token))
    assert pull.status_code == 404  # authorised, the blob just is not there
    push = httpx.post(f"{token_registry.url}/v2/a/b/blobs/uploads/", headers=bearer(token))
    assert push.status_code == 401
    challenge = push.headers["WWW-Authenticate"]
    assert challenge_scopes(challenge) == {"repository:a/b": {"pull", "push"}}
    assert 'error="insufficient_scope"' in challenge


@pytest.mark.parametrize("joined", [False, True], ids=["repeated-scope-params", "space-separated"])
def test_cross_repo_mount_needs_pull_on_source(
    token_registry: LocalRegistry, token_issuer: TokenIssuer, joined: bool
) -> None:
    # Repository names must be lowercase: "mount/src-True" is not even routed (plain-text 404).
    src, dst = f"mount/src-{int(joined)}", f"mount/dst-{int(joined)}"
    src_token = fetch_token(token_issuer, [f"repository:{src}:pull,push"], ALICE)
    digest = push_blob(token_registry, src, b"mount me " + src.encode(), src_token)
    mount_url = f"{token_registry.url}/v2/{dst}/blobs/uploads/?mount={digest}&from={src}"

    dst_only = fetch_token(token_issuer, [f"repository:{dst}:pull,push"], ALICE)
    denied = httpx.post(mount_url, headers=bearer(dst_only))
    assert denied.status_code == 401
    assert challenge_scopes(denied.headers["WWW-Authenticate"]) == {
        f"repository:{dst}": {"pull", "push"},
        f"repository:{src}": {"pull"},
    }

    scopes = [f"repository:{dst}:pull,push", f"repository:{src}:pull"]
    token = fetch_token(token_issuer, [" ".join(scopes)] if joined else scopes, ALICE)
    assert len(token_issuer.requests[-1].granted) == 2
    mounted = httpx.post(mount_url, headers=bearer(token))
    assert mounted.status_code == 201, mounted.text
    assert mounted.headers["Location"].endswith(f"/v2/{dst}/blobs/{digest}")


def test_expired_token_is_invalid(token_registry: LocalRegistry, token_issuer: TokenIssuer) -> None:
    try:
        # The registry allows 60 s of clock skew, so expire the token well beyond it.
        token_issuer.exp_offset = -(token_issuer.ttl + 120)
        token = fetch_token(token_issuer, ["repository:a/b:pull"], ALICE)
    finally:
        token_issuer.clear_faults()
    response = httpx.get(f"{token_registry.url}/v2/", headers=bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.fixture(scope="module")
def x5c_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TokenIssuer, LocalRegistry]]:
    with (
        TokenIssuer(users={"alice": "alice-secret"}, key_id_mode="x5c", issuer="x5c-issuer") as issuer,
        LocalRegistry(tmp_path_factory.mktemp("x5c-registry"), auth=TokenAuth(issuer)) as registry,
    ):
        yield issuer, registry


def test_x5c_signed_tokens_are_accepted(x5c_setup: tuple[TokenIssuer, LocalRegistry]) -> None:
    issuer, registry = x5c_setup
    token = fetch_token(issuer, ["repository:x5c/repo:pull,push"], ALICE)
    header = jwt.get_unverified_header(token)
    assert "kid" not in header
    assert base64.b64decode(header["x5c"][0]) == issuer_certificate_der(issuer)
    digest = push_blob(registry, "x5c/repo", b"x5c", token)
    assert httpx.head(f"{registry.url}/v2/x5c/repo/blobs/{digest}", headers=bearer(token)).status_code == 200


def issuer_certificate_der(issuer: TokenIssuer) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    return x509.load_pem_x509_certificate(issuer.certificate_pem).public_bytes(serialization.Encoding.DER)


# -- the token endpoint on its own ---------------------------------------------------------------------------


def test_token_claims_match_registry_expectations(token_issuer: TokenIssuer) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    response = httpx.get(
        token_issuer.realm,
        params={"service": token_issuer.service, "scope": "registry:catalog:*"},
        auth=("bob", "bob-secret"),
    )
    body = response.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == token_issuer.ttl
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["issued_at"])

    public_key = x509.load_pem_x509_certificate(token_issuer.certificate_pem).public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    claims = jwt.decode(body["token"], public_key, algorithms=["ES256"], audience=token_issuer.service)
    assert claims["iss"] == token_issuer.issuer
    assert claims["sub"] == "bob"
    assert claims["aud"] == token_issuer.service  # a plain string: registry 2.8 rejects a list
    assert claims["exp"] - claims["iat"] == token_issuer.ttl
    assert claims["access"] == [{"type": "registry", "name": "catalog", "actions": ["*"]}]
    assert claims["jti"]

    kid = jwt.get_unverified_header(body["token"])["kid"]
    assert re.fullmatch(r"([A-Z2-7]{4}:){11}[A-Z2-7]{4}", kid)
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert kid == libtrust_key_id(der) == token_issuer.key_id


def test_bad_credentials_get_json_401(token_issuer: TokenIssuer) -> None:
    for auth in [("alice", "wrong"), ("mallory", "alice-secret")]:
        response = httpx.get(token_issuer.realm, params={"scope": "repository:a/b:pull"}, auth=auth)
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
        assert token_issuer.requests[-1].status == 401
    not_basic = httpx.get(token_issuer.realm, headers={"Authorization": "Bearer abc"})
    assert not_basic.status_code == 401


def test_fault_knobs_apply_in_order(token_issuer: TokenIssuer) -> None:
    try:
        token_issuer.fail_next(503, b"down", times=2, headers={"Retry-After": "1"})
        token_issuer.omit_token_next()
        first, second = (httpx.get(token_issuer.realm) for _ in range(2))
        assert (first.status_code, first.content, first.headers["Retry-After"]) == (503, b"down", "1")
        assert second.status_code == 503
        omitted = httpx.get(token_issuer.realm, auth=ALICE)
        assert (omitted.status_code, omitted.json()) == (200, {})
        assert "token" in httpx.get(token_issuer.realm).json()
    finally:
        token_issuer.clear_faults()


def test_request_log_reset(token_issuer: TokenIssuer) -> None:
    httpx.get(token_issuer.realm, params={"account": "alice"}, auth=ALICE)
    assert token_issuer.requests[-1].account == "alice"
    assert token_issuer.requests[-1].query["account"] == ["alice"]
    token_issuer.reset()
    assert token_issuer.count == 0
    assert token_issuer.requests == []


def test_grant_rules() -> None:
    issuer = TokenIssuer(users={"u": "p"}, public_repositories=frozenset({"pub/app"}))
    scopes = ("repository:pub/app:pull,push", "repository:priv/app:pull", "registry:catalog:*")
    assert issuer.grant(None, scopes) == [{"type": "repository", "name": "pub/app", "actions": ["pull"]}]
    assert [g["name"] for g in issuer.grant("u", scopes)] == ["pub/app", "priv/app", "catalog"]
    merged = issuer.grant("u", ("repository:r:pull", "repository:r:push,pull", "repository:r:delete"))
    assert merged == [{"type": "repository", "name": "r", "actions": ["pull", "push", "delete"]}]
    expected = ("repository", "localhost:5000/app", ("pull",))
    assert parse_scope("repository(plugin):localhost:5000/app:pull") == expected
    assert parse_scope("nonsense") is None


# -- basic auth and no auth ----------------------------------------------------------------------------------


def test_basic_registry(basic_registry: LocalRegistry) -> None:
    url = f"{basic_registry.url}/v2/"
    anonymous = httpx.get(url)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="basic-realm"'
    assert httpx.get(url, auth=("alice", "wrong")).status_code == 401
    assert httpx.get(url, auth=ALICE).status_code == 200


def test_open_registry(open_registry: LocalRegistry) -> None:
    response = httpx.get(f"{open_registry.url}/v2/")
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert open_registry.host == open_registry.url.removeprefix("http://")
    assert "listening on" in open_registry.log_text()


# -- lifecycle -----------------------------------------------------------------------------------------------


def test_stop_ends_the_child_process(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path).start()
    pid = registry.pid
    assert pid is not None
    registry.stop()
    assert registry.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped, not a zombie


def test_missing_binary_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKERHUB_TEST_REGISTRY_BIN", str(tmp_path / "no-such-registry"))
    with pytest.raises(RuntimeError, match="docker-registry not found: apt-get install docker-registry"):
        LocalRegistry(tmp_path).start()


def test_token_auth_needs_a_running_issuer(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not running"):
        LocalRegistry(tmp_path, auth=TokenAuth(TokenIssuer())).start()


def test_connection_json() -> None:
    conn = json.loads(connection_json("http://127.0.0.1:5000", "alice", "s3cret", verify=False))
    assert conn == {
        "conn_type": "dockerhub",
        "login": "alice",
        "password": "s3cret",
        "extra": {"registry_url": "http://127.0.0.1:5000", "verify": False},
    }
    assert json.loads(connection_uri("http://r")) == {
        "conn_type": "dockerhub",
        "extra": {"registry_url": "http://r"},
    }
