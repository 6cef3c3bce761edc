"""In-memory state behind :mod:`.hub_emulator`: records, domain rules and JSON renderings. Not for production.

Everything here is plain Python (no HTTP, no spec): the emulator turns requests into calls on :class:`HubState`
and :class:`ScimStore`, which raise :class:`HubError` for every refusal the API documents. Callers hold the
emulator's lock; nothing here is thread-safe on its own.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import itertools
import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "AUDIT_ACTIONS",
    "PAT_SCOPES",
    "REPO_ORDERINGS",
    "AuditEvent",
    "HubError",
    "HubState",
    "Principal",
    "ScimStore",
    "ScimUser",
    "parse_time",
    "rfc3339",
]

JSON = dict[str, Any]
Clock = Callable[[], float]

ORG_ROLES = ("owner", "editor", "member")
PAT_SCOPES = frozenset({"repo:admin", "repo:write", "repo:read", "repo:public_read"})
REPO_ORDERINGS = ("name", "-name", "last_updated", "-last_updated", "pull_count", "-pull_count")
REPO_PERMISSIONS = ("read", "write", "admin")
OAT_RESOURCE_TYPES = ("TYPE_REPO", "TYPE_ORG")
REPO_NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
OWNERS_TEAM = "owners"
# A tag counts as "active" when pushed or pulled within this window (the spec's ``tag.status``).
ACTIVE_WINDOW = 30 * 86400.0

SCIM_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def rfc3339(ts: float, *, micro: bool = True) -> str:
    """UTC ``...Z`` timestamps as the Hub writes them (audit logs use whole seconds)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def _opt3339(ts: float | None) -> str | None:
    return None if ts is None else rfc3339(ts)


def parse_time(value: str | float | datetime) -> float:
    """Epoch seconds from an RFC 3339 string, a datetime (naive = UTC) or a number; ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("z", "Z"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


class HubError(Exception):
    """A refusal with an HTTP status; the emulator renders it in the body shape of the endpoint's family."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        fields: Mapping[str, list[str]] | None = None,
        scim_type: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.fields = dict(fields) if fields else None
        self.scim_type = scim_type


def _bad(detail: str, field_name: str | None = None) -> HubError:
    return HubError(400, detail, fields={field_name: [detail]} if field_name else None)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a Hub JWT speaks for: a user (password or PAT) or an organization (OAT)."""

    kind: Literal["user", "org"]
    name: str
    via: Literal["password", "pat", "oat"]
    scopes: tuple[str, ...] = ()


# -- records -------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class User:
    username: str
    secret: str
    email: str
    full_name: str
    id: str
    date_joined: float


@dataclass(slots=True)
class Group:
    id: int
    uuid: str
    name: str
    description: str
    members: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Invite:
    id: str
    inviter: str
    invitee: str
    org: str
    team: str | None
    role: str
    created_at: float
    status: Literal["pending", "cancelled"] = "pending"
    sent: int = 1


@dataclass(slots=True)
class Oat:
    id: str
    org: str
    label: str
    description: str
    resources: list[JSON]
    secret: str
    created_by: str
    created_at: float
    expires_at: float | None
    is_active: bool = True
    last_used_at: float | None = None


@dataclass(slots=True)
class Org:
    name: str
    members: dict[str, str] = field(default_factory=dict)  # username -> owner | editor | member
    joined: dict[str, float] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    settings: JSON = field(
        default_factory=lambda: {
            "restricted_images": {"enabled": False, "allow_official_images": True, "allow_verified_publishers": True}
        }
    )
    oats: dict[str, Oat] = field(default_factory=dict)


@dataclass(slots=True)
class Tag:
    id: int
    name: str
    digest: str
    size: int
    pushed_at: float
    pulled_at: float | None
    pusher: str


@dataclass(slots=True)
class Repo:
    id: int
    namespace: str
    name: str
    description: str
    full_description: str | None
    is_private: bool
    registry: str
    date_registered: float
    last_updated: float
    pull_count: int = 0
    star_count: int = 0
    immutable_enabled: bool = False
    immutable_rules: list[str] = field(default_factory=list)
    tags: dict[str, Tag] = field(default_factory=dict)
    group_perms: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True)
class Pat:
    uuid: str
    owner: str
    label: str
    scopes: list[str]
    secret: str
    created_at: float
    expires_at: float | None
    creator_ip: str
    creator_ua: str
    is_active: bool = True
    last_used: float | None = None


@dataclass(slots=True)
class AuditEvent:
    ts: float
    seq: int
    account: str
    action: str
    name: str
    actor: str
    data: Mapping[str, str] | None  # None: synthesised from ``seq`` at render time (seeded events stay cheap)


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


def _digest(*parts: object) -> str:
    return "sha256:" + hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


class _AuditLog:
    """One account's events sorted by time, with a one-entry cache of the last filtered query.

    Paging through a filtered export asks the same question once per page; the cache makes each page O(page)
    instead of O(events), so a 100,000-event export stays fast.
    """

    def __init__(self) -> None:
        self.ts: list[float] = []
        self.events: list[AuditEvent] = []
        self.version = 0
        self._cache: tuple[tuple[object, ...], list[int]] | None = None

    def add(self, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        if all(events[i].ts <= events[i + 1].ts for i in range(len(events) - 1)) and (
            not self.ts or events[0].ts >= self.ts[-1]
        ):
            self.events.extend(events)
            self.ts.extend(e.ts for e in events)
        else:
            self.events.extend(events)
            self.events.sort(key=lambda e: (e.ts, e.seq))
            self.ts = [e.ts for e in self.events]
        self.version += 1
        self._cache = None

    def query(
        self, frm: float | None, to: float | None, match: Callable[[AuditEvent], bool] | None, key: tuple[object, ...]
    ) -> list[int]:
        """Indices of matching events, newest first; ``from`` inclusive, ``to`` exclusive."""
        lo = bisect.bisect_left(self.ts, frm) if frm is not None else 0
        hi = bisect.bisect_left(self.ts, to) if to is not None else len(self.ts)
        if match is None:
            return list(range(hi - 1, lo - 1, -1))
        full_key = (*key, lo, hi, self.version)
        if self._cache is not None and self._cache[0] == full_key:
            return self._cache[1]
        found = [i for i in range(hi - 1, lo - 1, -1) if match(self.events[i])]
        self._cache = (full_key, found)
        return found


# -- the Hub -------------------------------------------------------------------------------------------------


class HubState:
    """Users, organizations, repositories, tokens and audit logs of one emulated Hub."""

    def __init__(self, clock: Clock, tag_images: Literal["list", "object"] = "list") -> None:
        self.clock = clock
        self.tag_images = tag_images
        self.users: dict[str, User] = {}
        self.orgs: dict[str, Org] = {}
        self.repos: dict[tuple[str, str], Repo] = {}
        self.pats: dict[str, Pat] = {}
        self.invites: dict[str, Invite] = {}
        self.audit: dict[str, _AuditLog] = {}
        self._ids = itertools.count(1001)
        self._seq = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    # -- users and organizations -----------------------------------------------------------------------------

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

    def check_secret(self, identifier: str, secret: str) -> Principal | None:
        """``POST /v2/auth/token``: a password or PAT for a username, or an OAT for an organization name."""
        now = self.clock()
        user = self.users.get(identifier)
        if user is not None:
            if secrets.compare_digest(user.secret, secret):
                return Principal("user", identifier, "password")
            for pat in self.pats.values():
                if pat.owner == identifier and secrets.compare_digest(pat.secret, secret):
                    if not pat.is_active or (pat.expires_at is not None and pat.expires_at <= now):
                        return None
                    pat.last_used = now
                    return Principal("user", identifier, "pat", tuple(pat.scopes))
            return None
        org = self.orgs.get(identifier)
        if org is not None:
            for oat in org.oats.values():
                if secrets.compare_digest(oat.secret, secret):
                    if not oat.is_active or (oat.expires_at is not None and oat.expires_at <= now):
                        return None
                    oat.last_used_at = now
                    return Principal("org", identifier, "oat")
        return None

    # -- audit -----------------------------------------------------------------------------------------------

    def record(self, account: str, action: str, actor: str, name: str, data: Mapping[str, str] | None = None) -> None:
        event = AuditEvent(self.clock(), next(self._seq), account, action, name, actor, dict(data or {}))
        self.audit.setdefault(account, _AuditLog()).add([event])

    def seed_audit(
        self, account: str, n: int, *, start: float, step: float, action: str, actor: str, name: str | None
    ) -> None:
        first = next(self._seq)
        seqs = range(first, first + n)
        self._seq = itertools.count(first + n)
        target = name or (f"{account}/seeded" if action.startswith("repo.") else account)
        events = [AuditEvent(start + i * step, s, account, action, target, actor, None) for i, s in enumerate(seqs)]
        self.audit.setdefault(account, _AuditLog()).add(events)

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
        data = dict(event.data) if event.data is not None else _seeded_data(event)
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

    # -- members, settings, invites --------------------------------------------------------------------------

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
            raise _bad(f"role must be one of {', '.join(ORG_ROLES)}", "role")
        if org.members[username] == "owner" and role != "owner" and len(self._owners(org)) == 1:
            raise _bad("the last owner of an organization cannot be demoted", "role")
        self._set_role(org, username, role)
        self.record(org.name, "org.member.role.change", actor, org.name, {"member": username, "role": role})
        return self.member_json(org, username)

    def remove_member(self, org: Org, username: str, actor: str) -> None:
        if username not in org.members:
            raise HubError(404, f"{username!r} is not a member of {org.name!r}")
        if org.members[username] == "owner" and len(self._owners(org)) == 1:
            raise _bad("the last owner of an organization cannot be removed")
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
            raise _bad(f"role must be one of {', '.join(ORG_ROLES)}", "role")
        if team and team not in org.groups:
            raise _bad(f"team {team!r} not found in {org.name!r}", "team")
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

    # -- groups ----------------------------------------------------------------------------------------------

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
            raise _bad("a group name is required", "name")
        if name in org.groups:
            raise _bad(f"group {name!r} already exists", "name")
        group = Group(self.next_id(), str(uuid.uuid4()), name, description if isinstance(description, str) else "")
        org.groups[name] = group
        self.record(org.name, "org.team.create", actor, org.name, {"team": name})
        return group

    def update_group(self, org: Org, group: Group, body: Mapping[str, Any], actor: str, *, replace: bool) -> Group:
        name = body.get("name")
        if replace and not isinstance(name, str):
            raise _bad("a group name is required", "name")
        if isinstance(name, str) and name != group.name:
            if not name.strip() or "/" in name:
                raise _bad("invalid group name", "name")
            if name in org.groups:
                raise _bad(f"group {name!r} already exists", "name")
            if group.name == OWNERS_TEAM:
                raise _bad("the owners team cannot be renamed", "name")
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
            raise _bad("the owners team cannot be deleted")
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
                raise _bad("the last owner of an organization cannot be removed")
            self._set_role(org, username, "member")
        else:
            group.members.remove(username)
        self.record(org.name, "org.team.member.remove", actor, username, {"team": group.name})

    # -- repositories and tags -------------------------------------------------------------------------------

    def namespace_exists(self, namespace: str) -> bool:
        return namespace in self.users or namespace in self.orgs

    def access(self, principal: Principal | None, namespace: str) -> int:
        """0 none, 1 read, 2 write/admin on every repository of ``namespace``."""
        if principal is None:
            return 0
        if principal.kind == "org":
            level = 2 if principal.name == namespace else 0
        elif principal.name == namespace:
            level = 2
        elif namespace in self.orgs:
            role = self.orgs[namespace].members.get(principal.name)
            level = 0 if role is None else (2 if role in ("owner", "editor") else 1)
        else:
            level = 0
        if principal.via == "pat" and not {"repo:admin", "repo:write"} & set(principal.scopes):
            level = min(level, 1)  # a read-only PAT never writes, whatever its owner may do
        return level

    def find_repo(self, principal: Principal | None, namespace: str, name: str, *, write: bool = False) -> Repo:
        repo = self.repos.get((namespace, name))
        level = self.access(principal, namespace)
        if repo is None or (repo.is_private and level == 0):
            # Private repositories one cannot see are indistinguishable from absent ones.
            raise HubError(404, f"repository {namespace}/{name} not found")
        if write and level < 2:
            raise HubError(403, f"no write access to {namespace}/{name}")
        return repo

    def list_repos(self, principal: Principal | None, namespace: str, name: str | None, ordering: str) -> list[Repo]:
        if not self.namespace_exists(namespace):
            raise HubError(404, f"namespace {namespace!r} not found")
        level = self.access(principal, namespace)
        repos = [
            r
            for (ns, _), r in self.repos.items()
            if ns == namespace and (level > 0 or not r.is_private) and (not name or name.lower() in r.name)
        ]
        key = ordering.lstrip("-")
        repos.sort(key=lambda r: (getattr(r, key), r.name), reverse=ordering.startswith("-"))
        return repos

    def create_repo(
        self,
        principal: Principal,
        namespace: str,
        *,
        name: Any,
        body_namespace: Any,
        description: Any = None,
        full_description: Any = None,
        registry: Any = None,
        is_private: Any = False,
    ) -> Repo:
        if not self.namespace_exists(namespace):
            raise HubError(404, f"namespace {namespace!r} not found")
        if body_namespace is not None and body_namespace != namespace:
            raise _bad("namespace in the body must match the path", "namespace")
        if not isinstance(name, str) or not 2 <= len(name) <= 255 or not REPO_NAME_RE.match(name):
            raise _bad("name must be 2-255 lowercase letters, digits and single separators (._-) between them", "name")
        if description is not None and (not isinstance(description, str) or len(description) > 100):
            raise _bad("description is limited to 100 characters", "description")
        if full_description is not None and (not isinstance(full_description, str) or len(full_description) > 25000):
            raise _bad("full_description is limited to 25000 characters", "full_description")
        if self.access(principal, namespace) < 2:
            raise HubError(403, f"no permission to create repositories in {namespace!r}")
        if (namespace, name) in self.repos:
            raise _bad(f"repository {namespace}/{name} already exists", "name")
        now = self.clock()
        repo = Repo(
            id=self.next_id(),
            namespace=namespace,
            name=name,
            description=description or "",
            full_description=full_description,
            is_private=bool(is_private),
            registry=registry if isinstance(registry, str) else "docker.io",
            date_registered=now,
            last_updated=now,
        )
        self.repos[(namespace, name)] = repo
        self.record(
            namespace,
            "repo.create",
            principal.name,
            f"{namespace}/{name}",
            {"is_private": str(repo.is_private).lower()},
        )
        return repo

    def seed_repos(self, namespace: str, n: int, prefix: str, private: bool) -> list[str]:
        now = self.clock()
        names = []
        for i in range(n):
            name = f"{prefix}-{i:05d}"
            self.repos[(namespace, name)] = Repo(
                id=self.next_id(),
                namespace=namespace,
                name=name,
                description=f"seeded repository {i}",
                full_description=None,
                is_private=private,
                registry="docker.io",
                date_registered=now - 86400.0 * (n - i),
                last_updated=now - 3600.0 * ((i * 7919) % n),  # a deterministic shuffle for ordering tests
                pull_count=(i * 104729) % 100000,
            )
            names.append(name)
        return names

    def push_tag(self, repo: Repo, name: str, ts: float, pusher: str, *, audit: bool) -> Tag:
        digest = _digest(repo.namespace, repo.name, name, ts)
        tag = repo.tags.get(name)
        if tag is None:
            tag = repo.tags[name] = Tag(
                self.next_id(), name, digest, 2_000_000 + len(repo.tags) * 1000, ts, None, pusher
            )
        else:
            tag.digest, tag.pushed_at, tag.pusher = digest, ts, pusher
        repo.last_updated = max(repo.last_updated, ts)
        if audit:
            event = AuditEvent(
                ts,
                next(self._seq),
                repo.namespace,
                "repo.tag.push",
                f"{repo.namespace}/{repo.name}",
                pusher,
                {"digest": digest, "tag": name},
            )
            self.audit.setdefault(repo.namespace, _AuditLog()).add([event])
        return tag

    def repo_info_json(self, repo: Repo, principal: Principal | None) -> JSON:
        level = self.access(principal, repo.namespace)
        return {
            "user": repo.namespace,
            "name": repo.name,
            "namespace": repo.namespace,
            "repository_type": "image",
            "status": 1,
            "status_description": "active",
            "description": repo.description,
            "is_private": repo.is_private,
            "is_automated": False,
            "star_count": repo.star_count,
            "pull_count": repo.pull_count,
            "last_updated": rfc3339(repo.last_updated),
            "last_modified": rfc3339(repo.last_updated),
            "date_registered": rfc3339(repo.date_registered),
            "collaborator_count": 0,
            "affiliation": None,
            "hub_user": repo.namespace,
            "has_starred": False,
            "full_description": repo.full_description,
            "permissions": {"read": level >= 1 or not repo.is_private, "write": level >= 2, "admin": level >= 2},
            "media_types": ["application/vnd.oci.image.index.v1+json"] if repo.tags else [],
            "content_types": ["image"] if repo.tags else [],
            "categories": [],
            "immutable_tags_settings": {"enabled": repo.immutable_enabled, "rules": list(repo.immutable_rules)},
            "storage_size": sum(t.size for t in repo.tags.values()),
            "source": None,
        }

    @staticmethod
    def repo_list_json(repo: Repo) -> JSON:
        return {
            "name": repo.name,
            "namespace": repo.namespace,
            "repository_type": "image",
            "status": 1,
            "status_description": "active",
            "description": repo.description,
            "is_private": repo.is_private,
            "star_count": repo.star_count,
            "pull_count": repo.pull_count,
            "last_updated": rfc3339(repo.last_updated),
            "last_modified": rfc3339(repo.last_updated),
            "date_registered": rfc3339(repo.date_registered),
            "affiliation": "",
            "media_types": ["application/vnd.oci.image.index.v1+json"] if repo.tags else [],
            "content_types": ["image"] if repo.tags else [],
            "categories": [],
            "storage_size": sum(t.size for t in repo.tags.values()),
        }

    @staticmethod
    def sorted_tags(repo: Repo) -> list[Tag]:
        return sorted(repo.tags.values(), key=lambda t: (-t.pushed_at, t.name))  # the Hub's -last_updated

    def tag_json(self, repo: Repo, tag: Tag) -> JSON:
        now = self.clock()
        recent = max(tag.pushed_at, tag.pulled_at or 0.0) >= now - ACTIVE_WINDOW
        status = "active" if recent else "inactive"
        image = {
            "architecture": "amd64",
            "features": "",
            "variant": "",
            "digest": _digest(tag.digest, "linux/amd64"),
            "layers": [{"digest": _digest(tag.digest, "layer0"), "size": tag.size, "instruction": "ADD rootfs /"}],
            "os": "linux",
            "os_features": "",
            "os_version": "",
            "size": tag.size,
            "status": status,
            "last_pulled": _opt3339(tag.pulled_at),
            "last_pushed": rfc3339(tag.pushed_at),
        }
        pusher = self.users.get(tag.pusher)
        return {
            "id": tag.id,
            # The spec types ``images`` as one object; the live Hub answers a list (``tag_images`` picks).
            "images": [image] if self.tag_images == "list" else image,
            "creator": 1,
            "last_updated": rfc3339(tag.pushed_at),
            "last_updater": 1,
            "last_updater_username": pusher.username if pusher else tag.pusher,
            "name": tag.name,
            "repository": repo.id,
            "full_size": tag.size,
            "v2": "true",
            "status": status,
            "tag_last_pulled": _opt3339(tag.pulled_at),
            "tag_last_pushed": rfc3339(tag.pushed_at),
            # Not in the spec, but the live Hub sends them and clients want the digest.
            "media_type": "application/vnd.oci.image.index.v1+json",
            "content_type": "image",
            "digest": tag.digest,
        }

    def set_immutable(self, principal: Principal, repo: Repo, enabled: Any, rules: Any) -> None:
        if not isinstance(enabled, bool):
            raise _bad("immutable_tags must be a boolean", "immutable_tags")
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise _bad("immutable_tags_rules must be a list of strings", "immutable_tags_rules")
        for rule in rules:
            try:
                re.compile(rule)
            except re.error as exc:
                raise _bad(f"invalid rule {rule!r}: {exc}", "immutable_tags_rules") from None
        repo.immutable_enabled, repo.immutable_rules = enabled, list(rules)
        self.record(
            repo.namespace,
            "repo.immutable.tags.updated",
            principal.name,
            f"{repo.namespace}/{repo.name}",
            {"enabled": str(enabled).lower(), "rules": ",".join(rules)},
        )

    @staticmethod
    def verify_immutable(repo: Repo, regex: Any) -> list[str]:
        if not isinstance(regex, str) or not regex:
            raise _bad("regex is required", "regex")
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            raise _bad(f"invalid regex: {exc}", "regex") from None
        return sorted(t for t in repo.tags if pattern.fullmatch(t))

    def grant_group(self, repo: Repo, group_id: Any, permission: Any) -> JSON:
        org = self.orgs.get(repo.namespace)
        if org is None:
            raise _bad("team permissions exist only on organization repositories")
        if permission not in REPO_PERMISSIONS:
            raise _bad(f"permission must be one of {', '.join(REPO_PERMISSIONS)}", "permission")
        group = next((g for g in org.groups.values() if g.id == group_id), None)
        if group is None:
            raise HubError(404, f"group {group_id!r} not found in {org.name!r}")
        repo.group_perms[group.id] = permission
        return {"group_name": group.name, "permission": permission, "group_id": group.id}

    # -- personal access tokens ------------------------------------------------------------------------------

    def create_pat(
        self, principal: Principal, label: Any, scopes: Any, expires_at: Any, *, ip: str, user_agent: str
    ) -> Pat:
        if not isinstance(label, str) or not 1 <= len(label) <= 100:
            raise HubError(400, "Invalid token label", fields={"token_label": ["must be 1-100 characters"]})
        if not isinstance(scopes, list) or not scopes or not set(scopes) <= PAT_SCOPES:
            raise HubError(
                400, "Invalid scopes", fields={"scopes": [f"must be a non-empty subset of {sorted(PAT_SCOPES)}"]}
            )
        expiry = self._expiry(expires_at, "expires_at")
        pat = Pat(
            uuid=str(uuid.uuid4()),
            owner=principal.name,
            label=label,
            scopes=list(scopes),
            secret="dckr_pat_" + secrets.token_urlsafe(20),
            created_at=self.clock(),
            expires_at=expiry,
            creator_ip=ip,
            creator_ua=user_agent,
        )
        self.pats[pat.uuid] = pat
        return pat

    def _expiry(self, value: Any, name: str) -> float | None:
        if value is None:
            return None
        try:
            expiry = parse_time(value)
        except (TypeError, ValueError):
            raise HubError(400, f"Invalid {name}", fields={name: ["must be an RFC 3339 date-time"]}) from None
        if expiry <= self.clock():
            raise HubError(400, f"Invalid {name}", fields={name: ["must be in the future"]})
        return expiry

    def get_pat(self, principal: Principal, pat_id: str) -> Pat:
        pat = self.pats.get(pat_id)
        if pat is None or pat.owner != principal.name or principal.kind != "user":
            raise HubError(404, "token not found")
        return pat

    def list_pats(self, principal: Principal) -> list[Pat]:
        mine = [p for p in self.pats.values() if p.owner == principal.name and principal.kind == "user"]
        return sorted(mine, key=lambda p: p.created_at, reverse=True)

    @staticmethod
    def pat_json(pat: Pat, *, reveal: bool = False) -> JSON:
        return {
            "uuid": pat.uuid,
            "client_id": "HUB",
            "creator_ip": pat.creator_ip,
            "creator_ua": pat.creator_ua,
            "created_at": rfc3339(pat.created_at),
            "last_used": _opt3339(pat.last_used),
            "generated_by": "manual",
            "is_active": pat.is_active,
            "token": pat.secret if reveal else "",
            "token_label": pat.label,
            "scopes": list(pat.scopes),
            # ``null`` for "never expires"; the spec forgot ``nullable`` on this field (it has it on OATs).
            "expires_at": _opt3339(pat.expires_at),
        }

    # -- organization access tokens --------------------------------------------------------------------------

    @staticmethod
    def _resources(org: Org, value: Any) -> list[JSON]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise HubError(400, "Invalid resources", fields={"resources": ["must be a list"]})
        resources = []
        for i, item in enumerate(value):
            where = f"resources[{i}]"
            if not isinstance(item, dict) or item.get("type") not in OAT_RESOURCE_TYPES:
                raise HubError(400, "Invalid resources", fields={where: [f"type must be one of {OAT_RESOURCE_TYPES}"]})
            path, scopes = item.get("path"), item.get("scopes")
            if not isinstance(path, str) or not path:
                raise HubError(400, "Invalid resources", fields={where: ["path is required"]})
            if item["type"] == "TYPE_REPO" and path != "*/*/public" and not path.startswith(f"{org.name}/"):
                raise HubError(400, "Invalid resources", fields={where: [f"path must be {org.name}/<repo>"]})
            if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
                raise HubError(400, "Invalid resources", fields={where: ["scopes must be a list of strings"]})
            resources.append({"type": item["type"], "path": path, "scopes": list(scopes)})
        return resources

    def create_oat(self, principal: Principal, org: Org, body: Mapping[str, Any]) -> Oat:
        label = body.get("label")
        if not isinstance(label, str) or not label:
            raise HubError(400, "Invalid label", fields={"label": ["this field is required"]})
        description = body.get("description")
        oat = Oat(
            id=str(uuid.uuid4()),
            org=org.name,
            label=label,
            description=description if isinstance(description, str) else "",
            resources=self._resources(org, body.get("resources")),
            secret="dckr_oat_" + secrets.token_urlsafe(20),
            created_by=principal.name,
            created_at=self.clock(),
            expires_at=self._expiry(body.get("expires_at"), "expires_at"),
        )
        org.oats[oat.id] = oat
        self.record(org.name, "org.access_token.create", principal.name, org.name, {"label": label})
        return oat

    @staticmethod
    def get_oat(org: Org, token_id: str) -> Oat:
        oat = org.oats.get(token_id)
        if oat is None:
            raise HubError(404, "access token not found")
        return oat

    def update_oat(self, principal: Principal, org: Org, oat: Oat, body: Mapping[str, Any]) -> Oat:
        if "label" in body:
            if not isinstance(body["label"], str) or not body["label"]:
                raise HubError(400, "Invalid label", fields={"label": ["must be a non-empty string"]})
            oat.label = body["label"]
        if isinstance(body.get("description"), str):
            oat.description = body["description"]
        if "resources" in body:
            oat.resources = self._resources(org, body["resources"])
        if isinstance(body.get("is_active"), bool):
            oat.is_active = body["is_active"]
        self.record(org.name, "org.access_token.update", principal.name, org.name, {"label": oat.label})
        return oat

    def delete_oat(self, principal: Principal, org: Org, oat: Oat) -> None:
        del org.oats[oat.id]
        self.record(org.name, "org.access_token.delete", principal.name, org.name, {"label": oat.label})

    @staticmethod
    def oat_json(oat: Oat, *, resources: bool = True, reveal: bool = False) -> JSON:
        body: JSON = {
            "id": oat.id,
            "label": oat.label,
            "created_by": oat.created_by,
            "is_active": oat.is_active,
            "created_at": rfc3339(oat.created_at),
            "expires_at": _opt3339(oat.expires_at),
            "last_used_at": _opt3339(oat.last_used_at),
        }
        if resources:
            body["description"] = oat.description
            body["resources"] = [dict(r, scopes=list(r["scopes"])) for r in oat.resources]
        if reveal:
            body["token"] = oat.secret
        return body


def _seeded_data(event: AuditEvent) -> dict[str, str]:
    if event.action == "repo.tag.push":
        return {"digest": _digest(event.account, event.seq), "tag": f"tag-{event.seq}"}
    return {"seq": str(event.seq)}


# -- SCIM ----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ScimUser:
    id: str
    user_name: str
    given_name: str
    family_name: str
    display_name: str
    active: bool
    created: float
    modified: float
    groups: list[str] = field(default_factory=list)


ScimPredicate = Callable[[ScimUser], bool]

_SCIM_ATTRS: dict[str, Callable[[ScimUser], object]] = {
    "id": lambda u: u.id,
    "username": lambda u: u.user_name,
    "displayname": lambda u: u.display_name,
    "active": lambda u: u.active,
    "name.givenname": lambda u: u.given_name,
    "name.familyname": lambda u: u.family_name,
    "emails": lambda u: u.user_name,
    "emails.value": lambda u: u.user_name,
    "meta.created": lambda u: rfc3339(u.created, micro=False),
    "meta.lastmodified": lambda u: rfc3339(u.modified, micro=False),
}
_SCIM_TOKEN = re.compile(r'\s*(\(|\)|"(?:[^"\\]|\\.)*"|[^\s()]+)')
_SCIM_OPS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")


def _scim_invalid(detail: str) -> HubError:
    return HubError(400, detail, scim_type="invalidFilter")


class _FilterParser:
    """RFC 7644 §3.4.2.2 filters over the attributes above: ``eq ne co sw ew gt ge lt le pr and or not ()``."""

    def __init__(self, text: str) -> None:
        self.tokens: list[str] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            match = _SCIM_TOKEN.match(text, pos)
            if match is None:
                raise _scim_invalid(f"cannot parse filter at {text[pos:]!r}")
            self.tokens.append(match.group(1))
            pos = match.end()
        self.pos = 0

    def parse(self) -> ScimPredicate:
        predicate = self._or()
        if self.pos != len(self.tokens):
            raise _scim_invalid(f"unexpected {self.tokens[self.pos]!r} in filter")
        return predicate

    def _peek(self) -> str | None:
        return self.tokens[self.pos].lower() if self.pos < len(self.tokens) else None

    def _next(self) -> str:
        if self.pos >= len(self.tokens):
            raise _scim_invalid("filter ends too early")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def _or(self) -> ScimPredicate:
        left = self._and()
        while self._peek() == "or":
            self._next()
            right = self._and()
            left = _either(left, right)
        return left

    def _and(self) -> ScimPredicate:
        left = self._not()
        while self._peek() == "and":
            self._next()
            right = self._not()
            left = _both(left, right)
        return left

    def _not(self) -> ScimPredicate:
        if self._peek() == "not":
            self._next()
            inner = self._atom()
            return lambda u: not inner(u)
        return self._atom()

    def _atom(self) -> ScimPredicate:
        if self._peek() == "(":
            self._next()
            inner = self._or()
            if self._next() != ")":
                raise _scim_invalid("missing ')' in filter")
            return inner
        attr = self._next().lower().removeprefix(SCIM_USER_SCHEMA.lower() + ":")
        getter = _SCIM_ATTRS.get(attr)
        if getter is None:
            raise _scim_invalid(f"unsupported filter attribute {attr!r}")
        op = self._next().lower()
        if op == "pr":
            return lambda u: getter(u) not in (None, "")
        if op not in _SCIM_OPS:
            raise _scim_invalid(f"unsupported filter operator {op!r}")
        raw = self._next()
        try:
            value = json.loads(raw) if raw.startswith('"') or raw in ("true", "false", "null") else float(raw)
        except ValueError:
            raise _scim_invalid(f"bad filter value {raw!r}") from None
        return _compare(getter, op, value)


def _either(a: ScimPredicate, b: ScimPredicate) -> ScimPredicate:
    return lambda u: a(u) or b(u)


def _both(a: ScimPredicate, b: ScimPredicate) -> ScimPredicate:
    return lambda u: a(u) and b(u)


def _compare(getter: Callable[[ScimUser], object], op: str, value: object) -> ScimPredicate:
    def norm(v: object) -> object:
        return v.lower() if isinstance(v, str) else v  # userName and friends are caseExact=false

    want = norm(value)

    def test(user: ScimUser) -> bool:
        have = norm(getter(user))
        if op == "eq":
            return have == want
        if op == "ne":
            return have != want
        if not isinstance(have, str) or not isinstance(want, str):
            return False
        if op == "co":
            return want in have
        if op == "sw":
            return have.startswith(want)
        if op == "ew":
            return have.endswith(want)
        return {"gt": have > want, "ge": have >= want, "lt": have < want, "le": have <= want}[op]

    return test


class ScimStore:
    """SCIM 2.0 Users of the emulator's SCIM-enabled organization."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.users: dict[str, ScimUser] = {}
        self._by_name: dict[str, str] = {}

    def get(self, user_id: str) -> ScimUser:
        user = self.users.get(user_id)
        if user is None:
            raise HubError(404, f"User {user_id} not found")
        return user

    def create(self, user_name: Any, name: Any) -> ScimUser:
        if not isinstance(user_name, str) or not EMAIL_RE.match(user_name):
            raise HubError(400, "userName must be an email address", scim_type="invalidValue")
        if user_name.lower() in self._by_name:
            raise HubError(409, f"User {user_name} already exists", scim_type="uniqueness")
        given, family = _names(name)
        display = re.sub(r"[^a-z0-9]", "", user_name.split("@")[0].lower()) or "user"
        taken = {u.display_name for u in self.users.values()}
        base, n = display, 1
        while display in taken:
            n += 1
            display = f"{base}{n}"
        now = self.clock()
        user = ScimUser(str(uuid.uuid4()), user_name, given, family, display, True, now, now, ["company"])
        self.users[user.id] = user
        self._by_name[user_name.lower()] = user.id
        return user

    def replace(self, user_id: str, name: Any, enabled: Any) -> ScimUser:
        user = self.get(user_id)
        if name is not None:
            given, family = _names(name)
            # Omitted name parts are kept: "We will only ever change the name, but not clear it."
            user.given_name = given or user.given_name
            user.family_name = family or user.family_name
        # The trap the spec documents: ``enabled`` defaults to false, so omitting it deactivates the user.
        user.active = enabled is True
        user.modified = self.clock()
        return user

    def seed(self, n: int, domain: str, active: bool) -> list[str]:
        ids = []
        for i in range(n):
            user = self.create(f"user{len(self.users) + 1:06d}@{domain}", {"givenName": "User", "familyName": str(i)})
            user.active = active
            ids.append(user.id)
        return ids

    def list(self, filter_text: str | None, sort_by: str | None, sort_order: str | None) -> list[ScimUser]:
        users: Iterable[ScimUser] = self.users.values()
        if filter_text:
            predicate = _FilterParser(filter_text).parse()
            users = [u for u in users if predicate(u)]
        result = list(users)
        if sort_by:
            getter = _SCIM_ATTRS.get(sort_by.lower())
            if getter is None:
                raise HubError(400, f"cannot sort by {sort_by!r}", scim_type="invalidValue")
            result.sort(key=lambda u: str(getter(u)).lower(), reverse=sort_order == "descending")
        return result

    @staticmethod
    def user_json(user: ScimUser, base_url: str, attributes: Sequence[str] = ()) -> JSON:
        body: JSON = {
            "schemas": [SCIM_USER_SCHEMA],
            "id": user.id,
            "userName": user.user_name,
            "name": {"givenName": user.given_name, "familyName": user.family_name},
            "displayName": user.display_name,
            "active": user.active,
            "emails": [{"value": user.user_name, "display": user.user_name, "primary": True}],
            "groups": [{"value": g, "display": g} for g in user.groups],
            "meta": {
                "resourceType": "User",
                "location": f"{base_url}/v2/scim/2.0/Users/{user.id}",
                "created": rfc3339(user.created, micro=False),
                "lastModified": rfc3339(user.modified, micro=False),
            },
        }
        if attributes:
            wanted = {a.split(".")[0].lower() for a in attributes} | {"schemas", "id"}
            body = {k: v for k, v in body.items() if k.lower() in wanted}
        return body


def _names(name: Any) -> tuple[str, str]:
    if not isinstance(name, dict):
        return "", ""
    given, family = name.get("givenName"), name.get("familyName")
    return (given if isinstance(given, str) else ""), (family if isinstance(family, str) else "")


# -- static documents (the spec's example values; the spec file is not needed at run time) ----------------------

SCIM_SERVICE_PROVIDER_CONFIG: JSON = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
    "documentationUri": "",
    "patch": {"supported": False},
    "bulk": {"supported": False},
    "filter": {"supported": True, "maxResults": 99999},
    "changePassword": {"supported": False},
    "sort": {"supported": True},
    "etag": {"supported": False},
    # An object, not RFC 7643's array: the spec's shape.
    "authenticationSchemes": {
        "name": "OAuth 2.0 Bearer Token",
        "description": (
            "The OAuth 2.0 Bearer Token Authentication scheme. OAuth enables clients to access protected resources "
            'by obtaining an access token, which is defined in RFC 6750 as "a string representing an access '
            "authorization issued to the client\", rather than using the resource owner's credentials directly."
        ),
        "specUri": "http://tools.ietf.org/html/rfc6750",
        "type": "oauthbearertoken",
    },
}

SCIM_RESOURCE_TYPES: list[JSON] = [
    {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "description": "User",
        "endpoint": "/Users",
        "schema": SCIM_USER_SCHEMA,
    }
]


def _attr(name: str, type_: str = "string", **overrides: Any) -> JSON:
    attribute: JSON = {
        "name": name,
        "type": type_,
        "multiValued": False,
        "description": "",
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    }
    attribute.update(overrides)
    return attribute


SCIM_SCHEMAS: list[JSON] = [
    {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": SCIM_USER_SCHEMA,
        "name": "User",
        "description": "User Account",
        "attributes": [
            _attr(
                "userName",
                description=(
                    "Unique identifier for the User, typically used by the user to directly authenticate to the "
                    "service provider. Each User MUST include a non-empty userName value. This identifier MUST be "
                    "unique across the service provider's entire set of Users."
                ),
                required=True,
                uniqueness="server",
            ),
            _attr(
                "name",
                "complex",
                description="The components of the user's name.",
                subAttributes=[
                    _attr("givenName", description="The given name of the User."),
                    _attr("familyName", description="The family name of the User."),
                ],
            ),
            _attr("displayName", description="The username in Docker (the Docker ID).", mutability="readOnly"),
            _attr("active", "boolean", description="The user's administrative status."),
            _attr(
                "emails",
                "complex",
                multiValued=True,
                description="Email addresses for the user.",
                subAttributes=[_attr("value"), _attr("display"), _attr("primary", "boolean")],
            ),
            _attr(
                "groups",
                "complex",
                multiValued=True,
                description="A list of groups to which the user belongs.",
                mutability="readOnly",
                subAttributes=[_attr("value"), _attr("display")],
            ),
        ],
    }
]

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
