"""SCIM 2.0 client (``{hub_url}/v2/scim/2.0``), authenticated with the connection's SCIM token, never the JWT.

Docker Hub's SCIM has no PATCH and no DELETE on Users: deprovisioning is a PUT with ``enabled: false``. The PUT
body says ``enabled`` (defaulting to false!) where the resource says ``active``, so :meth:`ScimClient.replace_user`
always sends ``enabled`` explicitly. Every endpoint is a flow on ``ScimOperations``; ``ScimClient`` and
``AsyncScimClient`` are its two fronts, one line per method.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from ..core.errors import (
    ConfigurationError,
    InvalidInputError,
    ProtocolError,
    json_body,
    raise_for_response,
    redacted_path,
)
from ..core.flow import Flow
from ..core.front import AsyncFront, SyncFront, async_call, async_pages, sync_call, sync_pages
from ..core.pagination import Pages, Params, next_by_start_index
from ..core.reference import path_segment
from ..state import SessionState
from .models import ScimUser
from .scim_sync import SyncPlan

log = logging.getLogger(__name__)

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
    """Every SCIM endpoint as a flow, with the request plumbing they share."""

    def __init__(self, state: SessionState) -> None:
        state.check_hub_url()
        if not state.config.scim_token:
            raise ConfigurationError("SCIM calls need the connection extra 'scim_token'")
        self.state = state
        self.base = httpx.URL(state.config.hub_url)

    def url(self, *segments: str) -> httpx.URL:
        prefix = self.base.path.rstrip("/")  # a path in hub_url prefixes SCIM too (see HubRequests.url)
        return self.base.copy_with(path=prefix + SCIM_PREFIX + "".join("/" + path_segment(s) for s in segments))

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

    def _object(self, *segments: str) -> Flow[dict[str, Any]]:
        url = self.url(*segments)
        data = yield from self.call("GET", url)
        if not isinstance(data, dict):
            raise ProtocolError("GET", redacted_path(url), "not a JSON object")
        return data

    def _resource_list(self, *segments: str) -> Flow[list[dict[str, Any]]]:
        data = yield from self.call("GET", self.url(*segments))
        return [r for r in _resources(data) if isinstance(r, dict)]

    # -- discovery ----------------------------------------------------------------------------------------

    def service_provider_config(self) -> Flow[dict[str, Any]]:
        return self._object("ServiceProviderConfig")

    def resource_types(self) -> Flow[list[dict[str, Any]]]:
        return self._resource_list("ResourceTypes")

    def resource_type(self, name: str) -> Flow[dict[str, Any]]:
        return self._object("ResourceTypes", name)

    def schemas(self) -> Flow[list[dict[str, Any]]]:
        return self._resource_list("Schemas")

    def schema(self, schema_id: str) -> Flow[dict[str, Any]]:
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
    ) -> Pages[ScimUser]:
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
        return Pages(params, self.users_page, ScimUser.model_validate)

    def get_user(self, user_id: str) -> Flow[ScimUser]:
        data = yield from self._object("Users", user_id)
        return ScimUser.model_validate(data)

    def create_user(
        self, user_name: str, *, given_name: str | None = None, family_name: str | None = None
    ) -> Flow[ScimUser]:
        if "@" not in user_name:
            raise InvalidInputError(f"SCIM userName must be an email address, got {user_name!r}")
        body: dict[str, Any] = {"schemas": [USER_SCHEMA], "userName": user_name}
        name = {k: v for k, v in {"givenName": given_name, "familyName": family_name}.items() if v}
        if name:
            body["name"] = name
        data = yield from self.call("POST", self.url("Users"), json_data=body, expected=(200, 201))
        return ScimUser.model_validate(data)

    def replace_user(
        self, user_id: str, *, active: bool, given_name: str | None = None, family_name: str | None = None
    ) -> Flow[ScimUser]:
        """PUT the user. ``active=False`` deprovisions (a destructive change, gated like every write)."""
        body: dict[str, Any] = {"schemas": [USER_SCHEMA], "enabled": active}
        name = {k: v for k, v in {"givenName": given_name, "familyName": family_name}.items() if v is not None}
        if name:
            body["name"] = name
        data = yield from self.call("PUT", self.url("Users", user_id), json_data=body)
        return ScimUser.model_validate(data)

    # -- sync ---------------------------------------------------------------------------------------------

    def apply_plan(self, plan: SyncPlan) -> Flow[dict[str, int]]:
        """One request per change of a :func:`plan_sync` plan; stops at the first error (the next run re-plans
        from what is there). A plan with changes needs ``allow_destructive``, checked before the first request so
        that a refused sync changes nothing rather than stopping half-way."""
        if plan.changes:
            self.state.require_destructive("SCIM sync")
        done = dict.fromkeys(("create", "update", "reactivate", "deactivate"), 0)
        for change in plan.changes:
            if change.kind == "create":
                yield from self.create_user(
                    change.user_name, given_name=change.given_name, family_name=change.family_name
                )
            else:
                if change.user_id is None:
                    raise InvalidInputError(f"{change.kind} of {change.user_name!r} needs the user's id")
                yield from self.replace_user(
                    change.user_id,
                    active=change.kind != "deactivate",
                    given_name=change.given_name,
                    family_name=change.family_name,
                )
            done[change.kind] += 1
            log.info("SCIM %s %s", change.kind, change.user_name)
        return done


class ScimClient(SyncFront[ScimOperations]):
    """Synchronous SCIM client (``hook.scim``). ``list_users`` is an iterator over every page."""

    service_provider_config = sync_call(ScimOperations.service_provider_config)
    resource_types = sync_call(ScimOperations.resource_types)
    resource_type = sync_call(ScimOperations.resource_type)
    schemas = sync_call(ScimOperations.schemas)
    schema = sync_call(ScimOperations.schema)
    list_users = sync_pages(ScimOperations.list_users)
    get_user = sync_call(ScimOperations.get_user)
    create_user = sync_call(ScimOperations.create_user)
    replace_user = sync_call(ScimOperations.replace_user)
    apply_plan = sync_call(ScimOperations.apply_plan)


class AsyncScimClient(AsyncFront[ScimOperations]):
    """The async twin of :class:`ScimClient`; ``list_users`` is an async iterator."""

    service_provider_config = async_call(ScimOperations.service_provider_config)
    resource_types = async_call(ScimOperations.resource_types)
    resource_type = async_call(ScimOperations.resource_type)
    schemas = async_call(ScimOperations.schemas)
    schema = async_call(ScimOperations.schema)
    list_users = async_pages(ScimOperations.list_users)
    get_user = async_call(ScimOperations.get_user)
    create_user = async_call(ScimOperations.create_user)
    replace_user = async_call(ScimOperations.replace_user)
    apply_plan = async_call(ScimOperations.apply_plan)
