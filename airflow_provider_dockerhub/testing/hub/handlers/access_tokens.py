"""Personal access tokens and organization access tokens. Not for production."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..http import Call, json_object, json_response, page_of
from ..state import HubError
from .base import HandlerBase


class AccessTokenHandlers(HandlerBase):
    """``/v2/access-tokens`` (PATs) and ``/v2/orgs/{name}/access-tokens`` (OATs)."""

    def _pat_create(self, call: Call) -> Response:
        body = json_object(call)
        pat = self.state.create_pat(
            call.user,
            body.get("token_label"),
            body.get("scopes"),
            body.get("expires_at"),
            ip=call.request.client_host,
            user_agent=call.headers.get("user-agent", ""),
        )
        return json_response(self.state.pat_json(pat, reveal=True), 201)

    def _pat_list(self, call: Call) -> Response:
        pats = self.state.list_pats(call.user)
        page = page_of(call, pats, self.state.pat_json)
        page["active_count"] = sum(p.is_active for p in pats)
        return json_response(page)

    def _pat_get(self, call: Call) -> Response:
        return json_response(self.state.pat_json(self.state.get_pat(call.user, call.params["uuid"])))

    def _pat_patch(self, call: Call) -> Response:
        pat = self.state.get_pat(call.user, call.params["uuid"])
        body = json_object(call)
        if "token_label" in body:
            label = body["token_label"]
            if not isinstance(label, str) or not 1 <= len(label) <= 100:
                raise HubError(400, "Invalid token label", fields={"token_label": ["must be 1-100 characters"]})
            pat.label = label
        if "is_active" in body:
            if not isinstance(body["is_active"], bool):
                raise HubError(400, "Invalid is_active", fields={"is_active": ["must be a boolean"]})
            pat.is_active = body["is_active"]
        return json_response(self.state.pat_json(pat))

    def _pat_delete(self, call: Call) -> Response:
        pat = self.state.get_pat(call.user, call.params["uuid"])
        del self.state.pats[pat.uuid]
        return Response(status_code=204)

    def _oat_create(self, call: Call) -> Response:
        org = self.state.require_org(call.principal, call.params["name"], owner=True)
        oat = self.state.create_oat(call.user, org, json_object(call))
        return json_response(self.state.oat_json(oat, reveal=True), 201)

    def _oat_list(self, call: Call) -> Response:
        org = self.state.require_org(call.principal, call.params["name"], owner=True)
        oats = sorted(org.oats.values(), key=lambda o: o.created_at, reverse=True)
        return json_response(page_of(call, oats, lambda o: self.state.oat_json(o, resources=False), count_key="total"))

    def _oat_item(self, call: Call) -> tuple[Any, Any]:
        org = self.state.require_org(call.principal, call.params["org_name"], owner=True)
        return org, self.state.get_oat(org, call.params["access_token_id"])

    def _oat_get(self, call: Call) -> Response:
        _, oat = self._oat_item(call)
        return json_response(self.state.oat_json(oat))

    def _oat_patch(self, call: Call) -> Response:
        org, oat = self._oat_item(call)
        return json_response(self.state.oat_json(self.state.update_oat(call.user, org, oat, json_object(call))))

    def _oat_delete(self, call: Call) -> Response:
        org, oat = self._oat_item(call)
        self.state.delete_oat(call.user, org, oat)
        return Response(status_code=204)
