"""SCIM 2.0: discovery documents and users. Not for production."""

from __future__ import annotations

import secrets

from starlette.responses import Response

from ..http import JSON, Call, int_query, scim_response
from ..state import SCIM_LIST_SCHEMA, SCIM_RESOURCE_TYPES, SCIM_SCHEMAS, SCIM_SERVICE_PROVIDER_CONFIG, HubError
from .base import HandlerBase


class ScimHandlers(HandlerBase):
    """``/v2/scim/2.0``, authorized by the SCIM token alone."""

    def _scim_config(self, call: Call) -> Response:
        return scim_response(SCIM_SERVICE_PROVIDER_CONFIG)

    def _scim_resource_types(self, call: Call) -> Response:
        return scim_response({"schemas": [SCIM_LIST_SCHEMA], "totalResults": 1, "resources": SCIM_RESOURCE_TYPES})

    def _scim_resource_type(self, call: Call) -> Response:
        for resource in SCIM_RESOURCE_TYPES:
            if call.params["name"] in (resource["id"], resource["name"]):
                return scim_response(resource)
        raise HubError(404, f"Resource type {call.params['name']} not found")

    def _scim_schemas(self, call: Call) -> Response:
        return scim_response(
            {"schemas": [SCIM_LIST_SCHEMA], "totalResults": len(SCIM_SCHEMAS), "resources": SCIM_SCHEMAS}
        )

    def _scim_schema(self, call: Call) -> Response:
        for schema in SCIM_SCHEMAS:
            if schema["id"] == call.params["id"]:
                return scim_response(schema)
        raise HubError(404, f"Schema {call.params['id']} not found")

    def _scim_users(self, call: Call) -> Response:
        try:
            asked = int_query(call, "startIndex", 1)
            count = call.adversary.page_size(int_query(call, "count", 10, high=200, clamp=True))
        except HubError as err:
            raise HubError(400, err.detail, scim_type="invalidValue") from None
        if call.adversary.insert_now(call.request.raw_path, asked == 1):
            self.scim.insert_first(f"inserted-{len(self.scim.users) + 1}@adversary.example")
        start = call.adversary.page(asked)
        users = self.scim.list(call.query.get("filter"), call.query.get("sortBy"), call.query.get("sortOrder"))
        attributes = [a.strip() for a in (call.query.get("attributes") or "").split(",") if a.strip()]
        chunk = users[start - 1 : start - 1 + count]
        return scim_response(
            {
                "schemas": [SCIM_LIST_SCHEMA],
                "totalResults": call.adversary.total(len(users), asked == 1),
                "startIndex": start,
                "itemsPerPage": len(chunk),
                "resources": [self.scim.user_json(u, call.base_url, attributes) for u in chunk],
            }
        )

    @staticmethod
    def _scim_body(call: Call) -> JSON:
        body = call.body
        if not isinstance(body, dict) or not isinstance(body.get("schemas"), list) or not body["schemas"]:
            raise HubError(400, "schemas is required", scim_type="invalidSyntax")
        return body

    def _scim_user_create(self, call: Call) -> Response:
        body = self._scim_body(call)
        user = self.scim.create(body.get("userName"), body.get("name"))
        self._join_org(user.display_name, user.user_name, f"{user.given_name} {user.family_name}".strip())
        response = scim_response(self.scim.user_json(user, call.base_url), 201)
        response.headers["Location"] = f"{call.base_url}/v2/scim/2.0/Users/{user.id}"
        return response

    def _join_org(self, username: str, email: str, full_name: str) -> None:
        """Docker assigns a SCIM-created user to the organization (the spec's POST /Users: "assigned to the
        organization on the company team"), under its Docker ID, so team membership by Docker ID works."""
        org = getattr(self, "scim_org", None)
        if org is None:
            return
        if username not in self.state.users:
            self.state.add_user(username, secrets.token_hex(16), email=email, full_name=full_name or None)
        if username not in self.state.get_org(org).members:  # an existing member keeps their role
            self.state.add_member(org, username)

    def _scim_user_get(self, call: Call) -> Response:
        return scim_response(self.scim.user_json(self.scim.get(call.params["id"]), call.base_url))

    def _scim_user_put(self, call: Call) -> Response:
        body = self._scim_body(call)
        user = self.scim.replace(call.params["id"], body.get("name"), body.get("enabled", False))
        return scim_response(self.scim.user_json(user, call.base_url))
