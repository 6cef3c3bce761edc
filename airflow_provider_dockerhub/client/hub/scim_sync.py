"""SCIM user sync: make Docker Hub's SCIM users match a desired list. Pure planning here; the plan is applied by
``ScimClient.apply_plan`` (one request per change).

Matching is by ``userName`` (an email; compared case-insensitively). The plan has four kinds of change:
create, update (names differ), reactivate, deactivate. Its cost is one listing pass plus one request per change,
never a GET per user. Applying the same input twice changes nothing the second time.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import InvalidInputError
from .models import ScimUser

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_TRUE = {"true", "1", "yes", "y", "active"}
_FALSE = {"false", "0", "no", "n", "inactive", "disabled"}


@dataclass(frozen=True)
class DesiredUser:
    user_name: str
    given_name: str | None = None
    family_name: str | None = None
    active: bool = True

    @property
    def key(self) -> str:
        return self.user_name.lower()


@dataclass(frozen=True)
class Change:
    kind: str  # create | update | reactivate | deactivate
    user_name: str
    user_id: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    detail: str = ""


@dataclass
class SyncPlan:
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    current_active: int = 0

    def of(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    def counts(self) -> dict[str, int]:
        return {
            "create": len(self.of("create")),
            "update": len(self.of("update")),
            "reactivate": len(self.of("reactivate")),
            "deactivate": len(self.of("deactivate")),
            "unchanged": self.unchanged,
        }

    def describe(self) -> str:
        lines = [
            "SCIM sync plan: " + ", ".join(f"{k} {v}" for k, v in self.counts().items()),
            *(f"  {c.kind:<10} {c.user_name}{'  (' + c.detail + ')' if c.detail else ''}" for c in self.changes),
        ]
        return "\n".join(lines)


def _flag(value: Any, row: int) -> bool:
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise InvalidInputError(f"row {row}: 'active' must be true or false, got {value!r}")


def desired_users(rows: Iterable[Mapping[str, Any]]) -> list[DesiredUser]:
    """Validate rows (``userName`` required; ``givenName``, ``familyName``, ``active`` optional)."""
    users: list[DesiredUser] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise InvalidInputError(f"row {number}: expected an object with userName, got {type(row).__name__}")
        user_name = str(row.get("userName") or row.get("user_name") or "").strip()
        if not user_name:
            raise InvalidInputError(f"row {number}: userName is missing")
        if not _EMAIL.fullmatch(user_name):
            raise InvalidInputError(f"row {number}: userName {user_name!r} is not an email address")
        key = user_name.lower()
        if key in seen:
            raise InvalidInputError(f"row {number}: duplicate userName {user_name!r} (first in row {seen[key]})")
        seen[key] = number
        given = row.get("givenName", row.get("given_name"))
        family = row.get("familyName", row.get("family_name"))
        users.append(
            DesiredUser(
                user_name,
                str(given).strip() or None if given else None,
                str(family).strip() or None if family else None,
                _flag(row.get("active"), number),
            )
        )
    return users


def parse_users_text(text: str, fmt: str) -> list[DesiredUser]:
    """Parse a CSV (header row with a ``userName`` column) or JSON (a list of objects) document."""
    if fmt == "json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInputError(f"the users file is not valid JSON: {exc}") from exc
        if isinstance(data, dict) and isinstance(data.get("users"), list):
            data = data["users"]
        if not isinstance(data, list):
            raise InvalidInputError("a JSON users file must be a list of objects (or {'users': [...]})")
        return desired_users(data)
    if fmt != "csv":
        raise InvalidInputError(f"unsupported users file format {fmt!r}: use csv or json")
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip() for c in reader.fieldnames or []}
    if "userName" not in columns:
        raise InvalidInputError(f"the CSV has no 'userName' column (columns: {sorted(columns)})")
    rows = [{k.strip(): v for k, v in row.items() if k is not None} for row in reader]
    return desired_users(rows)


def plan_sync(desired: list[DesiredUser], current: Iterable[ScimUser]) -> SyncPlan:
    plan = SyncPlan()
    wanted = {u.key: u for u in desired}
    matched: set[str] = set()
    for user in current:
        key = user.user_name.lower()
        if user.active:
            plan.current_active += 1
        target = wanted.get(key)
        if target is None or not target.active:
            if user.active:
                plan.changes.append(Change("deactivate", user.user_name, user.id))
            else:
                plan.unchanged += 1
            matched.add(key)
            continue
        matched.add(key)
        have_given = user.name.given_name if user.name else None
        have_family = user.name.family_name if user.name else None
        renamed = (target.given_name is not None and target.given_name != have_given) or (
            target.family_name is not None and target.family_name != have_family
        )
        if not user.active:
            plan.changes.append(Change("reactivate", user.user_name, user.id, target.given_name, target.family_name))
        elif renamed:
            detail = f"{have_given} {have_family} -> {target.given_name} {target.family_name}"
            plan.changes.append(
                Change("update", user.user_name, user.id, target.given_name, target.family_name, detail)
            )
        else:
            plan.unchanged += 1
    for key, target in wanted.items():
        if key not in matched and target.active:
            plan.changes.append(Change("create", target.user_name, None, target.given_name, target.family_name))
    order = {"create": 0, "update": 1, "reactivate": 2, "deactivate": 3}
    plan.changes.sort(key=lambda c: (order[c.kind], c.user_name.lower()))
    return plan


def deactivation_limit(max_deactivations: int | float, current_active: int) -> int:
    """``max_deactivations`` as a count (int) or a fraction of the currently active users (0 < float < 1)."""
    if isinstance(max_deactivations, bool) or max_deactivations < 0:
        raise InvalidInputError(f"max_deactivations must be a count or a fraction, got {max_deactivations!r}")
    if isinstance(max_deactivations, float) and max_deactivations < 1:
        return int(max_deactivations * current_active)
    return int(max_deactivations)
