"""Findings by identity, and baselines compared by identity, not by count.

A finding is keyed ``(policy, CVE or licence or fact ID, package)`` with the package as its purl without
version or qualifiers (:func:`purl_identity`): replacing an accepted CVE with a new one is a new finding even when
the count stays the same, and bumping a package's patch version while an accepted CVE stays is not. A baseline is
another image's report (what production runs: its violations were shipped, so they are accepted) or a stored
accepted-risk record (who accepted what, until when). Anything not in the baseline is new and fails the gate.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..core.errors import InvalidInputError
from .evidence import purl_identity
from .suppress import active, parse_expiry

Key = tuple[str, str, str]


def identity(policy: str, finding_id: str, package: str) -> Key:
    """What a finding is, across images and runs: (policy, upper-cased ID, package purl without its version)."""
    return policy, finding_id.strip().upper(), purl_identity(package)


@dataclass(frozen=True)
class Finding:
    """One finding of one policy. ``policy``: the policy ID. ``status``: ``violation`` (counts) or
    ``suppressed`` (not counted; ``suppression`` says by what: source, reason, expires). ``id``: the CVE/GHSA,
    the licence, or the fact (``sbom``, ``provenance``, ``root-user``, a base image reference). ``package``: the
    purl ("" for image facts). ``severity``, ``fix_version`` and ``url`` for vulnerabilities; ``detail`` for
    people."""

    policy: str
    status: str
    id: str
    package: str = ""
    severity: str | None = None
    fix_version: str | None = None
    url: str | None = None
    suppression: dict[str, Any] | None = None
    detail: str = ""

    @property
    def key(self) -> Key:
        return identity(self.policy, self.id, self.package)

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "status": self.status,
            "id": self.id,
            "package": self.package,
            "severity": self.severity,
            "fix_version": self.fix_version,
            "url": self.url,
            "suppression": self.suppression,
            "detail": self.detail,
        }


def advisory_url(identifier: str) -> str | None:
    """Scout's page for a CVE or GHSA (docker/docs links the high-profile CVEs there)."""
    text = identifier.strip().upper()
    return f"https://scout.docker.com/v/{text}" if text.startswith(("CVE-", "GHSA-")) else None


def findings_of(policy: str, items: Iterable[Mapping[str, Any]], status: str) -> list[Finding]:
    """The findings of a result's ``violations`` or ``suppressed`` items; a licence item yields one finding per
    licence it matched."""
    out = []
    for item in items:
        ids = [str(i) for i in item.get("matched") or []] or [
            str(item.get("id") or item.get("attestation") or item.get("name") or "")
        ]
        for identifier in ids:
            url = item.get("url") or (advisory_url(identifier) if item.get("severity") else None)
            out.append(
                Finding(
                    policy,
                    status,
                    identifier,
                    str(item.get("package") or ""),
                    item.get("severity"),
                    item.get("fixed_by"),
                    url,
                    dict(item["suppression"]) if isinstance(item.get("suppression"), Mapping) else None,
                    str(item.get("detail") or ""),
                )
            )
    return out


@dataclass(frozen=True)
class AcceptedRisk:
    """A stored decision to accept a finding: ``policy`` (``None`` = any), ``id`` (CVE, licence, fact), ``package``
    (a purl, any version; ``None`` = any package), ``reason``, ``expires`` (ISO date or instant; ``None`` = none),
    ``accepted_by``. Expired decisions accept nothing."""

    id: str
    policy: str | None = None
    package: str | None = None
    reason: str = ""
    expires: str | None = None
    accepted_by: str = ""

    def matches(self, finding: Finding) -> bool:
        if self.id.strip().upper() != finding.id.strip().upper():
            return False
        if self.policy not in (None, "", "*", finding.policy):
            return False
        return self.package is None or purl_identity(self.package) == purl_identity(finding.package)

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "id": self.id,
            "package": self.package,
            "reason": self.reason,
            "expires": self.expires,
            "accepted_by": self.accepted_by,
        }

    @classmethod
    def parse(cls, value: AcceptedRisk | Mapping[str, Any]) -> AcceptedRisk:
        if isinstance(value, AcceptedRisk):
            return value
        if not isinstance(value, Mapping) or not isinstance(value.get("id"), str):
            raise InvalidInputError(f"accepted risk must be a mapping with 'id', got {value!r}")
        expires = value.get("expires")
        if isinstance(expires, date | datetime):
            expires = expires.isoformat()
        if expires is not None:
            parse_expiry(str(expires), f"accepted risk {value['id']}")  # a bad date is refused, not ignored
        return cls(
            value["id"],
            value.get("policy") or None,
            value.get("package") or None,
            str(value.get("reason") or ""),
            str(expires) if expires is not None else None,
            str(value.get("accepted_by") or value.get("by") or ""),
        )


def is_accepted_risk_record(value: object) -> bool:
    """``{"accepted": [...]}`` (the ledger's record) or a list of accepted risks, as opposed to a report."""
    if isinstance(value, Mapping):
        return isinstance(value.get("accepted"), list) and "results" not in value
    return isinstance(value, list | tuple) and all(isinstance(v, AcceptedRisk | Mapping) for v in value)


@dataclass
class BaselineDiff:
    """The current report's violations against a baseline. ``new``: not in the baseline (they fail the gate).
    ``accepted``: still there, and accepted by the baseline (shipped before, or an accepted risk that has not
    expired). ``fixed``: in the baseline, gone now. ``expired``: accepted risks that expired (accept nothing)."""

    new: list[Finding] = field(default_factory=list)
    accepted: list[Finding] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    expired: list[AcceptedRisk] = field(default_factory=list)

    @property
    def failing_policies(self) -> list[str]:
        return list(dict.fromkeys(f.policy for f in self.new))

    def to_json(self) -> dict[str, Any]:
        return {
            "new": [f.to_json() for f in self.new],
            "accepted": [f.to_json() for f in self.accepted],
            "fixed": [f.to_json() for f in self.fixed],
            "expired": [r.to_json() for r in self.expired],
        }


def diff_findings(current: list[Finding], baseline: list[Finding]) -> BaselineDiff:
    accepted_keys = {f.key for f in baseline}
    now_keys = {f.key for f in current}
    result = BaselineDiff()
    for finding in current:
        (result.accepted if finding.key in accepted_keys else result.new).append(finding)
    result.fixed = [f for f in baseline if f.key not in now_keys]
    return result


def diff_accepted(current: list[Finding], risks: Iterable[AcceptedRisk], now: datetime) -> BaselineDiff:
    risks = list(risks)
    live = [r for r in risks if active(r.expires, now)]
    result = BaselineDiff(expired=[r for r in risks if not active(r.expires, now)])
    for finding in current:
        (result.accepted if any(r.matches(finding) for r in live) else result.new).append(finding)
    # An accepted risk that matches nothing any more was fixed (or never applied): report it as such.
    result.fixed = [
        Finding(r.policy or "*", "accepted-risk", r.id, r.package or "", detail=r.reason)
        for r in live
        if not any(r.matches(f) for f in current)
    ]
    return result
