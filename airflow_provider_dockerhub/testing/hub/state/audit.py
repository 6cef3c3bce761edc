"""Audit logs: recording, seeding, filtered queries and their JSON. Not for production."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping

from ..adversary import LATE_EVERY
from .audit_log import AuditLog
from .base import StateBase
from .records import JSON, AuditEvent, fake_digest, rfc3339


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


_AUDIT_TEMPLATES = {
    "repo.create": "created the repository {name}",
    "repo.tag.push": "pushed the tag {tag} with the digest {digest_short} to the repository {name}",
    "repo.immutable.tags.updated": "updated tag immutability of the repository {name}",
    "org.member.role.change": "changed the role of {member} to {role}",
    "org.member.remove": "removed {member} from the organization {name}",
    "org.member.invite.send": "invited {invitee} to the organization {name}",
    "org.team.create": "created the team {team}",
    "org.team.update": "updated the team {team}",
    "org.team.delete": "deleted the team {team}",
    "org.team.member.add": "added {name} to the team {team}",
    "org.team.member.remove": "removed {name} from the team {team}",
    "org.settings.update": "updated the organization settings",
    "org.access_token.create": "created the access token {label}",
    "org.access_token.update": "updated the access token {label}",
    "org.access_token.delete": "deleted the access token {label}",
}


class AuditState(StateBase):
    """The audit log of every account; every mutation of the other parts records an event here."""

    def record(self, account: str, action: str, actor: str, name: str, data: Mapping[str, str] | None = None) -> None:
        event = AuditEvent(self.clock(), next(self._seq), account, action, name, actor, dict(data or {}))
        self._ingest(account, [event])

    def seed_audit(
        self, account: str, n: int, *, start: float, step: float, action: str, actor: str, name: str | None
    ) -> None:
        first = next(self._seq)
        seqs = range(first, first + n)
        self._seq = itertools.count(first + n)
        target = name or (f"{account}/seeded" if action.startswith("repo.") else account)
        events = [AuditEvent(start + i * step, s, account, action, target, actor, None) for i, s in enumerate(seqs)]
        self._ingest(account, events)

    def _ingest(self, account: str, events: list[AuditEvent]) -> None:
        """Events become visible now, or (``ingest_late``: every third one) to the second listing from now."""
        if self.late_events:
            reveal = self.audit_listings.get(account, 0) + 2
            self.late_audit.extend((reveal, e) for e in events if e.seq % LATE_EVERY == 0)
            events = [e for e in events if e.seq % LATE_EVERY != 0]
        self.audit.setdefault(account, AuditLog()).add(events)

    def begin_audit_listing(self, account: str) -> None:
        """A first-page request starts a listing of ``account``: late events due by now become visible."""
        number = self.audit_listings.get(account, 0) + 1
        self.audit_listings[account] = number
        due = [e for at, e in self.late_audit if at <= number and e.account == account]
        if due:
            self.late_audit = [(at, e) for at, e in self.late_audit if not (at <= number and e.account == account)]
            self.audit.setdefault(account, AuditLog()).add(due)

    def insert_audit_event(self, account: str, frm: float | None, to: float | None) -> None:
        """``insert_during_paging``: a new event at the newest end of the window ``[frm, to)``, which shifts the
        offset of every older event (the log is served newest first); nothing if the window is empty."""
        log = self.audit.get(account)
        newest = log.query(frm, to, None, ()) if log is not None else []
        if log is None or not newest:
            return
        top = log.events[newest[0]]
        seq = next(self._seq)
        data = {"tag": f"inserted-{seq}", "digest": fake_digest(account, "inserted", seq)}
        log.add([AuditEvent(top.ts, seq, account, "repo.tag.push", f"{account}/inserted", top.actor, data)])

    def query_audit(
        self,
        account: str,
        *,
        action: str | None,
        actor: str | None,
        name: str | None,
        frm: float | None,
        to: float | None,
        page: int,
        page_size: int,
    ) -> list[AuditEvent]:
        log = self.audit.get(account)
        if log is None:
            return []
        match: Callable[[AuditEvent], bool] | None = None
        if action or actor or name:

            def match(e: AuditEvent) -> bool:
                return (
                    (not action or e.action == action)
                    and (not actor or e.actor == actor)
                    and (not name or e.name == name)
                )

        indices = log.query(frm, to, match, (action, actor, name))
        start = (page - 1) * page_size
        return [log.events[i] for i in indices[start : start + page_size]]

    @staticmethod
    def audit_json(event: AuditEvent) -> JSON:
        data = dict(event.data) if event.data is not None else seeded_data(event)
        words = _Blank(data)
        words["name"] = event.name
        words["digest_short"] = data.get("digest", "")[:19]
        template = _AUDIT_TEMPLATES.get(event.action, event.action + " {name}")
        return {
            "account": event.account,
            "action": event.action,
            "name": event.name,
            "actor": event.actor,
            "data": data,
            "timestamp": rfc3339(event.ts, micro=False),
            "action_description": template.format_map(words),
        }

    @staticmethod
    def audit_actions_json() -> JSON:
        return {
            "actions": {
                group: {
                    "actions": [{"name": n, "description": d, "label": lbl} for n, lbl, d in actions],
                    "label": label,
                }
                for group, (label, actions) in AUDIT_ACTIONS.items()
            }
        }


def seeded_data(event: AuditEvent) -> dict[str, str]:
    if event.action == "repo.tag.push":
        return {"digest": fake_digest(event.account, event.seq), "tag": f"tag-{event.seq}"}
    return {"seq": str(event.seq)}


# ``GET /v2/auditlogs/{account}/actions``: the spec's example catalogue, group -> (label, (name, label, description)).
AUDIT_ACTIONS: dict[str, tuple[str, tuple[tuple[str, str, str], ...]]] = {
    "billing": (
        "Billing",
        (
            (
                "plan.upgrade",
                "Plan Upgraded",
                "Occurs when your organization\u2019s billing plan is upgraded to a higher tier plan.",
            ),
            (
                "plan.downgrade",
                "Plan Downgraded",
                "Occurs when your organization\u2019s billing plan is downgraded to a lower tier plan.",
            ),
            ("plan.seat_add", "Seat Added", "Occurs when a seat is added to your organization\u2019s billing plan."),
            (
                "plan.seat_remove",
                "Seat Removed",
                "Occurs when a seat is removed from your organization\u2019s billing plan.",
            ),
            (
                "plan.cycle_change",
                "Billing Cycle Changed",
                "Occurs when there is a change in the recurring interval that your organization is charged.",
            ),
            (
                "plan.downgrade_cancel",
                "Plan Downgrade Canceled",
                "Occurs when a scheduled plan downgrade for your organization is canceled.",
            ),
            (
                "plan.seat_removal_cancel",
                "Seat Removal Canceled",
                "Occurs when a scheduled seat removal for an organization\u2019s billing plan is canceled.",
            ),
            (
                "plan.upgrade.request",
                "Plan Upgrade Requested",
                "Occurs when a user in your organization requests a plan upgrade.",
            ),
            (
                "plan.downgrade.request",
                "Plan Downgrade Requested",
                "Occurs when a user in your organization requests a plan downgrade.",
            ),
            (
                "plan.seat_add.request",
                "Seat Addition Requested",
                "Occurs when a user in your organization requests an increase in the number of seats.",
            ),
            (
                "plan.seat_removal.request",
                "Seat Removal Requested",
                "Occurs when a user in your organization requests a decrease in the number of seats.",
            ),
            (
                "plan.cycle_change.request",
                "Billing Cycle Change Requested",
                "Occurs when a user in your organization requests a change in the billing cycle.",
            ),
            (
                "plan.downgrade_cancel.request",
                "Plan Downgrade Cancellation Requested",
                "Occurs when a user in your organization requests a cancellation of a scheduled plan downgrade.",
            ),
            (
                "plan.seat_removal_cancel.request",
                "Seat Removal Cancellation Requested",
                "Occurs when a user in your organization requests a cancellation of a scheduled seat removal.",
            ),
            (
                "plan.product_change",
                "Billing Product Changed",
                "Occurs when there is a change in the product that your organization subscribes to.",
            ),
        ),
    ),
    "enterprise": (
        "Enterprise",
        (
            ("setting.policy.create", "Policy created", "Details of adding an admin settings policy"),
            ("setting.policy.update", "Policy updated", "Details of updating an admin settings policy"),
            ("setting.policy.delete", "Policy deleted", "Details of deleting an admin settings policy"),
            (
                "setting.policy.transfer",
                "Policy transferred",
                "Details of transferring an admin settings policy to another owner",
            ),
            ("sso.connection.create", "Create SSO Connection", "Details of creating a new org/company SSO connection"),
            (
                "sso.connection.update",
                "Update SSO Connection",
                "Details of updating an existing org/company SSO connection",
            ),
            (
                "sso.connection.delete",
                "Delete SSO Connection",
                "Details of deleting an existing org/company SSO connection",
            ),
            (
                "sso.connection.enforcement_toggle",
                "Enforce SSO",
                "Details of toggling enforcement on an existing org/company SSO connection",
            ),
            (
                "sso.connection.scim_toggle",
                "Enforce SCIM",
                "Details of toggling SCIM on an existing org/company SSO connection",
            ),
            (
                "sso.connection.scim_token_refresh",
                "Refresh SCIM Token",
                "Details of a SCIM token refresh on an existing org/company SSO connection",
            ),
            (
                "sso.connection.connection_type_change",
                "Change SSO Connection Type",
                "Details of a connection type change on an existing org/company SSO connection",
            ),
            (
                "sso.connection.jit_toggle",
                "Toggle JIT provisioning",
                "Details of a JIT toggle on an existing org/company SSO connection",
            ),
        ),
    ),
    "offload": (
        "Offload",
        (
            ("lease.start", "Offload lease start", "Details of the started Offload lease."),
            ("lease.end", "Offload lease end", "Details of the ended Offload lease."),
        ),
    ),
    "oidc": (
        "OIDC",
        (
            ("connection.create", "OIDC connection created", "Details of creating an OIDC connection."),
            ("connection.update", "OIDC connection updated", "Details of updating an OIDC connection."),
            ("connection.delete", "OIDC connection deleted", "Details of deleting an OIDC connection."),
        ),
    ),
    "org": (
        "Organization",
        (
            ("create", "Organization Created", "Activities related to the creation of a new organization"),
            ("member.add", "Organization Member Added", "Details of the member added to your organization"),
            ("member.remove", "Organization Member Removed", "Details about the member removed from your organization"),
            (
                "member.role.change",
                "Member Role Changed",
                "Details about the role changed for a member in your organization",
            ),
            ("member.invite.send", "Org Member Invited", "Details of the member invited to your organization"),
            ("team.create", "Organization Created", "Activities related to the creation of a team"),
            ("team.update", "Organization Deleted", "Activities related to the modification of a team"),
            ("team.delete", "Organization Deleted", "Activities related to the deletion of a team"),
            ("team.member.add", "Team Member Added", "Details of the member added to your team"),
            ("team.member.remove", "Team Member Removed", "Details of the member removed from your team"),
            (
                "domain.create",
                "Single Sign-On domain added",
                "Details of the single sign-on domain added to your organization",
            ),
            (
                "domain.verify",
                "Single Sign-On domain verified",
                "Details of the single sign-on domain verified for your organization",
            ),
            (
                "domain.delete",
                "Single Sign-On domain deleted",
                "Details of the single sign-on domain removed from your organization",
            ),
            (
                "domain.auto-provisioning.toggle",
                "Organization Auto-Provisioning Toggled",
                "Details of toggling the Auto-Provisioning feature on a domain on or off",
            ),
            (
                "settings.update",
                "Organization Settings Updated",
                "Details related to the organization setting that was updated",
            ),
            (
                "registry_access.enabled",
                "Registry Access Management enabled",
                "Activities related to enabling Registry Access Management",
            ),
            (
                "registry_access.disabled",
                "Registry Access Management disabled",
                "Activities related to disabling Registry Access Management",
            ),
            (
                "registry_access.registry_added",
                "Registry Access Management registry added",
                "Activities related to the addition of a registry",
            ),
            (
                "registry_access.registry_updated",
                "Registry Access Management registry updated",
                "Details related to the registry that was updated",
            ),
            (
                "registry_access.registry_removed",
                "Registry Access Management registry removed",
                "Activities related to the removal of a registry",
            ),
            ("access_token.create", "Access token created", "Access token created in organization"),
            ("access_token.update", "Access token updated", "Access token updated in organization"),
            ("access_token.delete", "Access token deleted", "Access token deleted in organization"),
            ("customrole.create", "Custom role created", "A custom role was created"),
            ("customrole.update", "Custom role updated", "An existing custom role was updated"),
            ("customrole.delete", "Custom role deleted", "A custom role was deleted"),
            (
                "securepolicyconfigure.create",
                "Secure Policy Configuration created",
                "A secure policy configuration was created",
            ),
            (
                "securepolicyconfigure.update",
                "Secure Policy Configuration updated",
                "A secure policy configuration was updated",
            ),
            (
                "securepolicyconfigure.delete",
                "Secure Policy Configuration deleted",
                "A secure policy configuration was deleted",
            ),
            ("securepolicyclient.create", "Secure Policy Client created", "A secure policy client was created"),
            ("securepolicyclient.update", "Secure Policy Client updated", "A secure policy client was updated"),
            ("securepolicyclient.delete", "Secure Policy Client deleted", "A secure policy client was deleted"),
            ("securepolicyprofile.create", "Secure Policy Profile created", "A secure policy profile was created"),
            ("securepolicyprofile.update", "Secure Policy Profile updated", "A secure policy profile was updated"),
            ("securepolicyprofile.delete", "Secure Policy Profile deleted", "A secure policy profile was deleted"),
        ),
    ),
    "repo": (
        "Repository",
        (
            ("create", "Repository Created", "Activities related to the creation of a new repository"),
            ("update", "Repository Updated", "Activities related to the modification of a repository"),
            ("delete", "Repository Deleted", "Activities related to the deletion of a repository"),
            ("change_privacy", "Privacy Changed", "Details related to the privacy policies that were updated"),
            ("category.updated", "Categories updated", "Details related to updating a repository categories"),
            (
                "immutable.tags.updated",
                "Tag immutability updated",
                "Details related to updating tag immutability of a repository",
            ),
            ("tag.push", "Tag Pushed", "Activities related to the tags pushed"),
            ("tag.delete", "Tag Deleted", "Activities related to the tags deleted"),
        ),
    ),
}
