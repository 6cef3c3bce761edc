"""Groups (teams) of an organization and their members. Not for production."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..http import Call, json_object, json_response, page_of
from .base import HandlerBase


class GroupHandlers(HandlerBase):
    """``/v2/orgs/{org_name}/groups`` and their members."""

    def _group(self, call: Call, *, owner: bool = False) -> tuple[Any, Any]:
        org = self.state.require_org(call.principal, call.params["org_name"], owner=owner)
        return org, self.state.get_group(org, call.params["group_name"])

    def _groups_list(self, call: Call) -> Response:
        org = self.state.require_org(call.principal, call.params["org_name"])
        username, search = call.query.get("username"), call.query.get("search")
        groups = [
            g
            for g in sorted(org.groups.values(), key=lambda g: g.name)
            if (not username or username in g.members) and (not search or search.lower() in g.name.lower())
        ]
        return json_response(page_of(call, groups, self.state.group_json))

    def _group_create(self, call: Call) -> Response:
        org = self.state.require_org(call.principal, call.params["org_name"], owner=True)
        body = json_object(call)
        group = self.state.create_group(org, body.get("name"), body.get("description"), call.user.name)
        return json_response(self.state.group_json(group), 201)

    def _group_get(self, call: Call) -> Response:
        return json_response(self.state.group_json(self._group(call)[1]))

    def _group_update(self, call: Call) -> Response:
        org, group = self._group(call, owner=True)
        replace = call.method == "PUT"
        group = self.state.update_group(org, group, json_object(call), call.user.name, replace=replace)
        return json_response(self.state.group_json(group))

    def _group_delete(self, call: Call) -> Response:
        org, group = self._group(call, owner=True)
        self.state.delete_group(org, group, call.user.name)
        return Response(status_code=204)

    def _group_members(self, call: Call) -> Response:
        org, group = self._group(call)
        rows = self.state.group_members(org, group, call.query.get("search"))
        return json_response(page_of(call, rows, lambda row: row))

    def _group_member_add(self, call: Call) -> Response:
        org, group = self._group(call, owner=True)
        self.state.add_group_member(org, group, json_object(call).get("member"), call.user.name)
        return Response(status_code=200)

    def _group_member_delete(self, call: Call) -> Response:
        org, group = self._group(call, owner=True)
        self.state.remove_group_member(org, group, call.params["username"], call.user.name)
        return Response(status_code=204)
