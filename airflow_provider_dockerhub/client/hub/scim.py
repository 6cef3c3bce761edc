"""SCIM 2.0 client (``{hub_url}/v2/scim/2.0``), authenticated with the connection's SCIM token, never the JWT.

Docker Hub's SCIM has no PATCH and no DELETE on Users: deprovisioning is a PUT with ``enabled: false``. The PUT
body says ``enabled`` (defaulting to false!) where the resource says ``active``, so :meth:`ScimClient.replace_user`
always sends ``enabled`` explicitly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx

from ..core.errors import ConfigurationError, InvalidInputError, ProtocolError, raise_for_response, redacted_path
from ..core.flow import Flow
from ..core.pagination import Pages, Params, iterate_pages, next_by_start_index
from ..core.reference import path_segment
from ..state import SessionState
from .api import json_body
from .models import ScimUser

T = TypeVar("T")
SCIM_PREFIX = "/v2/scim/2.0"
SCIM_MEDIA_TYPE = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_PAGE_SIZE = 200  # the API's maximum ``count``


def _resources(body: Any) -> list[Any]:
    # The spec writes ``resources``; RFC 7644 says ``Resources``. Accept both.
    if not isinstance(body, dict):
        return []
    items = body.get("Resources", body.get("resources"))
    return items if isinstance(items, list) else []


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
        if method != "GET":
            self.state.require_destructive(f"SCIM {method} {url.path}")
        headers = {"Accept": SCIM_MEDIA_TYPE}
        content = None
        if json_data is not None:
            content = json.dumps(json_data).encode()
            headers["Content-Type"] = SCIM_MEDIA_TYPE
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        request = httpx.Request(method, url, params=clean or None, content=content, headers=headers)
        response = yield from self.state.scim_auth.request_flow(request)
        raise_for_response(response, expected)
        return json_body(response) if response.content else None

    def users_page(self, params: Params) -> Flow[tuple[list[Any], Params | None]]:
        body = yield from self.call("GET", self.url("Users"), params=params)
        items = _resources(body)
        return items, next_by_start_index(body, items, params)


class ScimClient:
    def __init__(self, state: SessionState, run: Callable[[Flow[Any]], Any]) -> None:
        self.ops = ScimOperations(state)
        self._run = run

    def run(self, flow: Flow[T]) -> T:
        result: T = self._run(flow)
        return result

    def _get(self, *segments: str) -> Any:
        return self.run(self.ops.call("GET", self.ops.url(*segments)))

    def _object(self, *segments: str) -> dict[str, Any]:
        data = self._get(*segments)
        if not isinstance(data, dict):
            raise ProtocolError("GET", redacted_path(self.ops.url(*segments)), "not a JSON object")
        return data

    # -- discovery ----------------------------------------------------------------------------------------

    def service_provider_config(self) -> dict[str, Any]:
        return self._object("ServiceProviderConfig")

    def resource_types(self) -> list[dict[str, Any]]:
        return [r for r in _resources(self._get("ResourceTypes")) if isinstance(r, dict)]

    def resource_type(self, name: str) -> dict[str, Any]:
        return self._object("ResourceTypes", name)

    def schemas(self) -> list[dict[str, Any]]:
        return [r for r in _resources(self._get("Schemas")) if isinstance(r, dict)]

    def schema(self, schema_id: str) -> dict[str, Any]:
        return self._object("Schemas", schema_id)

    # -- users --------------------------------------------------------------------------------------------

    def list_users(
        self,
        *,
        filter: str | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        attributes: str | None = None,
        page_size: int = SCIM_PAGE_SIZE,
    ) -> Iterator[ScimUser]:
        """Every user, walking ``startIndex``/``count`` pages (one listing pass: no GET per user)."""
        if sort_order not in (None, "ascending", "descending"):
            raise InvalidInputError(f"sort_order must be ascending or descending, got {sort_order!r}")
        if not 1 <= page_size <= SCIM_PAGE_SIZE:
            raise InvalidInputError(f"page_size must be 1-{SCIM_PAGE_SIZE}")
        first = {
            "startIndex": 1,
            "count": page_size,
            "filter": filter,
            "sortBy": sort_by,
            "sortOrder": sort_order,
            "attributes": attributes,
        }
        params = {k: v for k, v in first.items() if v is not None}
        yield from iterate_pages(self.run, Pages(params, self.ops.users_page, ScimUser.model_validate))

    def get_user(self, user_id: str) -> ScimUser:
        return ScimUser.model_validate(self._object("Users", user_id))

    def create_user(self, user_name: str, *, given_name: str | None = None, family_name: str | None = None) -> ScimUser:
        if "@" not in user_name:
            raise InvalidInputError(f"SCIM userName must be an email address, got {user_name!r}")
        body: dict[str, Any] = {"schemas": [USER_SCHEMA], "userName": user_name}
        name = {k: v for k, v in {"givenName": given_name, "familyName": family_name}.items() if v}
        if name:
            body["name"] = name
        data = self.run(self.ops.call("POST", self.ops.url("Users"), json_data=body, expected=(200, 201)))
        return ScimUser.model_validate(data)

    def replace_user(
        self, user_id: str, *, active: bool, given_name: str | None = None, family_name: str | None = None
    ) -> ScimUser:
        """PUT the user. ``active=False`` deprovisions (a destructive change, gated like every write)."""
        body: dict[str, Any] = {"schemas": [USER_SCHEMA], "enabled": active}
        name = {k: v for k, v in {"givenName": given_name, "familyName": family_name}.items() if v is not None}
        if name:
            body["name"] = name
        data = self.run(self.ops.call("PUT", self.ops.url("Users", user_id), json_data=body))
        return ScimUser.model_validate(data)
