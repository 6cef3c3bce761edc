"""The records of the emulated Hub, its constants and time helpers, and :class:`HubError`. Not for production."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ....client.core.timeparse import parse_timestamp

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


def rfc3339(ts: float, *, micro: bool = True) -> str:
    """UTC ``...Z`` timestamps as the Hub writes them (audit logs use whole seconds)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def opt_rfc3339(ts: float | None) -> str | None:
    return None if ts is None else rfc3339(ts)


def parse_time(value: str | float | datetime) -> float:
    """Epoch seconds from an RFC 3339 string, a datetime (naive = UTC) or a number; ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    moment = parse_timestamp(value, assume_utc=True) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        raise ValueError(f"not a time: {value!r}")
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


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


def bad_request(detail: str, field_name: str | None = None) -> HubError:
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


def fake_digest(*parts: object) -> str:
    return "sha256:" + hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()
