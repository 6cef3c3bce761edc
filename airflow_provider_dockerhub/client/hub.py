"""Docker Hub management API v2 client (``hub.docker.com``): flows written once, sync and async fronts.

This module holds the request plumbing every Hub operation shares; the operations themselves grow with the
Hub issue. Paths are built from escaped segments only (``path_segment``), so a parameter like ``../settings``
can never turn into another endpoint (the reference package's W11).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx

from .errors import ProtocolError, raise_for_response, redacted_path
from .flow import Flow
from .reference import path_segment
from .session import SessionState

T = TypeVar("T")


def json_body(response: httpx.Response) -> Any:
    """The response's JSON; a typed ``ProtocolError`` (not a bare ``ValueError``) when it is not JSON."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        request = response.request
        raise ProtocolError(request.method, redacted_path(request.url), "answer is not valid JSON") from exc


class HubOperations:
    def __init__(self, state: SessionState) -> None:
        state.check_hub_url()
        self.state = state
        self.base = httpx.URL(state.config.hub_url)

    def url(self, *segments: str, prefix: str = "/v2") -> httpx.URL:
        return self.base.copy_with(path=prefix + "".join("/" + path_segment(s) for s in segments))

    def request(
        self,
        method: str,
        url: httpx.URL,
        *,
        params: Mapping[str, Any] | None = None,
        json_data: Any = None,
        accept: str = "application/json",
    ) -> Flow[httpx.Response]:
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        request = httpx.Request(method, url, params=clean or None, json=json_data, headers={"Accept": accept})
        return self.state.hub_auth.request_flow(request)

    def call(
        self,
        method: str,
        url: httpx.URL,
        *,
        params: Mapping[str, Any] | None = None,
        json_data: Any = None,
        expected: tuple[int, ...] = (200,),
    ) -> Flow[Any]:
        response = yield from self.request(method, url, params=params, json_data=json_data)
        raise_for_response(response, expected)
        if response.status_code == 204 or not response.content:
            return None
        return json_body(response)

    def authenticate(self) -> Flow[None]:
        """Mint (or reuse) the Hub JWT: proves the credentials with one call and no side effect."""
        from .auth import HubTokenSource
        from .flow import Acquire

        yield Acquire(self.state.hub_tokens, HubTokenSource.KEY)

    def get_repository(self, namespace: str, repository: str) -> Flow[dict[str, Any]]:
        data = yield from self.call("GET", self.url("namespaces", namespace, "repositories", repository))
        if not isinstance(data, dict):
            raise ProtocolError("GET", f"/v2/namespaces/{namespace}/repositories/{repository}", "not an object")
        return data


class HubClient:
    def __init__(self, state: SessionState, run: Callable[[Flow[Any]], Any]) -> None:
        self.ops = HubOperations(state)
        self._run = run

    def run(self, flow: Flow[T]) -> T:
        result: T = self._run(flow)
        return result

    def authenticate(self) -> None:
        self.run(self.ops.authenticate())

    def get_repository(self, namespace: str, repository: str) -> dict[str, Any]:
        return self.run(self.ops.get_repository(namespace, repository))


class AsyncHubClient:
    def __init__(self, state: SessionState, run: Callable[[Flow[Any]], Awaitable[Any]]) -> None:
        self.ops = HubOperations(state)
        self._run = run

    async def run(self, flow: Flow[T]) -> T:
        result: T = await self._run(flow)
        return result

    async def authenticate(self) -> None:
        await self.run(self.ops.authenticate())
