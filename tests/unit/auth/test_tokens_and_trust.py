"""Pure pieces of the auth layer: which realms may see credentials, JWT timing claims, token freshness."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_dockerhub.client.auth.tokens import MintedToken, jwt_claims, parse_rfc3339
from airflow_provider_dockerhub.client.auth.trust import RealmPolicy, is_loopback
from airflow_provider_dockerhub.client.core.config import ClientConfig
from airflow_provider_dockerhub.client.core.errors import UntrustedRealmError

HUB_REGISTRY = "https://registry-1.docker.io"
PRIVATE_REGISTRY = "https://registry.example.com"
LOCAL_REGISTRY = "http://127.0.0.1:5000"

OK, REFUSED = True, False

# (registry_url, trusted_realms, realm, with_credentials, allowed)
REALM_TABLE = [
    # Docker Hub: Docker's auth host is trusted with credentials, over https only.
    (HUB_REGISTRY, (), "https://auth.docker.io/token", True, OK),
    (HUB_REGISTRY, (), "https://AUTH.DOCKER.IO/token", True, OK),
    (HUB_REGISTRY, (), "https://auth.docker.io/token", False, OK),
    ("https://index.docker.io", (), "https://auth.docker.io/token", True, OK),
    (HUB_REGISTRY, (), "https://registry-1.docker.io/token", True, OK),
    (HUB_REGISTRY, (), "https://evil.example.com/token", True, REFUSED),
    (HUB_REGISTRY, (), "https://evil.example.com/token", False, OK),
    (HUB_REGISTRY, (), "https://auth.docker.io.evil.com/token", True, REFUSED),
    (HUB_REGISTRY, (), "https://auth.docker.io@evil.com/token", True, REFUSED),
    (HUB_REGISTRY, (), "https://evil.com/auth.docker.io/token", True, REFUSED),
    (HUB_REGISTRY, (), "http://auth.docker.io/token", True, REFUSED),
    (HUB_REGISTRY, (), "http://auth.docker.io/token", False, REFUSED),
    (HUB_REGISTRY, (), "http://evil.example.com/token", False, REFUSED),
    (HUB_REGISTRY, (), "http://127.0.0.1:5001/token", False, REFUSED),
    (HUB_REGISTRY, (), "ftp://auth.docker.io/token", False, REFUSED),
    (HUB_REGISTRY, (), "/token", False, REFUSED),
    (HUB_REGISTRY, (), "", False, REFUSED),
    (HUB_REGISTRY, (), "http://[::1", False, REFUSED),
    # A private registry: its own host is fine, Docker's auth host is just another host.
    (PRIVATE_REGISTRY, (), "https://registry.example.com/token", True, OK),
    (PRIVATE_REGISTRY, (), "https://registry.example.com:8443/token", True, OK),
    (PRIVATE_REGISTRY, (), "https://auth.docker.io/token", True, REFUSED),
    (PRIVATE_REGISTRY, (), "https://auth.example.com/token", True, REFUSED),
    # Loopback: plain http only between loopback addresses.
    (LOCAL_REGISTRY, (), "http://127.0.0.1:5001/token", True, OK),
    (LOCAL_REGISTRY, (), "http://localhost:5001/token", True, OK),
    (LOCAL_REGISTRY, (), "http://[::1]:5001/token", True, OK),
    ("http://localhost:5000", (), "http://127.0.0.1:5001/token", True, OK),
    (LOCAL_REGISTRY, (), "http://10.0.0.5:5001/token", False, REFUSED),
    (LOCAL_REGISTRY, (), "http://192.168.1.10/token", True, REFUSED),
    (LOCAL_REGISTRY, (), "https://evil.example.com/token", True, REFUSED),
    (LOCAL_REGISTRY, (), "https://127.0.0.1:5006/token", True, OK),
    (PRIVATE_REGISTRY, (), "http://127.0.0.1:5001/token", True, REFUSED),
    # trusted_realms, by host and by URL.
    (PRIVATE_REGISTRY, ("auth.example.com",), "https://auth.example.com/token", True, OK),
    (PRIVATE_REGISTRY, ("auth.example.com",), "https://auth.example.com/other/path", True, OK),
    (PRIVATE_REGISTRY, ("auth.example.com",), "https://other.example.com/token", True, REFUSED),
    (PRIVATE_REGISTRY, ("auth.example.com",), "http://auth.example.com/token", True, REFUSED),
    (PRIVATE_REGISTRY, ("https://auth.example.com/token",), "https://auth.example.com/token", True, OK),
    (PRIVATE_REGISTRY, ("https://auth.example.com/token",), "https://auth.example.com/token?x=1", True, OK),
    (PRIVATE_REGISTRY, ("https://auth.example.com/token",), "https://auth.example.com/other", True, REFUSED),
    (PRIVATE_REGISTRY, ("127.0.0.1",), "http://127.0.0.1:5001/token", True, OK),
]


@pytest.mark.parametrize(("registry", "trusted", "realm", "with_credentials", "allowed"), REALM_TABLE)
def test_realm_policy(
    registry: str, trusted: tuple[str, ...], realm: str, with_credentials: bool, allowed: bool
) -> None:
    policy = RealmPolicy(ClientConfig(registry_url=registry, trusted_realms=trusted))
    if allowed:
        url = policy.check(realm, with_credentials=with_credentials)
        assert isinstance(url, httpx.URL)
        assert url == httpx.URL(realm)
    else:
        with pytest.raises(UntrustedRealmError, match="realm"):
            policy.check(realm, with_credentials=with_credentials)


def test_realm_refusal_explains_the_fix() -> None:
    policy = RealmPolicy(ClientConfig(registry_url=PRIVATE_REGISTRY))
    with pytest.raises(UntrustedRealmError) as info:
        policy.check("https://auth.example.com/token", with_credentials=True)
    assert "trusted_realms" in str(info.value)
    assert "registry.example.com" in str(info.value)
    with pytest.raises(UntrustedRealmError, match="https"):
        policy.check("http://auth.example.com/token", with_credentials=False)


def test_trusted_realms_from_connection_extras() -> None:
    config = ClientConfig.from_fields(
        "alice",
        "secret",
        {"registry_url": PRIVATE_REGISTRY, "trusted_realms": "https://auth.example.com/token/, sso.example.com"},
    )
    policy = RealmPolicy(config)
    assert policy.check("https://auth.example.com/token", with_credentials=True) == httpx.URL(
        "https://auth.example.com/token"
    )
    assert policy.check("https://sso.example.com/oauth/token", with_credentials=True).host == "sso.example.com"
    with pytest.raises(UntrustedRealmError):
        policy.check("https://auth.example.com/elsewhere", with_credentials=True)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.10.20.30", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - a host name under test, nothing binds
        ("example.com", False),
        ("localhost.evil.com", False),
        ("127.0.0.1.nip.io", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


# -- jwt_claims ---------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwt(claims: Any, header: Any = None) -> str:
    header = header or {"alg": "ES256", "typ": "JWT"}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.c2lnbmF0dXJl"


def test_jwt_claims_of_a_real_shaped_token() -> None:
    claims = {"iss": "auth.docker.io", "sub": "alice", "exp": 1795726045, "nbf": 1795725744, "aud": "registry"}
    assert jwt_claims(_jwt(claims)) == claims


@pytest.mark.parametrize("sub", ["a", "ab", "abc", "abcd"])
def test_jwt_claims_restores_every_padding_length(sub: str) -> None:
    assert jwt_claims(_jwt({"sub": sub}))["sub"] == sub


@given(st.dictionaries(st.text(max_size=10), st.one_of(st.integers(), st.text(max_size=20), st.booleans())))
def test_jwt_claims_round_trip(claims: dict[str, Any]) -> None:
    assert jwt_claims(_jwt(claims)) == claims


@pytest.mark.parametrize(
    "token",
    [
        "",
        "opaque-registry-token",
        "a.b",
        "a.b.c.d",
        "..",
        "header.!!!!.sig",
        f"h.{_b64(b'not json')}.s",
        f"h.{_b64(b'[1, 2]')}.s",
        f"h.{_b64(b'null')}.s",
        f"h.{_b64(b'42')}.s",
        f"h.{_b64(json.dumps('a string').encode())}.s",
        f"h.{_b64(bytes([0xC3, 0x28]))}.s",
        "h.é.s",
        "h.a.s",  # a single base64 character cannot be decoded
    ],
)
def test_jwt_claims_of_garbage_is_empty(token: str) -> None:
    assert jwt_claims(token) == {}


@given(st.text(max_size=200))
def test_jwt_claims_never_raises(token: str) -> None:
    assert isinstance(jwt_claims(token), dict)


# -- parse_rfc3339 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2009-11-10T23:00:00Z", datetime(2009, 11, 10, 23, 0, tzinfo=UTC).timestamp()),
        ("2009-11-10T23:00:00+00:00", datetime(2009, 11, 10, 23, 0, tzinfo=UTC).timestamp()),
        ("2009-11-10T23:00:00+02:00", datetime(2009, 11, 10, 21, 0, tzinfo=UTC).timestamp()),
        ("2009-11-10T23:00:00-05:30", datetime(2009, 11, 11, 4, 30, tzinfo=UTC).timestamp()),
        ("2009-11-10T23:00:00.5Z", datetime(2009, 11, 10, 23, 0, tzinfo=UTC).timestamp() + 0.5),
        # Go's RFC3339Nano, as Docker Hub's token service sends it: nanoseconds, cut to microseconds.
        ("2021-04-19T09:04:52.084539006Z", datetime(2021, 4, 19, 9, 4, 52, 84539, tzinfo=UTC).timestamp()),
    ],
)
def test_parse_rfc3339(text: str, expected: float) -> None:
    assert parse_rfc3339(text) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "value", [None, "", "yesterday", "2009-11-10T23:00:00", "2009-13-10T23:00:00Z", "1257894000", 1257894000, []]
)
def test_parse_rfc3339_refuses_what_has_no_zone_or_is_not_a_time(value: Any) -> None:
    assert parse_rfc3339(value) is None


# -- MintedToken.fresh --------------------------------------------------------------------------------------

ISSUED = 1_700_000_000.0


@pytest.mark.parametrize(
    ("lifetime", "skew"),
    [
        (600.0, 60.0),  # the Hub JWT: refreshed one minute early
        (3600.0, 60.0),  # the skew is capped at a minute
        (300.0, 60.0),
        (60.0, 12.0),  # the registry default lifetime: 20 %
        (5.0, 1.0),  # a 5 s token refreshes 1 s early
    ],
)
def test_minted_token_refresh_skew(lifetime: float, skew: float) -> None:
    token = MintedToken("t", expires_at=ISSUED + lifetime, issued_at=ISSUED)
    assert token.fresh(ISSUED)
    assert token.fresh(ISSUED + lifetime - skew - 0.01)
    assert not token.fresh(ISSUED + lifetime - skew)
    assert not token.fresh(ISSUED + lifetime)
    assert not token.fresh(ISSUED + lifetime + 1000)


def test_ten_minute_token_refreshes_sixty_seconds_early() -> None:
    token = MintedToken("t", expires_at=ISSUED + 600, issued_at=ISSUED)
    assert token.fresh(ISSUED + 539)
    assert not token.fresh(ISSUED + 540)


def test_five_second_token_refreshes_one_second_early() -> None:
    token = MintedToken("t", expires_at=ISSUED + 5, issued_at=ISSUED)
    assert token.fresh(ISSUED + 3.9)
    assert not token.fresh(ISSUED + 4.0)


def test_token_already_expired_at_issue_is_never_fresh() -> None:
    token = MintedToken("t", expires_at=ISSUED - 10, issued_at=ISSUED)
    assert not token.fresh(ISSUED)
    assert not token.fresh(ISSUED - 5)  # skew is 0 for a negative lifetime, so only times before expiry
    assert token.fresh(ISSUED - 11)


@given(
    lifetime=st.floats(min_value=0.0, max_value=1e6, allow_nan=False),
    at=st.floats(min_value=-1e6, max_value=2e6, allow_nan=False),
)
def test_freshness_is_conservative(lifetime: float, at: float) -> None:
    token = MintedToken("t", expires_at=ISSUED + lifetime, issued_at=ISSUED)
    if token.fresh(ISSUED + at):
        # never fresh past expiry, and always at least min(60 s, 20 %) before it
        assert ISSUED + at < token.expires_at - min(60.0, 0.2 * lifetime) + 1e-6
    elif at < lifetime - 60.0 - 1e-3:
        pytest.fail("a token with more than a minute left must be fresh")
