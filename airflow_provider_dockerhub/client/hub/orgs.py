"""Organizations, as flows: settings, members and invites."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.errors import InvalidInputError, raise_for_response
from ..core.flow import Flow
from ..core.pagination import Pages
from .models import BulkInviteEntry, Invite, OrgMember, OrgSettings
from .requests import DELETED, HUB_PAGE_SIZE, HubRequests, choice

MEMBER_ROLES = frozenset({"owner", "editor", "member"})
MEMBER_TYPES = frozenset({"all", "invitee", "member"})


class OrgFlows(HubRequests):
    # -- settings -----------------------------------------------------------------------------------------

    def get_org_settings(self, org: str) -> Flow[OrgSettings]:
        data = yield from self.call("GET", self.url("orgs", org, "settings"))
        return OrgSettings.model_validate(data)

    def update_org_settings(
        self,
        org: str,
        *,
        restricted_images_enabled: bool,
        allow_official_images: bool = True,
        allow_verified_publishers: bool = True,
    ) -> Flow[OrgSettings]:
        body = {
            "restricted_images": {
                "enabled": restricted_images_enabled,
                "allow_official_images": allow_official_images,
                "allow_verified_publishers": allow_verified_publishers,
            }
        }
        data = yield from self.call("PUT", self.url("orgs", org, "settings"), json_data=body)
        return OrgSettings.model_validate(data)

    # -- members ------------------------------------------------------------------------------------------

    def list_members(
        self,
        org: str,
        *,
        search: str | None = None,
        role: str | None = None,
        member_type: str | None = None,
        page_size: int = HUB_PAGE_SIZE,
    ) -> Pages[OrgMember]:
        choice("role", role, MEMBER_ROLES)
        choice("member_type", member_type, MEMBER_TYPES)
        return self.listing(
            OrgMember,
            ("orgs", org, "members"),
            {"page": 1, "page_size": page_size, "search": search, "role": role, "type": member_type},
        )

    def export_members_csv(self, org: str) -> Flow[str]:
        response = yield from self.request("GET", self.url("orgs", org, "members", "export"), accept="text/csv")
        raise_for_response(response, (200,))
        return response.text

    def update_member_role(self, org: str, username: str, role: str) -> Flow[OrgMember]:
        """A role change (``owner``/``editor``/``member``, or a custom role name): destructive, gated."""
        if not role:
            raise InvalidInputError("role must be given")
        data = yield from self.call("PUT", self.url("orgs", org, "members", username), json_data={"role": role})
        return OrgMember.model_validate(data)

    def remove_member(self, org: str, username: str) -> Flow[None]:
        yield from self.call("DELETE", self.url("orgs", org, "members", username), expected=DELETED)

    # -- invites ------------------------------------------------------------------------------------------

    def list_invites(self, org: str) -> Flow[list[Invite]]:
        data = yield from self.call("GET", self.url("orgs", org, "invites"))
        items = data.get("data") if isinstance(data, dict) else data
        return [Invite.model_validate(i) for i in items or []]

    def delete_invite(self, invite_id: str) -> Flow[None]:
        yield from self.call("DELETE", self.url("invites", invite_id), expected=DELETED)

    def resend_invite(self, invite_id: str) -> Flow[None]:
        yield from self.call("PATCH", self.url("invites", invite_id, "resend"), expected=DELETED)

    def bulk_invite(
        self, org: str, invitees: Sequence[str], *, team: str | None = None, role: str = "member", dry_run: bool = False
    ) -> Flow[list[BulkInviteEntry]]:
        """Invite by email or Docker ID. ``dry_run=True`` validates without inviting (and is not gated)."""
        if not invitees:
            raise InvalidInputError("bulk_invite needs at least one invitee")
        choice("role", role, MEMBER_ROLES)
        body = {"org": org, "invitees": list(invitees), "role": role, "dry_run": dry_run, "team": team}
        url = self.url("invites", "bulk")
        if dry_run:
            data = yield from self.read_only_post(url, body, expected=(200, 202))
        else:
            data = yield from self.call("POST", url, json_data=body, expected=(200, 202))
        # The 202 body nests the list: {"invitees": {"invitees": [...]}}.
        inner = data.get("invitees") if isinstance(data, dict) else None
        entries = inner.get("invitees") if isinstance(inner, dict) else inner
        return [BulkInviteEntry.model_validate(e) for e in entries or []]
