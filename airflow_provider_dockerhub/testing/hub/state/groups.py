"""Groups (teams) of an organization and their members. Not for production."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from .orgs import OrgState
from .records import JSON, OWNERS_TEAM, Group, HubError, Org, bad_request


class GroupState(OrgState):
    """Groups of an organization; the owners team cannot be renamed or deleted and tracks the owner role."""

    @staticmethod
    def group_json(group: Group) -> JSON:
        return {
            "id": group.id,
            "uuid": group.uuid,
            "name": group.name,
            "description": group.description,
            "member_count": len(group.members),
        }

    @staticmethod
    def get_group(org: Org, name: str) -> Group:
        group = org.groups.get(name)
        if group is None:
            raise HubError(404, f"group {name!r} not found in {org.name!r}")
        return group

    def create_group(self, org: Org, name: Any, description: Any, actor: str) -> Group:
        if not isinstance(name, str) or not name.strip() or "/" in name:
            raise bad_request("a group name is required", "name")
        if name in org.groups:
            raise bad_request(f"group {name!r} already exists", "name")
        group = Group(self.next_id(), str(uuid.uuid4()), name, description if isinstance(description, str) else "")
        org.groups[name] = group
        self.record(org.name, "org.team.create", actor, org.name, {"team": name})
        return group

    def update_group(self, org: Org, group: Group, body: Mapping[str, Any], actor: str, *, replace: bool) -> Group:
        name = body.get("name")
        if replace and not isinstance(name, str):
            raise bad_request("a group name is required", "name")
        if isinstance(name, str) and name != group.name:
            if not name.strip() or "/" in name:
                raise bad_request("invalid group name", "name")
            if name in org.groups:
                raise bad_request(f"group {name!r} already exists", "name")
            if group.name == OWNERS_TEAM:
                raise bad_request("the owners team cannot be renamed", "name")
            del org.groups[group.name]
            group.name = name
            org.groups[name] = group
        if "description" in body or replace:
            description = body.get("description")
            group.description = description if isinstance(description, str) else ""
        self.record(org.name, "org.team.update", actor, org.name, {"team": group.name})
        return group

    def delete_group(self, org: Org, group: Group, actor: str) -> None:
        if group.name == OWNERS_TEAM:
            raise bad_request("the owners team cannot be deleted")
        del org.groups[group.name]
        for repo in self.repos.values():
            repo.group_perms.pop(group.id, None)
        self.record(org.name, "org.team.delete", actor, org.name, {"team": group.name})

    def group_members(self, org: Org, group: Group, search: str | None) -> list[JSON]:
        rows = []
        for username in sorted(group.members):
            user = self.users[username]
            if search and not any(search.lower() in s.lower() for s in (username, user.full_name, user.email)):
                continue
            rows.append(self.user_json(user, org=org))
        return rows

    def add_group_member(self, org: Org, group: Group, username: Any, actor: str) -> None:
        if not isinstance(username, str) or username not in org.members:
            raise HubError(404, f"{username!r} is not a member of {org.name!r}")
        if group.name == OWNERS_TEAM:
            self._set_role(org, username, "owner")
        elif username not in group.members:
            group.members.append(username)
        self.record(org.name, "org.team.member.add", actor, username, {"team": group.name})

    def remove_group_member(self, org: Org, group: Group, username: str, actor: str) -> None:
        if username not in group.members:
            raise HubError(404, f"{username!r} is not in the group {group.name!r}")
        if group.name == OWNERS_TEAM:
            if len(self._owners(org)) == 1:
                raise bad_request("the last owner of an organization cannot be removed")
            self._set_role(org, username, "member")
        else:
            group.members.remove(username)
        self.record(org.name, "org.team.member.remove", actor, username, {"team": group.name})
