"""SCIM 2.0 client (``{hub_url}/v2/scim/2.0``), authenticated with the connection's SCIM token, never the JWT."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from .errors import ConfigurationError, ProtocolError, raise_for_response, redacted_path
from .flow import Flow
from .hub import json_body
from .reference import path_segment
from .session import SessionState

SCIM_PREFIX = "/v2/scim/2.0"
SCIM_MEDIA_TYPE = "application/scim+json"


class ScimOperations:
    def __init__(self, state: SessionState) -> None:
        state.check_hub_url()
        if not state.config.scim_token:
            raise ConfigurationError("SCIM calls need the connection extra 'scim_token'")
        self.state = state
        self.base = httpx.URL(state.config.hub_url)

    def url(self, *segments: str) -> httpx.URL:
        return self.base.copy_with(path=SCIM_PREFIX + "".join("/" + path_segment(s) for s in segments))

    def call(
        self,
        method: str,
        url: httpx.URL,
        *,
        params: dict[str, Any] | None = None,
        json_data: Any = None,
        expected: tuple[int, ...] = (200,),
    ) -> Flow[Any]:
        headers = {"Accept": SCIM_MEDIA_TYPE}
        content = None
        if json_data is not None:
            import json

            content = json.dumps(json_data).encode()
            headers["Content-Type"] = SCIM_MEDIA_TYPE
        request = httpx.Request(method, url, params=params, content=content, headers=headers)
        response = yield from self.state.scim_auth.request_flow(request)
        raise_for_response(response, expected)
        return json_body(response) if response.content else None

    def service_provider_config(self) -> Flow[dict[str, Any]]:
        data = yield from self.call("GET", self.url("ServiceProviderConfig"))
        if not isinstance(data, dict):
            raise ProtocolError("GET", redacted_path(self.url("ServiceProviderConfig")), "not an object")
        return data


class ScimClient:
    def __init__(self, state: SessionState, run: Callable[[Flow[Any]], Any]) -> None:
        self.ops = ScimOperations(state)
        self._run = run

    def service_provider_config(self) -> dict[str, Any]:
        result: dict[str, Any] = self._run(self.ops.service_provider_config())
        return result
