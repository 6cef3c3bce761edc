"""Teams (the API's *groups*) of an organization and their members, as flows."""

from __future__ import annotations

from ..core.errors import InvalidInputError
from ..core.flow import Flow
from ..core.pagination import Pages
from .models import Group, OrgMember
from .requests import DELETED, HUB_PAGE_SIZE, HubRequests, without_none


class TeamFlows(HubRequests):
    def list_groups(
        self, org: str, *, search: str | None = None, username: str | None = None, page_size: int = HUB_PAGE_SIZE
    ) -> Pages[Group]:
        return self.listing(
            Group, ("orgs", org, "groups"), {"page": 1, "page_size": page_size, "search": search, "username": username}
        )

    def create_group(self, org: str, name: str, description: str | None = None) -> Flow[Group]:
        body = {"name": name, "description": description}
        data = yield from self.call("POST", self.url("orgs", org, "groups"), expected=(200, 201), json_data=body)
        return Group.model_validate(data)

    def get_group(self, org: str, group: str) -> Flow[Group]:
        data = yield from self.call("GET", self.url("orgs", org, "groups", group))
        return Group.model_validate(data)

    def update_group(
        self, org: str, group: str, *, name: str | None = None, description: str | None = None, replace: bool = False
    ) -> Flow[Group]:
        """PATCH the given fields, or PUT (``replace=True``: ``name`` required, omitted fields reset)."""
        body = without_none({"name": name, "description": description})
        if not body or (replace and name is None):
            raise InvalidInputError("update_group needs a name (and for replace=True, always the name)")
        data = yield from self.call(
            "PUT" if replace else "PATCH", self.url("orgs", org, "groups", group), json_data=body
        )
        return Group.model_validate(data)

    def delete_group(self, org: str, group: str) -> Flow[None]:
        yield from self.call("DELETE", self.url("orgs", org, "groups", group), expected=DELETED)

    def list_group_members(
        self, org: str, group: str, *, search: str | None = None, page_size: int = HUB_PAGE_SIZE
    ) -> Pages[OrgMember]:
        return self.listing(
            OrgMember, ("orgs", org, "groups", group, "members"), {"page": 1, "page_size": page_size, "search": search}
        )

    def add_group_member(self, org: str, group: str, username: str) -> Flow[None]:
        url = self.url("orgs", org, "groups", group, "members")
        yield from self.call("POST", url, expected=(200, 201, 204), json_data={"member": username})

    def remove_group_member(self, org: str, group: str, username: str) -> Flow[None]:
        yield from self.call("DELETE", self.url("orgs", org, "groups", group, "members", username), expected=DELETED)
