"""Users, organizations, members, settings and invites. Not for production."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .audit import AuditState
from .records import (
    EMAIL_RE,
    JSON,
    ORG_ROLES,
    OWNERS_TEAM,
    Group,
    HubError,
    Invite,
    Org,
    Principal,
    User,
    bad_request,
    rfc3339,
)


class OrgState(AuditState):
    """Users and organizations with their members (roles mirrored by the owners team), settings and invites."""

    def add_user(self, username: str, secret: str, *, email: str | None = None, full_name: str | None = None) -> User:
        user = User(
            username=username,
            secret=secret,
            email=email or f"{username}@example.com",
            full_name=full_name or username.capitalize(),
            id=uuid.uuid5(uuid.NAMESPACE_DNS, f"{username}.hub.invalid").hex,
            date_joined=self.clock(),
        )
        self.users[username] = user
        return user

    def add_org(self, name: str, owner: str | None) -> Org:
        org = self.orgs.setdefault(name, Org(name=name))
        team = org.groups.setdefault(OWNERS_TEAM, Group(self.next_id(), str(uuid.uuid4()), OWNERS_TEAM, "Org owners"))
        if owner is not None:
            org.members[owner] = "owner"
            org.joined[owner] = self.clock()
            if owner not in team.members:
                team.members.append(owner)
        return org

    def add_member(self, org_name: str, username: str, role: str = "member") -> None:
        if username not in self.users:
            raise ValueError(f"unknown user {username!r}")
        if role not in ORG_ROLES:
            raise ValueError(f"role must be one of {ORG_ROLES}, not {role!r}")
        org = self.get_org(org_name)
        org.joined.setdefault(username, self.clock())
        self._set_role(org, username, role)

    def _set_role(self, org: Org, username: str, role: str) -> None:
        org.members[username] = role
        # The owners team mirrors the owner role, as on Docker Hub.
        owners = org.groups[OWNERS_TEAM].members
        if role == "owner" and username not in owners:
            owners.append(username)
        elif role != "owner" and username in owners:
            owners.remove(username)

    def get_org(self, name: str) -> Org:
        org = self.orgs.get(name)
        if org is None:
            raise HubError(404, f"organization {name!r} not found")
        return org

    def org_role(self, principal: Principal | None, org: Org) -> str | None:
        if principal is None:
            return None
        if principal.kind == "org":
            # OATs are managed by owners and act with owner rights inside their own organization.
            return "owner" if principal.name == org.name else None
        return org.members.get(principal.name)

    def require_org(self, principal: Principal | None, name: str, *, owner: bool = False) -> Org:
        org = self.get_org(name)
        role = self.org_role(principal, org)
        if role is None:
            raise HubError(403, f"not a member of the organization {name!r}")
        if owner and role != "owner":
            raise HubError(403, f"only owners of {name!r} may do this")
        return org

    def user_json(self, user: User, *, org: Org | None = None) -> JSON:
        body: JSON = {
            "id": user.id,
            "company": "",
            "date_joined": rfc3339(org.joined.get(user.username, user.date_joined) if org else user.date_joined),
            "full_name": user.full_name,
            "gravatar_email": "",
            "gravatar_url": "",
            "location": "",
            "profile_url": "",
            "type": "User",
            "username": user.username,
            "email": user.email,
        }
        return body

    def member_json(self, org: Org, username: str) -> JSON:
        body = self.user_json(self.users[username], org=org)
        body.update(
            role=org.members[username].capitalize(),
            groups=sorted(g.name for g in org.groups.values() if username in g.members),
            is_guest=False,
            primary_email=body["email"],
        )
        return body

    @staticmethod
    def invitee_json(invite: Invite) -> JSON:
        is_email = "@" in invite.invitee
        return {
            "id": invite.id.replace("-", ""),
            "company": "",
            "date_joined": rfc3339(invite.created_at),
            "full_name": "",
            "gravatar_email": "",
            "gravatar_url": "",
            "location": "",
            "profile_url": "",
            "type": "User",
            "username": "" if is_email else invite.invitee,
            "email": invite.invitee if is_email else "",
            "role": "Invitee",
            "groups": [invite.team] if invite.team else [],
            "is_guest": False,
        }

    def pending_invites(self, org: Org) -> list[Invite]:
        return [i for i in self.invites.values() if i.org == org.name and i.status == "pending"]

    def list_members(
        self, org: Org, *, search: str | None, invites: bool, type_: str | None, role: str | None
    ) -> list[JSON]:
        rows: list[JSON] = []
        if type_ != "invitee":
            for username in sorted(org.members):
                if role and org.members[username] != role:
                    continue
                user = self.users[username]
                if search and not any(search.lower() in s.lower() for s in (username, user.full_name, user.email)):
                    continue
                rows.append(self.member_json(org, username))
        if type_ == "invitee" or (type_ in (None, "all") and invites and not role):
            for invite in sorted(self.pending_invites(org), key=lambda i: i.created_at):
                if search and search.lower() not in invite.invitee.lower():
                    continue
                rows.append(self.invitee_json(invite))
        return rows

    def export_members_csv(self, org: Org) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        # Column names per the spec's properties; its ``required`` list says ``Role`` for ``Permission``.
        writer.writerow(["Name", "Username", "Email", "Type", "Permission", "Teams", "Date Joined"])

        def joined(ts: float) -> str:
            return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f +0000 UTC")

        for username in sorted(org.members):
            user = self.users[username]
            teams = ", ".join(sorted(g.name for g in org.groups.values() if username in g.members))
            permission = org.members[username].capitalize()
            writer.writerow(
                [user.full_name, username, user.email, "User", permission, teams, joined(org.joined[username])]
            )
        for invite in self.pending_invites(org):
            email = invite.invitee if "@" in invite.invitee else ""
            username = "" if email else invite.invitee
            writer.writerow(["", username, email, "Invitee", "Member", invite.team or "", joined(invite.created_at)])
        return out.getvalue()

    def _owners(self, org: Org) -> list[str]:
        return [u for u, r in org.members.items() if r == "owner"]

    def set_member_role(self, org: Org, username: str, role: str, actor: str) -> JSON:
        if username not in org.members:
            raise HubError(404, f"{username!r} is not a member of {org.name!r}")
        if role not in ORG_ROLES:
            raise bad_request(f"role must be one of {', '.join(ORG_ROLES)}", "role")
        if org.members[username] == "owner" and role != "owner" and len(self._owners(org)) == 1:
            raise bad_request("the last owner of an organization cannot be demoted", "role")
        self._set_role(org, username, role)
        self.record(org.name, "org.member.role.change", actor, org.name, {"member": username, "role": role})
        return self.member_json(org, username)

    def remove_member(self, org: Org, username: str, actor: str) -> None:
        if username not in org.members:
            raise HubError(404, f"{username!r} is not a member of {org.name!r}")
        if org.members[username] == "owner" and len(self._owners(org)) == 1:
            raise bad_request("the last owner of an organization cannot be removed")
        del org.members[username]
        org.joined.pop(username, None)
        for group in org.groups.values():
            if username in group.members:
                group.members.remove(username)
        self.record(org.name, "org.member.remove", actor, org.name, {"member": username})

    def update_settings(self, org: Org, restricted: Mapping[str, Any], actor: str) -> JSON:
        keys = ("enabled", "allow_official_images", "allow_verified_publishers")
        missing = [k for k in keys if not isinstance(restricted.get(k), bool)]
        if missing:
            raise HubError(
                400, "restricted_images needs booleans", fields={k: ["a boolean is required"] for k in missing}
            )
        org.settings = {"restricted_images": {k: restricted[k] for k in keys}}
        self.record(org.name, "org.settings.update", actor, org.name, {"setting": "restricted_images"})
        return org.settings

    @staticmethod
    def invite_json(invite: Invite) -> JSON:
        body: JSON = {
            "id": invite.id,
            "inviter_username": invite.inviter,
            "invitee": invite.invitee,
            "org": invite.org,
            "created_at": rfc3339(invite.created_at),
        }
        if invite.team:
            body["team"] = invite.team
        return body

    def get_invite(self, principal: Principal | None, invite_id: str) -> Invite:
        invite = self.invites.get(invite_id)
        if invite is None or invite.status != "pending":
            raise HubError(404, f"invite {invite_id!r} not found")
        self.require_org(principal, invite.org, owner=True)
        return invite

    def bulk_invite(
        self,
        principal: Principal,
        org: Org,
        *,
        team: str | None,
        role: str,
        invitees: Sequence[str],
        dry_run: bool,
    ) -> list[JSON]:
        if role not in ORG_ROLES:
            raise bad_request(f"role must be one of {', '.join(ORG_ROLES)}", "role")
        if team and team not in org.groups:
            raise bad_request(f"team {team!r} not found in {org.name!r}", "team")
        emails = {self.users[u].email.lower(): u for u in org.members}
        results: list[JSON] = []
        for raw in invitees:
            invitee = raw.strip()
            if EMAIL_RE.match(invitee):
                member = emails.get(invitee.lower())
            elif invitee.lower() in self.users:  # a Docker ID must name an existing account
                invitee = invitee.lower()
                member = invitee if invitee in org.members else None
            else:
                results.append({"invitee": raw, "status": "invalid_email_or_docker_id"})
                continue
            if member is not None:
                results.append({"invitee": raw, "status": "existing_org_member"})
                continue
            entry: JSON = {"invitee": raw, "status": "invited"}
            if not dry_run:
                invite = next((i for i in self.pending_invites(org) if i.invitee.lower() == invitee.lower()), None)
                if invite is None:
                    invite = Invite(str(uuid.uuid4()), principal.name, invitee, org.name, team, role, self.clock())
                    self.invites[invite.id] = invite
                    self.record(org.name, "org.member.invite.send", principal.name, org.name, {"invitee": invitee})
                entry["invite"] = self.invite_json(invite)
            results.append(entry)
        return results
