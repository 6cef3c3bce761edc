"""Hub JWT lifecycle rules, at the HTTP level (respx): mint once, refresh before exp, one retry on 401, never
re-post to the auth endpoints, one mint shared by concurrent callers, and the SCIM/Scout token boundaries."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator

import httpx
import pytest
import respx

from airflow_provider_dockerhub.client import (
    AsyncDockerHubSession,
    AuthenticationError,
    ClientConfig,
    ConfigurationError,
    DockerHubSession,
)

HUB = "https://hub.docker.com"
REPO_URL = f"{HUB}/v2/namespaces/acme/repositories/app"


def make_jwt(exp: float, sub: str = "alice") -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'sub': sub, 'exp': exp})}.c2lnbmF0dXJl"


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("airflow_provider_dockerhub.client.auth.hub.now", clock)
    return clock


@pytest.fixture
def hub_api_mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


def mint_route(hub_api_mock: respx.MockRouter, clock: Clock, lifetime: float = 600) -> respx.Route:
    counter = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        counter["n"] += 1
        body = json.loads(request.content)
        assert body == {"identifier": "alice", "secret": "dckr_pat_secret"}
        assert "authorization" not in request.headers
        return httpx.Response(200, json={"access_token": make_jwt(clock.now + lifetime, f"alice-{counter['n']}")})

    return hub_api_mock.post(f"{HUB}/v2/auth/token").mock(side_effect=answer)


def session(secrets: list[str] | None = None, **extra: object) -> DockerHubSession:
    config = ClientConfig.from_fields("alice", "dckr_pat_secret", dict(extra))
    return DockerHubSession(config, on_secret=(secrets.append if secrets is not None else None), sleep=lambda _: None)


def bearer_sub(request: httpx.Request) -> str:
    token = request.headers["authorization"].removeprefix("Bearer ")
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "==="))["sub"])


def test_one_mint_for_many_calls_and_token_is_masked(hub_api_mock: respx.MockRouter, clock: Clock) -> None:
    mint = mint_route(hub_api_mock, clock)
    repo = hub_api_mock.get(REPO_URL).mock(return_value=httpx.Response(200, json={"name": "app"}))
    secrets: list[str] = []
    with session(secrets) as s:
        for _ in range(10):
            assert s.hub.get_repository("acme", "app").name == "app"
    assert mint.call_count == 1
    assert repo.call_count == 10
    assert len(secrets) == 1 and secrets[0].count(".") == 2  # the JWT went to the masker
    assert {bearer_sub(call.request) for call in repo.calls} == {"alice-1"}


def test_refresh_happens_before_exp_with_skew(hub_api_mock: respx.MockRouter, clock: Clock) -> None:
    mint = mint_route(hub_api_mock, clock, lifetime=600)
    repo = hub_api_mock.get(REPO_URL).mock(return_value=httpx.Response(200, json={}))
    with session() as s:
        s.hub.get_repository("acme", "app")
        clock.now += 539  # 61 s before exp: still fresh
        s.hub.get_repository("acme", "app")
        assert mint.call_count == 1
        clock.now += 2  # 59 s before exp: inside the 60 s skew, refresh first
        s.hub.get_repository("acme", "app")
    assert mint.call_count == 2
    assert [bearer_sub(c.request) for c in repo.calls] == ["alice-1", "alice-1", "alice-2"]


def test_401_invalidates_and_retries_once(hub_api_mock: respx.MockRouter, clock: Clock) -> None:
    mint = mint_route(hub_api_mock, clock)
    repo = hub_api_mock.get(REPO_URL).mock(
        side_effect=[httpx.Response(401, json={"detail": "token revoked"}), httpx.Response(200, json={"name": "app"})]
    )
    with session() as s:
        assert s.hub.get_repository("acme", "app").name == "app"
    assert mint.call_count == 2
    assert [bearer_sub(c.request) for c in repo.calls] == ["alice-1", "alice-2"]


def test_persistent_401_stops_after_one_retry(hub_api_mock: respx.MockRouter, clock: Clock) -> None:
    mint = mint_route(hub_api_mock, clock)
    repo = hub_api_mock.get(REPO_URL).mock(
        return_value=httpx.Response(401, json={"detail": "nope", "message": "denied"})
    )
    with session() as s, pytest.raises(AuthenticationError) as exc:
        s.hub.get_repository("acme", "app")
    assert repo.call_count == 2 and mint.call_count == 2
    assert exc.value.status == 401 and exc.value.server_message == "nope"
    assert "GET hub.docker.com/v2/namespaces/acme/repositories/app" in str(exc.value)


def test_rejected_mint_is_never_reposted(hub_api_mock: respx.MockRouter, clock: Clock) -> None:
    mint = hub_api_mock.post(f"{HUB}/v2/auth/token").mock(
        return_value=httpx.Response(401, json={"detail": "incorrect username or password"})
    )
    repo = hub_api_mock.get(REPO_URL).mock(return_value=httpx.Response(200, json={}))
    with session() as s:
        for _ in range(3):
            with pytest.raises(AuthenticationError) as exc:
                s.hub.get_repository("acme", "app")
            assert "incorrect username or password" in str(exc.value)
            assert "lock the username" in str(exc.value)
    assert mint.call_count == 1  # Docker Hub locks a username after repeated failures: one attempt only
    assert repo.call_count == 0


def test_mint_5xx_is_not_replayed(hub_api_mock: respx.MockRouter, clock: Clock) -> None:
    mint = hub_api_mock.post(f"{HUB}/v2/auth/token").mock(return_value=httpx.Response(502, text="bad gateway"))
    with session() as s, pytest.raises(Exception, match="502"):
        s.hub.authenticate()
    assert mint.call_count == 1


@pytest.mark.parametrize("path", ["/v2/users/login", "/v2/users/2fa-login"])
def test_login_endpoints_are_never_replayed_or_authenticated(
    hub_api_mock: respx.MockRouter, clock: Clock, path: str
) -> None:
    mint = mint_route(hub_api_mock, clock)
    login = hub_api_mock.post(f"{HUB}{path}").mock(return_value=httpx.Response(401, json={"detail": "bad 2fa code"}))
    with session() as s, pytest.raises(AuthenticationError):
        if path.endswith("2fa-login"):
            s.hub.login_2fa("login-2fa-token", "123456")
        else:
            s.hub.login("alice", "password")
    assert login.call_count == 1
    assert mint.call_count == 0
    assert "authorization" not in login.calls[0].request.headers


def test_concurrent_callers_share_one_mint(hub_api_mock: respx.MockRouter, clock: Clock) -> None:
    mint = mint_route(hub_api_mock, clock)
    hub_api_mock.get(REPO_URL).mock(return_value=httpx.Response(200, json={}))
    barrier = threading.Barrier(32)
    errors: list[BaseException] = []
    with session() as s:

        def call() -> None:
            try:
                barrier.wait()
                s.hub.get_repository("acme", "app")
            except BaseException as exc:  # asserted below
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == [] and mint.call_count == 1


def test_async_session_shares_the_same_rules(hub_api_mock: respx.MockRouter, clock: Clock) -> None:
    mint = mint_route(hub_api_mock, clock)
    hub_api_mock.get(REPO_URL).mock(return_value=httpx.Response(200, json={}))

    async def main() -> None:
        config = ClientConfig.from_fields("alice", "dckr_pat_secret", {})
        async with AsyncDockerHubSession(config) as s:
            await asyncio.gather(*(s.hub.authenticate() for _ in range(20)))

    asyncio.run(main())
    assert mint.call_count == 1


def test_path_parameters_cannot_escape_their_segment(hub_api_mock: respx.MockRouter, clock: Clock) -> None:
    mint_route(hub_api_mock, clock)
    route = hub_api_mock.get(url__regex=r".*").mock(return_value=httpx.Response(200, json={}))
    with session() as s:
        s.hub.get_repository("acme", "../settings?x=1")
    assert route.calls[0].request.url.raw_path == b"/v2/namespaces/acme/repositories/..%2Fsettings%3Fx%3D1"


def test_scim_uses_the_scim_token_never_the_jwt(hub_api_mock: respx.MockRouter, clock: Clock) -> None:
    mint = mint_route(hub_api_mock, clock)
    spc = hub_api_mock.get(f"{HUB}/v2/scim/2.0/ServiceProviderConfig").mock(
        return_value=httpx.Response(200, json={"schemas": []}, headers={"Content-Type": "application/scim+json"})
    )
    with session(scim_token="scim-secret-token") as s:
        assert s.scim.service_provider_config() == {"schemas": []}
    assert mint.call_count == 0
    assert spc.calls[0].request.headers["authorization"] == "Bearer scim-secret-token"
    assert spc.calls[0].request.headers["accept"] == "application/scim+json"


def test_scim_without_token_is_a_configuration_error() -> None:
    with session() as s, pytest.raises(ConfigurationError, match="scim_token"):
        s.scim.service_provider_config()


def test_scout_gets_the_jwt_and_graphql_errors_fail(hub_api_mock: respx.MockRouter, clock: Clock) -> None:
    from airflow_provider_dockerhub.client.scout.api import ScoutGraphQLError

    mint_route(hub_api_mock, clock)
    scout = hub_api_mock.post("https://api.scout.docker.com/v1/graphql").mock(
        side_effect=[
            httpx.Response(200, json={"data": {"ok": True}}),
            httpx.Response(200, json={"data": None, "errors": [{"message": "not entitled"}]}),
        ]
    )
    with session() as s:
        assert s.scout.graphql("query { ok }") == {"ok": True}
        with pytest.raises(ScoutGraphQLError, match="not entitled"):
            s.scout.graphql("query { ok }")
    assert bearer_sub(scout.calls[0].request) == "alice-1"


def test_hub_jwt_never_goes_to_a_foreign_scout_host() -> None:
    with session(scout_url="https://scout.evil.example") as s, pytest.raises(ConfigurationError, match="refusing"):
        s.scout.graphql("query { ok }")


def test_plain_http_hub_off_loopback_is_refused() -> None:
    with session(hub_url="http://hub.example.com") as s, pytest.raises(ConfigurationError, match="https"):
        s.hub.authenticate()
