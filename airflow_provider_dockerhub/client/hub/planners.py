"""Pure decisions behind the Hub administration operators: what inputs are, what differs, what to report.

No I/O here: the operators read the current state through the client, pass it in, and act on the answer, so the
reconciliation rules are tested without a server (as ``scim_sync`` does for SCIM users).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .models import AccessToken, OrgAccessToken

# -- team members ---------------------------------------------------------------------------------------------


def wanted_members(members: str | Sequence[str]) -> dict[str, str]:
    """The desired usernames, keyed case-insensitively; a templated string is a comma-separated list."""
    names = members.split(",") if isinstance(members, str) else members
    return {m.strip().lower(): m.strip() for m in names if m.strip()}


@dataclass(frozen=True)
class TeamMembersPlan:
    """What makes a team's members exactly the wanted ones (usernames compared case-insensitively)."""

    add: list[str]
    remove: list[str]
    kept: int

    def removal_refused(self, *, allow_removal: bool, dry_run: bool) -> bool:
        """Removing members needs ``allow_removal``; a dry run only reports, so it is never refused."""
        return bool(self.remove) and not allow_removal and not dry_run


def plan_team_members(want: Mapping[str, str], current: Iterable[str]) -> TeamMembersPlan:
    """``want`` from :func:`wanted_members`; ``current`` the team's usernames now (none if the team is missing)."""
    have = {username.lower(): username for username in current}
    return TeamMembersPlan(
        add=sorted(want[k] for k in want.keys() - have.keys()),
        remove=sorted(have[k] for k in have.keys() - want.keys()),
        kept=len(want.keys() & have.keys()),
    )


# -- access token report --------------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class TokenFacts:
    """What the report needs of a personal or an organization access token (the two models name them apart)."""

    id: str
    label: str | None
    expires_at: datetime | None
    last_used: datetime | None
    created_at: datetime | None
    active: bool

    @classmethod
    def of(cls, token: AccessToken | OrgAccessToken) -> TokenFacts:
        if isinstance(token, OrgAccessToken):
            return cls(token.id, token.label, token.expires_at, token.last_used_at, token.created_at, token.is_active)
        return cls(token.uuid, token.token_label, token.expires_at, token.last_used, token.created_at, token.is_active)

    def entry(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "active": self.active,
            "expires_at": _iso(self.expires_at),
            "last_used": _iso(self.last_used),
        }


@dataclass
class TokenReport:
    checked: int = 0
    expired: list[dict[str, Any]] = field(default_factory=list)
    expiring: list[dict[str, Any]] = field(default_factory=list)
    unused: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {"expired": len(self.expired), "expiring": len(self.expiring), "unused": len(self.unused)}

    def as_result(self) -> dict[str, Any]:
        return {"checked": self.checked, "expired": self.expired, "expiring": self.expiring, "unused": self.unused}


def report_tokens(
    tokens: Iterable[TokenFacts], *, now: datetime, expiring_within_days: int, unused_for_days: int
) -> TokenReport:
    """Expired, expiring within the window, and unused tokens. A token is unused when it was not used for the
    period, or was never used and is older than it (a new token gets a grace period); only active ones count."""
    soon = now + timedelta(days=expiring_within_days)
    stale = now - timedelta(days=unused_for_days)
    report = TokenReport()
    for token in tokens:
        report.checked += 1
        entry = token.entry()
        if token.expires_at is not None and _utc(token.expires_at) <= now:
            report.expired.append(entry)
        elif token.expires_at is not None and _utc(token.expires_at) <= soon:
            report.expiring.append(entry)
        reference = token.last_used or token.created_at
        if token.active and (reference is None or _utc(reference) < stale):
            report.unused.append(entry)
    return report
