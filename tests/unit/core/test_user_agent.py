"""The ``User-Agent`` every request carries: ``airflow-provider-dockerhub/<version> [airflow/<version>]
httpx/<version>``, set by both drivers on requests built by hand (``httpx.Request(...)`` gets no client default
headers, and ``client.send()`` adds none). The real-server side is tests/integration/registry/test_user_agent.py.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

import airflow_provider_dockerhub
from airflow_provider_dockerhub.client.core.config import DEFAULT_USER_AGENT, ClientConfig, build_user_agent
from airflow_provider_dockerhub.client.core.errors import ConfigurationError
from airflow_provider_dockerhub.client.core.flow import AsyncDriver, Flow, Send, SyncDriver


def test_default_user_agent_names_the_provider_and_httpx_versions() -> None:
    expected = f"airflow-provider-dockerhub/{airflow_provider_dockerhub.__version__} httpx/{httpx.__version__}"
    assert expected == DEFAULT_USER_AGENT
    assert ClientConfig().user_agent == expected
    assert ClientConfig.from_fields(None, None, {}).user_agent == expected


def test_products_go_between_the_provider_and_httpx() -> None:
    agent = build_user_agent("airflow/3.1.0")
    assert re.fullmatch(r"airflow-provider-dockerhub/\S+ airflow/3\.1\.0 httpx/\S+", agent)
    config = ClientConfig.from_fields("alice", "pat", {"namespace": "acme"}, user_agent=agent)
    assert config.user_agent == agent and config.namespace == "acme"


@pytest.mark.parametrize("bad", ["", "   ", "agent\r\nX-Injected: 1", "agent\n", "agent/ü", 42])
def test_a_user_agent_that_would_break_the_header_is_refused(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="user agent"):
        ClientConfig.from_fields(None, None, {}, user_agent=bad)  # type: ignore[arg-type]


def test_user_agent_is_not_a_connection_extra() -> None:
    with pytest.raises(ConfigurationError, match="unknown connection extra"):
        ClientConfig.from_fields(None, None, {"user_agent": "x"})


class _Pool:
    def __init__(self, client: httpx.Client | httpx.AsyncClient) -> None:
        self.client = client

    def client_for(self, url: httpx.URL) -> httpx.Client | httpx.AsyncClient:
        return self.client


def _sends(*requests: httpx.Request) -> Flow[list[httpx.Response]]:
    responses = []
    for request in requests:
        response = yield Send(request)
        responses.append(response)
    return responses


def _requests() -> tuple[httpx.Request, httpx.Request]:
    bare = httpx.Request("GET", "https://registry.example.com/v2/")
    own = httpx.Request("GET", "https://registry.example.com/v2/", headers={"User-Agent": "caller/1"})
    return bare, own


def _echo(request: httpx.Request) -> httpx.Response:
    headers = {name: value for name, value in request.headers.items() if name != "host"}
    return httpx.Response(200, json=headers)


def test_sync_driver_sets_the_user_agent_on_requests_built_by_hand() -> None:
    with httpx.Client(transport=httpx.MockTransport(_echo)) as client:
        bare, own = _requests()
        seen = SyncDriver(_Pool(client), user_agent="agent/1 httpx/x").run(_sends(bare, own))  # type: ignore[arg-type]
    assert seen[0].json()["user-agent"] == "agent/1 httpx/x"
    assert seen[1].json()["user-agent"] == "caller/1"  # a request's own value wins
    # No other client default: Accept-Encoding would let a CDN compress blob bytes under their digest.
    assert "accept-encoding" not in seen[0].json()


def test_async_driver_sets_the_user_agent_on_requests_built_by_hand() -> None:
    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(_echo)) as client:
            driver = AsyncDriver(_Pool(client), user_agent="agent/2 httpx/x")  # type: ignore[arg-type]
            return await driver.run(_sends(*_requests()))

    seen = asyncio.run(main())
    assert [r.json()["user-agent"] for r in seen] == ["agent/2 httpx/x", "caller/1"]
    assert "accept-encoding" not in seen[0].json()


def test_drivers_default_to_the_provider_user_agent() -> None:
    with httpx.Client(transport=httpx.MockTransport(_echo)) as client:
        (seen,) = SyncDriver(_Pool(client)).run(_sends(httpx.Request("GET", "https://x.example/")))  # type: ignore[arg-type]
    assert seen.json()["user-agent"] == DEFAULT_USER_AGENT
