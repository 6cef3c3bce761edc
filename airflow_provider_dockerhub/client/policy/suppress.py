"""Suppressions: why a vulnerability is not counted, from three sources, each listed in the report with its
reason and expiry. Scout exceptions (fetched with the image), OpenVEX statements attached to the image, and the
gate's own allow-list. An expired suppression does not suppress; the report says it expired. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ..core.errors import InvalidInputError
from ..core.timeparse import parse_timestamp
from .evidence import Suppression, Vulnerability, purl_identity


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_expiry(text: str, what: str) -> date | datetime:
    """A bare day (valid through that day, UTC) or an instant."""
    value = text.strip()
    if len(value) <= 10:
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInputError(f"{what}: bad expiry {text!r} (not a date or time)") from exc
    instant = parse_timestamp(value, assume_utc=True)
    if instant is None:
        raise InvalidInputError(f"{what}: bad expiry {text!r} (not a date or time)")
    return instant


def active(expires: date | datetime | str | None, now: datetime) -> bool:
    """Whether something that ``expires`` then still holds at ``now``: a date holds through that day (UTC)."""
    if expires is None:
        return True
    if isinstance(expires, str):
        expires = parse_expiry(expires, "suppression")
    if isinstance(expires, datetime):
        return now < aware(expires)
    return now.astimezone(UTC).date() <= expires


@dataclass(frozen=True)
class AllowListEntry:
    """Suppress ``id`` (a CVE, GHSA... or one of its aliases) until ``expires``: a date is valid through that day
    (UTC), a datetime until that instant. ``package`` (a purl, any version) narrows it to one package."""

    id: str
    expires: date | datetime | None = None
    reason: str = ""
    package: str | None = None

    def active(self, now: datetime) -> bool:
        return active(self.expires, now)

    def to_json(self) -> dict[str, Any]:
        data = {"id": self.id, "expires": self.expires.isoformat() if self.expires else None, "reason": self.reason}
        return {**data, **({"package": self.package} if self.package else {})}

    def suppression(self) -> Suppression:
        expires = self.expires.isoformat() if self.expires else None
        return Suppression("allow-list", self.id, self.reason, expires, self.package)

    @classmethod
    def parse(cls, value: AllowListEntry | str | Mapping[str, Any]) -> AllowListEntry:
        """An entry, a bare ID, or ``{"id", "expires": ISO date/datetime, "reason", "package"}``."""
        if isinstance(value, AllowListEntry):
            return value
        if isinstance(value, str):
            return cls(value.strip())
        if not isinstance(value, Mapping) or not isinstance(value.get("id"), str):
            raise InvalidInputError(f"allow-list entry must be an ID or a mapping with 'id', got {value!r}")
        expires = value.get("expires")
        if isinstance(expires, str):
            expires = parse_expiry(expires, f"allow-list entry {value['id']}")
        if expires is not None and not isinstance(expires, date):
            raise InvalidInputError(f"allow-list entry {value['id']}: expiry must be a date, got {expires!r}")
        package = value.get("package")
        if package is not None and not isinstance(package, str):
            raise InvalidInputError(f"allow-list entry {value['id']}: package must be a purl, got {package!r}")
        return cls(value["id"].strip(), expires, str(value.get("reason") or ""), package or None)


def _applies(suppression: Suppression, vuln: Vulnerability) -> bool:
    if suppression.id.strip().upper() not in vuln.names():
        return False
    return suppression.package is None or purl_identity(suppression.package) == purl_identity(vuln.package)


class Suppressions:
    """Every suppression known for one evaluation, and the clock that decides which still hold."""

    def __init__(self, now: datetime, allow_list: Sequence[AllowListEntry], vex: Iterable[Suppression] = ()) -> None:
        self.now = now
        self.allow_list = list(allow_list)
        self.vex = list(vex)

    def candidates(self, vuln: Vulnerability) -> list[Suppression]:
        """Scout's exceptions first (the organization's own decision), then VEX, then the local allow-list."""
        scout = list(vuln.exceptions)
        if vuln.excepted and not scout:
            scout = [Suppression("scout-exception", vuln.id, "excepted in Scout (no exception details returned)")]
        # Scout's exceptions come attached to the vulnerability they except: they apply by construction.
        found = scout + [s for s in self.vex if _applies(s, vuln)]
        found += [e.suppression() for e in self.allow_list if _applies(e.suppression(), vuln)]
        return found

    def triage(self, vuln: Vulnerability, item: dict[str, Any], violations: list[Any], suppressed: list[Any]) -> None:
        """File ``item`` as a violation or as suppressed, with the suppression that holds (source, reason,
        expiry) or, when every one has expired, the expired ones next to the violation."""
        found = self.candidates(vuln)
        live = [s for s in found if active(s.expires, self.now)]
        if live:
            chosen = live[0]
            by = {"scout-exception": "exception", "vex": "vex", "allow-list": "allow_list"}[chosen.source]
            extra = {"reason": chosen.reason, "expires": chosen.expires} if chosen.source == "allow-list" else {}
            suppressed.append({**item, "by": by, **extra, "suppression": chosen.to_json()})
            return
        if found:
            item["expired_suppressions"] = [s.to_json() for s in found]
            allow = [s.expires for s in found if s.source == "allow-list" and s.expires]
            if allow:
                item["allow_list_expired"] = max(allow)
        violations.append(item)
