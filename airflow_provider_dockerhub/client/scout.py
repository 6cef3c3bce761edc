"""Docker Scout GraphQL transport: ``POST {scout_url}/v1/graphql`` with the Hub JWT.

Docker's own hub-mcp authenticates this way (see shared reference docker-scout.md). A 200 answer that carries
``errors[]`` is a failure, never a success.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx

from .errors import DockerHubError, ProtocolError, raise_for_response, redacted_path
from .flow import Flow
from .hub import json_body
from .session import SessionState

T = TypeVar("T")
GRAPHQL_PATH = "/v1/graphql"


class ScoutGraphQLError(DockerHubError):
    """Scout answered with GraphQL ``errors``; ``codes`` holds their ``extensions.code`` values."""

    def __init__(self, operation: str | None, errors: list[dict[str, Any]]) -> None:
        messages = "; ".join(str(e.get("message", e)) for e in errors[:5])
        super().__init__(f"Scout GraphQL {operation or 'query'} failed: {messages}")
        self.errors = errors
        self.codes = tuple(
            str(e["extensions"]["code"])
            for e in errors
            if isinstance(e.get("extensions"), dict) and "code" in e["extensions"]
        )


class ScoutOperations:
    def __init__(self, state: SessionState) -> None:
        state.check_scout_url()
        self.state = state
        self.url = httpx.URL(state.config.scout_url + GRAPHQL_PATH)

    def graphql(
        self, query: str, variables: Mapping[str, Any] | None = None, operation_name: str | None = None
    ) -> Flow[dict[str, Any]]:
        payload: dict[str, Any] = {"query": query, "variables": dict(variables or {})}
        if operation_name:
            payload["operationName"] = operation_name
        request = httpx.Request("POST", self.url, json=payload, headers={"Accept": "application/json"})
        # A GraphQL query is a read: safe to retry like a GET, which send_flow only does for 429/connect errors
        # on POST. That is deliberate: Scout queries are cheap to re-run at the task level.
        response = yield from self.state.hub_auth.request_flow(request)
        raise_for_response(response, {200})
        body = json_body(response)
        if not isinstance(body, dict):
            raise ProtocolError("POST", redacted_path(self.url), "GraphQL answer is not an object")
        errors = body.get("errors")
        if errors:
            raise ScoutGraphQLError(operation_name, [e if isinstance(e, dict) else {"message": e} for e in errors])
        data = body.get("data")
        if not isinstance(data, dict):
            raise ProtocolError("POST", redacted_path(self.url), "GraphQL answer has no data")
        return data


class ScoutClient:
    def __init__(self, state: SessionState, run: Callable[[Flow[Any]], Any]) -> None:
        self.ops = ScoutOperations(state)
        self._run = run

    def graphql(
        self, query: str, variables: Mapping[str, Any] | None = None, operation_name: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._run(self.ops.graphql(query, variables, operation_name))
        return result


class AsyncScoutClient:
    def __init__(self, state: SessionState, run: Callable[[Flow[Any]], Awaitable[Any]]) -> None:
        self.ops = ScoutOperations(state)
        self._run = run

    async def graphql(
        self, query: str, variables: Mapping[str, Any] | None = None, operation_name: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._run(self.ops.graphql(query, variables, operation_name))
        return result
