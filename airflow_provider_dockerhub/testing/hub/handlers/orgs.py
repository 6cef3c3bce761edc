"""Organization settings, members and invites. Not for production."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response

from ..http import Call, bool_query, json_object, json_response, page_of
from ..state import HubError
from .base import HandlerBase


class OrgHandlers(HandlerBase):
    """Settings, the member list and its CSV export, roles, removals and invites of an organization."""

    def _settings_get(self, call: Call) -> Response:
        return json_response(self.state.require_org(call.principal, call.params["name"]).settings)

    def _settings_put(self, call: Call) -> Response:
        org = self.state.require_org(call.principal, call.params["name"], owner=True)
        restricted = json_object(call).get("restricted_images")
        if not isinstance(restricted, dict):
            raise HubError(400, "restricted_images is required", fields={"restricted_images": ["required"]})
        return json_response(self.state.update_settings(org, restricted, call.user.name))

    def _members_list(self, call: Call) -> Response:
        org = self.state.require_org(call.principal, call.params["org_name"])
        member_type, role = call.query.get("type") or None, call.query.get("role") or None
        if member_type not in (None, "all", "invitee", "member"):
            raise HubError(400, "Invalid type", fields={"type": ["must be all, invitee or member"]})
        if role not in (None, "owner", "editor", "member"):
            raise HubError(400, "Invalid role", fields={"role": ["must be owner, editor or member"]})
        rows = self.state.list_members(
            org, search=call.query.get("search"), invites=bool_query(call, "invites"), type_=member_type, role=role
        )
        # One page object, not the array of pages the spec declares (see SPEC_WORKAROUNDS).
        return json_response(page_of(call, rows, lambda row: row))

    def _members_export(self, call: Call) -> Response:
        org = self.state.require_org(call.principal, call.params["org_name"])
        stamp = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y%m%d%H%M%S")
        response = Response(self.state.export_members_csv(org), media_type="text/csv")
        response.headers["Content-Disposition"] = f'attachment;filename="{org.name}-members-{stamp}.csv"'
        return response

    def _member_put(self, call: Call) -> Response:
        org = self.state.require_org(call.principal, call.params["org_name"], owner=True)
        role = json_object(call).get("role")
        return json_response(self.state.set_member_role(org, call.params["username"], str(role), call.user.name))

    def _member_delete(self, call: Call) -> Response:
        org = self.state.require_org(call.principal, call.params["org_name"], owner=True)
        self.state.remove_member(org, call.params["username"], call.user.name)
        return Response(status_code=204)

    def _invites_list(self, call: Call) -> Response:
        org = self.state.require_org(call.principal, call.params["org_name"], owner=True)
        invites = sorted(self.state.pending_invites(org), key=lambda i: i.created_at)
        return json_response({"data": [self.state.invite_json(i) for i in invites]})

    def _invite_delete(self, call: Call) -> Response:
        self.state.get_invite(call.principal, call.params["id"]).status = "cancelled"
        return Response(status_code=204)

    def _invite_resend(self, call: Call) -> Response:
        self.state.get_invite(call.principal, call.params["id"]).sent += 1
        return Response(status_code=204)

    def _invite_bulk(self, call: Call) -> Response:
        body = json_object(call)
        invitees = body.get("invitees")
        if not isinstance(invitees, list) or not invitees or not all(isinstance(i, str) for i in invitees):
            raise HubError(400, "invitees is required", fields={"invitees": ["a non-empty list of strings"]})
        if not isinstance(body.get("org"), str):
            raise HubError(400, "org is required", fields={"org": ["the organization name is required"]})
        org = self.state.require_org(call.principal, body["org"], owner=True)
        team = body.get("team")
        entries = self.state.bulk_invite(
            call.user,
            org,
            team=team if isinstance(team, str) and team else None,
            role=str(body.get("role") or "member"),
            invitees=invitees,
            dry_run=body.get("dry_run") is True,
        )
        return json_response({"invitees": {"invitees": entries}}, 202)  # the spec's nesting, verbatim
