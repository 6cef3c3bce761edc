"""IdP groups as Docker Hub team memberships, for the SCIM sync. Pure: desired users (with their IdP groups),
the SCIM users and the mapped teams' members in, team changes out; applied by ``ScimClient.apply_plan``.

``team_map`` maps an IdP group to a Hub team (several groups may map to one team). Only the mapped teams are
looked at, and in them only members the sync manages: SCIM-provisioned users in ``managed_domains``, never a
``protected_users`` entry, never a member it cannot tie to a SCIM user (an org owner added by hand, say).
Docker's SCIM has no Groups endpoint, so memberships go through the Hub API's team (group) members, by Docker ID
(the SCIM user's ``displayName``); a user this run creates gets its Docker ID from the create's answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ..core.errors import InvalidInputError
from .models import OrgMember, ScimUser


class DesiredUser(Protocol):
    """What this module reads of ``scim_sync.DesiredUser`` (a protocol: scim_sync imports this module)."""

    @property
    def user_name(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def active(self) -> bool: ...
    @property
    def groups(self) -> tuple[str, ...]: ...


class Scope(Protocol):
    def manages(self, user_name: str) -> bool: ...
    def protects(self, user_name: str) -> bool: ...


TEAM_KINDS = ("team_remove", "team_add")  # the order they are applied in (after the user changes)


@dataclass(frozen=True)
class TeamChange:
    kind: str  # team_add | team_remove
    team: str
    user_name: str  # the SCIM userName (email)
    username: str | None = None  # the Docker ID; None for a user this run creates (known after the create)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TeamChange:
        if data.get("kind") not in TEAM_KINDS or not isinstance(data.get("team"), str):
            raise InvalidInputError(f"not a plan team change: {dict(data)!r}")
        return cls(data["kind"], data["team"], str(data["user_name"]), data.get("username"))


def check_team_map(team_map: Any) -> dict[str, str]:
    if team_map is None:
        return {}
    if not isinstance(team_map, Mapping) or not all(
        isinstance(k, str) and k.strip() and isinstance(v, str) and v.strip() for k, v in team_map.items()
    ):
        raise InvalidInputError("team_map maps IdP group names to Hub team names: {'Engineering': 'developers'}")
    return {k.strip(): v.strip() for k, v in team_map.items()}


def plan_teams(
    desired: Iterable[DesiredUser],
    current: Iterable[ScimUser],
    members: Mapping[str, Iterable[OrgMember]],
    team_map: Mapping[str, str],
    scope: Scope,
) -> list[TeamChange]:
    """The memberships to add and remove so that each mapped team holds exactly the active, managed desired
    users whose IdP groups map to it (among the members the sync manages)."""
    by_email = {u.user_name.lower(): u for u in current}
    email_of = {u.display_name.lower(): u.user_name.lower() for u in current if u.display_name}
    wanted: dict[str, set[str]] = {team: set() for team in team_map.values()}
    names: dict[str, str] = {}  # lower-cased email -> as written in the input
    for user in desired:
        if not (user.active and scope.manages(user.user_name)):
            continue
        names[user.key] = user.user_name
        for group in user.groups:
            if group in team_map:
                wanted[team_map[group]].add(user.key)
    changes: list[TeamChange] = []
    for team in sorted(wanted):
        have: dict[str, str] = {}  # email -> Docker ID, for members tied to a SCIM user
        for member in members.get(team, ()):
            email = (member.email or "").lower() or email_of.get(member.username.lower())
            if email and email in by_email:
                have[email] = member.username
        for email in sorted(set(have) - wanted[team]):
            if scope.manages(email) and not scope.protects(email):
                changes.append(TeamChange("team_remove", team, by_email[email].user_name, have[email]))
        for email in sorted(wanted[team] - set(have)):
            known = by_email.get(email)
            changes.append(TeamChange("team_add", team, names[email], known.display_name if known else None))
    changes.sort(key=lambda c: TEAM_KINDS.index(c.kind))
    return changes
