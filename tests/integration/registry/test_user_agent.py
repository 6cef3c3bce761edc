"""Every request the client sends carries the provider's ``User-Agent``: registry calls, the token realm GET, the
Hub mint and Hub calls, against the real registry, token issuer and Hub emulator. respx passes every request
through to them and keeps a copy of what was sent; the token issuer also records the header it received."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import respx

from airflow_provider_dockerhub.client import AsyncDockerHubSession, ClientConfig, DockerHubSession
from airflow_provider_dockerhub.client.core.config import build_user_agent
from airflow_provider_dockerhub.testing.hub import HubEmulator
from airflow_provider_dockerhub.testing.registry import LocalRegistry
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer
from tests.specs import spec_path

pytestmark = pytest.mark.registry

AGENT = build_user_agent("airflow/9.9.9")


@pytest.fixture(scope="module")
def hub() -> Iterator[HubEmulator]:
    with HubEmulator(spec_path("docker-hub-api.yaml"), users={"alice": "alice-pat"}) as emulator:
        yield emulator


@pytest.fixture
def sent() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.route().pass_through()
        yield router


def config(registry: LocalRegistry, hub: HubEmulator, password: str = "alice-secret") -> ClientConfig:
    fields = {"registry_url": registry.url, "hub_url": hub.url, "namespace": "alice"}
    return ClientConfig.from_fields("alice", password, fields, user_agent=AGENT)


def agents(router: respx.MockRouter) -> dict[str, set[str | None]]:
    """``METHOD host/path`` of every request sent, with the User-Agent values it went out with."""
    seen: dict[str, set[str | None]] = {}
    for call in router.calls:
        request: httpx.Request = call.request
        seen.setdefault(f"{request.method} {request.url.netloc.decode()}{request.url.path}", set()).add(
            request.headers.get("User-Agent")
        )
    return seen


def test_registry_calls_and_the_token_realm_carry_the_user_agent(
    token_registry: LocalRegistry, token_issuer: TokenIssuer, hub: HubEmulator, sent: respx.MockRouter
) -> None:
    token_issuer.reset()
    with DockerHubSession(config(token_registry, hub)) as session:
        assert session.registry.head_manifest("ua/app", "v1") is None
    seen = agents(sent)
    realm = f"GET 127.0.0.1:{token_issuer.port}/token"
    assert realm in seen and any(k.startswith(f"HEAD {token_registry.host}/v2/") for k in seen)
    assert set().union(*seen.values()) == {AGENT}, seen
    assert token_issuer.count >= 1 and {r.user_agent for r in token_issuer.requests} == {AGENT}


def test_the_hub_mint_and_hub_calls_carry_the_user_agent(
    token_registry: LocalRegistry, hub: HubEmulator, sent: respx.MockRouter
) -> None:
    with DockerHubSession(config(token_registry, hub, password="alice-pat")) as session:
        session.hub.authenticate()
        session.hub.repository_exists("alice", "nothing-here")
    seen = agents(sent)
    host = httpx.URL(hub.url).netloc.decode()
    assert f"POST {host}/v2/auth/token" in seen
    assert any(k.endswith(f"{host}/v2/namespaces/alice/repositories/nothing-here") for k in seen), seen
    assert set().union(*seen.values()) == {AGENT}, seen


def test_the_async_session_sends_the_same_user_agent(
    token_registry: LocalRegistry, token_issuer: TokenIssuer, hub: HubEmulator, sent: respx.MockRouter
) -> None:
    async def main() -> None:
        async with AsyncDockerHubSession(config(token_registry, hub)) as session:
            assert await session.registry.head_manifest("ua/app", "v1") is None

    token_issuer.reset()
    asyncio.run(main())
    seen = agents(sent)
    assert f"GET 127.0.0.1:{token_issuer.port}/token" in seen  # a fresh session mints its own token
    assert set().union(*seen.values()) == {AGENT}, seen
    assert {r.user_agent for r in token_issuer.requests} == {AGENT}
