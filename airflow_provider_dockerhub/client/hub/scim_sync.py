"""SCIM user sync, pure: desired users and the live SCIM users in, a plan out. No I/O here; the plan is applied
by ``ScimClient.apply_plan`` (one request per change) and read from IdP exports by :mod:`.idp`.

Matching is by ``userName`` (an email; compared case-insensitively). A plan has four kinds of change: create,
update (names differ), reactivate, deactivate. Its cost is one listing pass plus one request per change, never a
GET per user; applying the same input twice changes nothing the second time.

What the plan never does, whatever the input says:

* touch a user outside ``managed_domains`` (when given): such users are counted, not changed;
* deactivate a ``protected_users`` entry (service accounts): it is listed in ``plan.protected`` instead;
* hide a probable rename: a new email whose person (same given and family name) is also being deactivated under
  the old email is listed in ``plan.renames`` (Docker's SCIM cannot change a ``userName``, so the move is a create
  plus a deactivate; ``renames="hold"`` keeps both back for a human to decide).

The guards (:class:`Limit`) are counted against the plan before any request, so an export truncated by an IdP
outage fails the task instead of deprovisioning everyone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..core.errors import InvalidInputError
from .models import ScimUser
from .scim_guards import Limit, SyncGuardError, check_guards, deactivation_limit
from .scim_teams import TeamChange

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_TRUE = {"true", "1", "yes", "y", "active"}
_FALSE = {"false", "0", "no", "n", "inactive", "disabled"}
# The order changes are applied in: offboarding first, so no error elsewhere can hold it back.
KINDS = ("deactivate", "reactivate", "update", "create")
PLAN_FORMAT = "airflow-provider-dockerhub/scim-plan"
PLAN_VERSION = 1
__all__ = [  # the guards live in .scim_guards; re-exported here, where the rest of the sync API is
    "Change",
    "DesiredUser",
    "Limit",
    "Observed",
    "Scope",
    "SyncGuardError",
    "SyncPlan",
    "TeamChange",
    "check_guards",
    "deactivation_limit",
    "desired_users",
    "drift",
    "make_user",
    "plan_bytes",
    "plan_sync",
    "sha256_hex",
    "unique",
]


@dataclass(frozen=True)
class DesiredUser:
    user_name: str
    given_name: str | None = None
    family_name: str | None = None
    active: bool = True
    external_id: str | None = None
    display_name: str | None = None
    groups: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.user_name.lower()

    def person(self) -> str | None:
        """The person's name, for rename detection: given + family, else the display name."""
        return _person(self.given_name, self.family_name) or _norm(self.display_name)


def _norm(value: str | None) -> str | None:
    text = " ".join((value or "").split()).lower()
    return text or None


def _person(given: str | None, family: str | None) -> str | None:
    if not (given and given.strip() and family and family.strip()):
        return None  # one name part alone ("User", "Ops") is too weak to call two emails the same person
    return _norm(f"{given} {family}")


def domain_of(user_name: str) -> str:
    return user_name.rsplit("@", 1)[-1].lower()


@dataclass(frozen=True)
class Scope:
    """Which users a sync manages. Empty ``managed_domains`` manages every domain."""

    managed_domains: frozenset[str] = frozenset()
    protected_users: frozenset[str] = frozenset()

    @classmethod
    def of(cls, managed_domains: Iterable[str] = (), protected_users: Iterable[str] = ()) -> Scope:
        if isinstance(managed_domains, str) or isinstance(protected_users, str):
            raise InvalidInputError("managed_domains and protected_users are lists, not a single string")
        domains = frozenset(d.strip().lower().lstrip("@") for d in managed_domains if d.strip())
        for d in domains:
            if "." not in d or "@" in d or " " in d:
                raise InvalidInputError(f"managed_domains: {d!r} is not a domain name")
        protected = frozenset(u.strip().lower() for u in protected_users if u.strip())
        for u in protected:
            if not _EMAIL.fullmatch(u):
                raise InvalidInputError(f"protected_users: {u!r} is not an email address (a SCIM userName)")
        return cls(domains, protected)

    def manages(self, user_name: str) -> bool:
        return not self.managed_domains or domain_of(user_name) in self.managed_domains

    def protects(self, user_name: str) -> bool:
        return user_name.lower() in self.protected_users


@dataclass(frozen=True)
class Observed:
    """The live state a change was planned against (a pinned plan applies only while it still holds)."""

    active: bool
    given_name: str | None
    family_name: str | None


@dataclass(frozen=True)
class Change:
    kind: str  # create | update | reactivate | deactivate
    user_name: str
    user_id: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    detail: str = ""
    observed: Observed | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["observed"] = asdict(self.observed) if self.observed else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        if data.get("kind") not in KINDS or not isinstance(data.get("user_name"), str):
            raise InvalidInputError(f"not a plan change: {dict(data)!r}")
        seen = data.get("observed")
        observed = Observed(bool(seen["active"]), seen.get("given_name"), seen.get("family_name")) if seen else None
        return cls(
            data["kind"],
            data["user_name"],
            data.get("user_id"),
            data.get("given_name"),
            data.get("family_name"),
            str(data.get("detail") or ""),
            observed,
        )


@dataclass
class SyncPlan:
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    current_active: int = 0  # active users in scope: the base of the fractional guards
    out_of_scope: int = 0  # live users outside managed_domains (untouched)
    ignored: list[str] = field(default_factory=list)  # desired users outside managed_domains
    protected: list[str] = field(default_factory=list)  # protected users the input would have deactivated
    renames: list[dict[str, str]] = field(default_factory=list)  # probable renames (old/new userName)
    held: list[Change] = field(default_factory=list)  # changes kept back (renames="hold")
    team_changes: list[TeamChange] = field(default_factory=list)  # IdP group -> Hub team (see .scim_teams)

    def of(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    def counts(self) -> dict[str, int]:
        counts = {kind: len(self.of(kind)) for kind in ("create", "update", "reactivate", "deactivate")}
        return {
            **counts,
            "unchanged": self.unchanged,
            "out_of_scope": self.out_of_scope,
            "protected": len(self.protected),
            "renames": len(self.renames),
            "held": len(self.held),
            "team_add": sum(1 for t in self.team_changes if t.kind == "team_add"),
            "team_remove": sum(1 for t in self.team_changes if t.kind == "team_remove"),
        }

    def describe(self) -> str:
        lines = [
            "SCIM sync plan: " + ", ".join(f"{k} {v}" for k, v in self.counts().items()),
            *(f"  {c.kind:<10} {c.user_name}{'  (' + c.detail + ')' if c.detail else ''}" for c in self.changes),
            *(f"  protected  {u} (not deactivated: in protected_users)" for u in self.protected),
            *(f"  rename?    {r['old']} -> {r['new']} ({r['reason']})" for r in self.renames),
            *(f"  held       {c.kind} {c.user_name} (probable rename)" for c in self.held),
            *(f"  {t.kind:<10} {t.user_name} ({t.team})" for t in self.team_changes),
        ]
        return "\n".join(lines)

    # -- the plan as a document (the dry run writes it; a pinned apply reads it back) ------------------------

    def to_document(self, **meta: Any) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "version": PLAN_VERSION,
            **meta,
            "counts": self.counts(),
            "current_active": self.current_active,
            "changes": [c.as_dict() for c in self.changes],
            "protected": list(self.protected),
            "renames": [dict(r) for r in self.renames],
            "held": [c.as_dict() for c in self.held],
            "ignored": list(self.ignored),
            "team_changes": [t.as_dict() for t in self.team_changes],
        }

    @classmethod
    def from_document(cls, doc: Any) -> SyncPlan:
        if not isinstance(doc, dict) or doc.get("format") != PLAN_FORMAT:
            raise InvalidInputError(f"not a SCIM sync plan (expected format {PLAN_FORMAT!r})")
        if doc.get("version") != PLAN_VERSION:
            raise InvalidInputError(f"SCIM plan version {doc.get('version')!r} is not {PLAN_VERSION}")
        counts = doc.get("counts") or {}
        return cls(
            changes=[Change.from_dict(c) for c in doc.get("changes", [])],
            unchanged=int(counts.get("unchanged", 0)),
            current_active=int(doc.get("current_active", 0)),
            out_of_scope=int(counts.get("out_of_scope", 0)),
            ignored=[str(u) for u in doc.get("ignored", [])],
            protected=[str(u) for u in doc.get("protected", [])],
            renames=[{str(k): str(v) for k, v in r.items()} for r in doc.get("renames", [])],
            held=[Change.from_dict(c) for c in doc.get("held", [])],
            team_changes=[TeamChange.from_dict(t) for t in doc.get("team_changes", [])],
        )


def plan_bytes(document: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a plan document (sorted keys): what is written, hashed and reviewed."""
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- desired users --------------------------------------------------------------------------------------------


def _flag(value: Any, row: int) -> bool:
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise InvalidInputError(f"row {row}: 'active' must be true or false, got {value!r}")


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def make_user(number: int, fields: Mapping[str, Any]) -> DesiredUser:
    """One validated user from canonical fields (``user_name``, ``given_name``, ``family_name``, ``active`` (a
    bool), ``external_id``, ``display_name``, ``groups``). ``number`` names the row in error messages."""
    user_name = _text(fields.get("user_name")) or ""
    if not user_name:
        raise InvalidInputError(f"row {number}: userName is missing")
    if not _EMAIL.fullmatch(user_name):
        raise InvalidInputError(f"row {number}: userName {user_name!r} is not an email address")
    groups = fields.get("groups") or ()
    if isinstance(groups, str):
        groups = [groups]
    return DesiredUser(
        user_name,
        _text(fields.get("given_name")),
        _text(fields.get("family_name")),
        bool(fields.get("active", True)),
        _text(fields.get("external_id")),
        _text(fields.get("display_name")),
        tuple(g for g in (_text(g) for g in groups) if g),
    )


def unique(users: Iterable[tuple[int, DesiredUser]]) -> list[DesiredUser]:
    """Refuse a userName given twice (case-insensitively): which row would win is not ours to guess."""
    seen: dict[str, int] = {}
    result = []
    for number, user in users:
        if user.key in seen:
            raise InvalidInputError(
                f"row {number}: duplicate userName {user.user_name!r} (first in row {seen[user.key]})"
            )
        seen[user.key] = number
        result.append(user)
    return result


def desired_users(rows: Iterable[Mapping[str, Any]]) -> list[DesiredUser]:
    """Validate rows of this provider's own shape (``userName`` required; ``givenName``, ``familyName``,
    ``active``, ``externalId``, ``displayName``, ``groups`` optional). For IdP exports see :mod:`.idp`."""
    parsed = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise InvalidInputError(f"row {number}: expected an object with userName, got {type(row).__name__}")
        groups = row.get("groups") or ()
        if isinstance(groups, str):
            groups = [g for g in re.split(r"[;,]", groups)]
        fields = {
            "user_name": row.get("userName") or row.get("user_name"),
            "given_name": row.get("givenName", row.get("given_name")),
            "family_name": row.get("familyName", row.get("family_name")),
            "active": _flag(row.get("active"), number),
            "external_id": row.get("externalId", row.get("external_id")),
            "display_name": row.get("displayName", row.get("display_name")),
            "groups": groups,
        }
        parsed.append((number, make_user(number, fields)))
    return unique(parsed)


# -- the plan -------------------------------------------------------------------------------------------------


def plan_sync(
    desired: list[DesiredUser],
    current: Iterable[ScimUser],
    scope: Scope | None = None,
    *,
    renames: str = "report",
) -> SyncPlan:
    """The changes that make ``current`` match ``desired`` within ``scope``. ``renames``: ``report`` (a probable
    rename is applied as create + deactivate and listed in ``plan.renames``) or ``hold`` (both are kept back)."""
    if renames not in ("report", "hold"):
        raise InvalidInputError(f"renames must be 'report' or 'hold', got {renames!r}")
    scope = scope or Scope()
    plan = SyncPlan()
    wanted: dict[str, DesiredUser] = {}
    for person in desired:
        if scope.manages(person.user_name):
            wanted[person.key] = person
        else:
            plan.ignored.append(person.user_name)
    matched: set[str] = set()
    leaving: list[tuple[Change, str | None, str | None]] = []  # deactivations, with the person and externalId
    listed: set[str] = set()
    for user in current:
        key = user.user_name.lower()
        if key in listed:
            continue  # a page repeated a user (the listing shifted under a concurrent insert): count it once
        listed.add(key)
        if not scope.manages(user.user_name):
            plan.out_of_scope += 1
            continue
        matched.add(key)
        have_given = user.name.given_name if user.name else None
        have_family = user.name.family_name if user.name else None
        observed = Observed(user.active, have_given, have_family)
        if user.active:
            plan.current_active += 1
        target = wanted.get(key)
        if target is None or not target.active:
            if not user.active:
                plan.unchanged += 1
            elif scope.protects(user.user_name):
                plan.protected.append(user.user_name)
                plan.unchanged += 1
            else:
                why = "not in the input" if target is None else "inactive in the input"
                change = Change("deactivate", user.user_name, user.id, detail=why, observed=observed)
                extra = user.model_extra or {}
                leaving.append((change, _person(have_given, have_family), _text(extra.get("externalId"))))
            continue
        renamed = (target.given_name is not None and target.given_name != have_given) or (
            target.family_name is not None and target.family_name != have_family
        )
        if not user.active:
            plan.changes.append(
                Change("reactivate", user.user_name, user.id, target.given_name, target.family_name, "", observed)
            )
        elif renamed:
            detail = f"{have_given} {have_family} -> {target.given_name} {target.family_name}"
            plan.changes.append(
                Change("update", user.user_name, user.id, target.given_name, target.family_name, detail, observed)
            )
        else:
            plan.unchanged += 1
    arriving = [
        (Change("create", t.user_name, None, t.given_name, t.family_name), t)
        for key, t in wanted.items()
        if key not in matched and t.active
    ]
    _match_renames(plan, arriving, leaving, hold=renames == "hold")
    plan.changes.sort(key=lambda c: (KINDS.index(c.kind), c.user_name.lower()))
    return plan


def _match_renames(
    plan: SyncPlan,
    arriving: list[tuple[Change, DesiredUser]],
    leaving: list[tuple[Change, str | None, str | None]],
    *,
    hold: bool,
) -> None:
    """Pair a create with a deactivation of the same person (externalId when the server returns one, else the
    full name), only where the pairing is unique: two departing "Jon Snow"s are no evidence of anything."""

    def index(keys: Iterable[str | None]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for k in keys:
            if k:
                counts[k] = counts.get(k, 0) + 1
        return counts

    by_id = index(x for _, _, x in leaving)
    by_name = index(p for _, p, _ in leaving)
    new_ids = index(t.external_id for _, t in arriving)
    new_names = index(t.person() for _, t in arriving)
    paired: dict[str, tuple[Change, str]] = {}  # deactivated userName -> (create, reason)
    for create, target in arriving:
        for key, mine, theirs, reason in (
            (target.external_id, new_ids, by_id, "same externalId"),
            (target.person(), new_names, by_name, "same name"),
        ):
            if key and mine.get(key) == 1 and theirs.get(key) == 1:
                by_reason = 2 if reason == "same externalId" else 1
                old = next(entry[0] for entry in leaving if entry[by_reason] == key)
                if old.user_name not in paired:
                    paired[old.user_name] = (create, reason)
                break
    held = {c.user_name for c, _ in paired.values()} | set(paired) if hold else set()
    for old_name, (create, reason) in sorted(paired.items()):
        plan.renames.append({"old": old_name, "new": create.user_name, "reason": reason})
    renamed_to = {c.user_name: old for old, (c, _) in paired.items()}
    notes = {old: f"probable rename to {c.user_name}" for old, (c, _) in paired.items()}
    notes.update({new: f"probable rename of {old}" for new, old in renamed_to.items()})
    for change in [entry[0] for entry in leaving] + [entry[0] for entry in arriving]:
        noted = replace(change, detail=notes[change.user_name]) if change.user_name in notes else change
        (plan.held if change.user_name in held else plan.changes).append(noted)


# -- a pinned plan against the live state ---------------------------------------------------------------------


def drift(plan: SyncPlan, current: Iterable[ScimUser]) -> tuple[list[str], set[str]]:
    """Whether the pinned ``plan`` still applies to ``current``: the reasons it does not, one line per user
    (empty: it applies), and the userNames whose change is already in place (an earlier try applied it).

    A change applies only to the state it was reviewed against: a create only while the userName is absent; any
    other change only while the user has the same id, activity and names as when planned. A user already in
    the planned end state is done, not drifted, so a retried apply completes the rest. Users the plan does not
    touch may have changed freely."""
    live = {u.user_name.lower(): u for u in current}
    reasons: list[str] = []
    done: set[str] = set()
    for change in plan.changes:
        user = live.get(change.user_name.lower())
        state = _state(user) if user is not None else None
        if change.kind == "create":
            if user is not None and state is not None:
                if state == Observed(
                    True, change.given_name or state.given_name, change.family_name or state.family_name
                ):
                    done.add(change.user_name)
                else:
                    reasons.append(f"{change.user_name}: planned create, but the user now exists as {state}")
            continue
        if user is None or state is None or user.id != change.user_id:
            reasons.append(f"{change.user_name}: planned {change.kind} of id {change.user_id}, no longer listed")
            continue
        target = Observed(
            change.kind != "deactivate",
            state.given_name if change.given_name is None else change.given_name,
            state.family_name if change.family_name is None else change.family_name,
        )
        if state == target:
            done.add(change.user_name)
        elif change.observed is not None and state != change.observed:
            reasons.append(f"{change.user_name}: planned {change.kind} against {change.observed}, now {state}")
    return reasons, done


def _state(user: ScimUser) -> Observed:
    name = user.name
    return Observed(user.active, name.given_name if name else None, name.family_name if name else None)
