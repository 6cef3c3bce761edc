"""Docker Scout's default policies as rules: their IDs, config keys and defaults (``docker scout policy``, CLI
v1.23+), and one check per policy over :class:`ImageEvidence`, following the policy pages of docker/docs
(``scout/policy``). Pure: no I/O.

A result is ``compliant``, ``non_compliant`` or ``unknown``; missing data is ``unknown``, never a pass.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from ..core.errors import InvalidInputError
from .evidence import SEVERITIES, ImageEvidence, Vulnerability, purl_type, severity_of

Status = Literal["compliant", "non_compliant", "unknown"]
# The CVEs Scout's "No high-profile vulnerabilities" policy lists out of the box (docker/docs, scout/policy).
HIGH_PROFILE_CVES = (
    "CVE-2014-0160",
    "CVE-2021-44228",
    "CVE-2023-38545",
    "CVE-2023-44487",
    "CVE-2024-3094",
    "CVE-2024-47176",
    "CVE-2024-47076",
    "CVE-2024-47175",
    "CVE-2024-47177",
)
AGPL_LICENSES = ("AGPL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later")
ATTESTATIONS = ("sbom", "provenance")
# Scout and scanners spell "no fix" several ways; all of them mean the vulnerability is not fixable.
_NOT_FIXED = frozenset({"", "not fixed", "none", "n/a", "<nil>"})
_SPDX_TOKEN = re.compile(r"[()\s]+")


@dataclass(frozen=True)
class AllowListEntry:
    """Suppress ``id`` until ``expires``: a date is valid through that day (UTC), a datetime until that instant."""

    id: str
    expires: date | datetime | None = None
    reason: str = ""

    def active(self, now: datetime) -> bool:
        if self.expires is None:
            return True
        if isinstance(self.expires, datetime):
            return now < aware(self.expires)
        return now.astimezone(UTC).date() <= self.expires

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "expires": self.expires.isoformat() if self.expires else None, "reason": self.reason}

    @classmethod
    def parse(cls, value: AllowListEntry | str | Mapping[str, Any]) -> AllowListEntry:
        """An entry, a bare ID, or ``{"id", "expires": ISO date/datetime, "reason"}`` (operator params, XCom)."""
        if isinstance(value, AllowListEntry):
            return value
        if isinstance(value, str):
            return cls(value.strip())
        if not isinstance(value, Mapping) or not isinstance(value.get("id"), str):
            raise InvalidInputError(f"allow-list entry must be an ID or a mapping with 'id', got {value!r}")
        expires = value.get("expires")
        if isinstance(expires, str):
            try:
                # A bare day is valid through that day; anything longer is an instant.
                text = expires.strip()
                expires = datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)
            except ValueError as exc:
                raise InvalidInputError(f"allow-list entry {value['id']}: bad expiry {expires!r}") from exc
        if expires is not None and not isinstance(expires, date):
            raise InvalidInputError(f"allow-list entry {value['id']}: expiry must be a date, got {expires!r}")
        return cls(value["id"].strip(), expires, str(value.get("reason") or ""))


@dataclass
class PolicyResult:
    id: str
    name: str
    status: Status
    violations: list[dict[str, Any]] = field(default_factory=list)
    suppressed: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "violation_count": len(self.violations)}


class EvaluationContext:
    """Per-evaluation state: the clock and the allow-list by upper-cased ID."""

    def __init__(self, now: datetime, entries: Sequence[AllowListEntry]) -> None:
        self.now = now
        self.entries: dict[str, list[AllowListEntry]] = {}
        for entry in entries:
            self.entries.setdefault(entry.id.strip().upper(), []).append(entry)

    def triage(self, vuln: Vulnerability, item: dict[str, Any], violations: list[Any], suppressed: list[Any]) -> None:
        """File ``item`` as a violation or as suppressed (Scout exception, live allow-list entry)."""
        entries = self.entries.get(str(vuln.id).strip().upper(), [])
        live = [e for e in entries if e.active(self.now)]
        if vuln.excepted:
            suppressed.append({**item, "by": "exception"})
        elif live:
            entry = live[0]
            suppressed.append({**item, "by": "allow_list", "reason": entry.reason, **_expiry(entry)})
        else:
            if entries:  # listed, but every entry has expired: say so next to the violation
                item["allow_list_expired"] = max(str(e.expires) for e in entries)
            violations.append(item)


def _expiry(entry: AllowListEntry) -> dict[str, Any]:
    return {"expires": entry.expires.isoformat() if entry.expires else None}


_Outcome = tuple[Status, list[dict[str, Any]], list[dict[str, Any]], str]
Check = Callable[[ImageEvidence, dict[str, Any], EvaluationContext], _Outcome]


@dataclass(frozen=True)
class Policy:
    id: str
    name: str
    defaults: Mapping[str, Any]
    check: Check
    choices: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def evaluate(self, evidence: ImageEvidence, settings: dict[str, Any], ctx: EvaluationContext) -> PolicyResult:
        status, violations, suppressed, message = self.check(evidence, settings, ctx)
        return PolicyResult(self.id, self.name, status, violations, suppressed, message)

    def settings(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``given``; unknown keys and wrong types are errors (a typo must not pass)."""
        unknown = set(given) - set(self.defaults)
        if unknown:
            raise InvalidInputError(
                f"policy {self.id}: unknown config keys {sorted(unknown)}; known: {list(self.defaults)}"
            )
        settings = dict(self.defaults)
        for key, given_value in given.items():
            default, value = self.defaults[key], given_value
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise InvalidInputError(f"policy {self.id}: {key} must be true or false, got {value!r}")
            elif isinstance(default, int):
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 36500:
                    raise InvalidInputError(f"policy {self.id}: {key} must be a number of days, got {value!r}")
            else:
                # Templated operator params arrive as "a,b" strings; a bare string must not iterate as characters.
                value = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
                if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                    raise InvalidInputError(f"policy {self.id}: {key} must be a list of strings, got {value!r}")
                value = list(value)
                allowed = {c.casefold() for c in self.choices.get(key, ())}
                if allowed and not {v.strip().casefold() for v in value} <= allowed:
                    raise InvalidInputError(f"policy {self.id}: {key} must be among {self.choices[key]}, got {value!r}")
            settings[key] = value
        return settings


def _unique(vulns: Iterable[Vulnerability]) -> list[Vulnerability]:
    """One entry per (vulnerability, package): scanners report a CVE once per file location."""
    seen: dict[tuple[str, str], Vulnerability] = {}
    for v in vulns:
        seen.setdefault((str(v.id).strip().upper(), str(v.package)), v)
    return list(seen.values())


def _cvss(value: float | None) -> float | None:
    try:
        score = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return score if score is not None and math.isfinite(score) else None


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _vuln_item(v: Vulnerability, severity: str, **extra: Any) -> dict[str, Any]:
    score = _cvss(v.cvss_score)
    fixed = _fixed_version(v)
    published = v.published_at
    text = f"{v.id} {severity}{f' {score:.1f}' if score is not None else ''} in {v.package}"
    text += f" (fixed by {fixed})" if fixed else " (no fix)"
    return {
        "id": str(v.id),
        "severity": severity,
        "cvss_score": score,
        "package": str(v.package),
        "fixed_by": fixed,
        "published_at": aware(published).isoformat() if isinstance(published, datetime) else None,
        "cisa_exploited": bool(v.cisa_exploited),
        **extra,
        "detail": text + "".join(f" [{value}]" for value in extra.values()),
    }


def _fixed_version(v: Vulnerability) -> str | None:
    fixed = str(v.fixed_by).strip() if v.fixed_by is not None else ""
    return None if fixed.lower() in _NOT_FIXED else fixed


def _by_importance(item: Mapping[str, Any]) -> tuple[int, float, str, str]:
    rank = SEVERITIES.index(item["severity"]) if item.get("severity") in SEVERITIES else len(SEVERITIES)
    return rank, -(item.get("cvss_score") or 0.0), str(item.get("id")), str(item.get("package"))


def _why(evidence: ImageEvidence, key: str) -> str:
    return str(evidence.sources.get(key) or "").removeprefix("unknown: ")


def _no_data(what: str, evidence: ImageEvidence, key: str) -> _Outcome:
    source = _why(evidence, key)
    return "unknown", [], [], f"no data: {what}" + (f" ({source})" if source else "")


def _counted(violations: list[Any], suppressed: list[Any], what: str) -> _Outcome:
    violations.sort(key=_by_importance)
    suppressed.sort(key=_by_importance)
    if len(violations) == 1:
        what = what.replace("vulnerabilities", "vulnerability").replace("packages", "package")
    message = f"{len(violations) or 'no'} {what}" + (f", {len(suppressed)} suppressed" if suppressed else "")
    expired = sum(1 for v in violations if "allow_list_expired" in v)
    if expired:
        message += f" ({expired} no longer allow-listed: entry expired)"
    return ("non_compliant" if violations else "compliant"), violations, suppressed, message


def _check_fixable(evidence: ImageEvidence, cfg: dict[str, Any], ctx: EvaluationContext) -> _Outcome:
    if evidence.vulnerabilities is None:
        return _no_data("no vulnerability scan", evidence, "vulnerabilities")
    severities = {severity_of(s) for s in cfg["severities"]}
    types = {t.lower() for t in cfg["package_types"]}
    grace = timedelta(days=cfg["grace_period_days"])
    violations: list[dict[str, Any]] = []
    suppressed: list[dict[str, Any]] = []
    for v in _unique(evidence.vulnerabilities):
        severity = severity_of(v.severity)
        if severity not in severities or (cfg["fixable_only"] and _fixed_version(v) is None):
            continue
        if types and purl_type(v.package) not in types:
            continue
        item = _vuln_item(v, severity)
        # Without a publication date the age is unknowable; counting it is the safe side of a grace period.
        if grace and item["published_at"] and ctx.now - datetime.fromisoformat(item["published_at"]) < grace:
            suppressed.append({**item, "by": "grace_period"})
            continue
        ctx.triage(v, item, violations, suppressed)
    label = "/".join(s for s in SEVERITIES if s in severities) or "no severities"
    return _counted(violations, suppressed, f"{'fixable ' if cfg['fixable_only'] else ''}{label} vulnerabilities")


def _check_high_profile(evidence: ImageEvidence, cfg: dict[str, Any], ctx: EvaluationContext) -> _Outcome:
    if evidence.vulnerabilities is None:
        return _no_data("no vulnerability scan", evidence, "vulnerabilities")
    listed = {c.strip().upper() for c in cfg["cves"]}
    ignored = {c.strip().upper() for c in cfg["ignored_cves"]}
    violations: list[dict[str, Any]] = []
    suppressed: list[dict[str, Any]] = []
    for v in _unique(evidence.vulnerabilities):
        vid = str(v.id).strip().upper()
        why = "high-profile" if vid in listed else "cisa-kev" if cfg["include_cisa_kev"] and v.cisa_exploited else None
        if why is None:
            continue
        item = _vuln_item(v, severity_of(v.severity), reason=why)
        if vid in ignored:
            suppressed.append({**item, "by": "ignored_cves"})
        else:
            ctx.triage(v, item, violations, suppressed)
    return _counted(violations, suppressed, "high-profile vulnerabilities")


def _check_attestations(evidence: ImageEvidence, cfg: dict[str, Any], ctx: EvaluationContext) -> _Outcome:
    wanted = [a.strip().lower() for a in cfg["required_attestations"]]
    state = {"sbom": evidence.sbom, "provenance": evidence.provenance}
    missing = [a for a in wanted if state[a] is False]
    unknown = [a for a in wanted if state[a] is None]
    violations = [{"attestation": a, "detail": f"no {a} attestation found"} for a in missing]
    if missing:  # a proven absence decides, whatever else is unknown
        return "non_compliant", violations, [], f"missing: {', '.join(missing)}"
    if unknown:
        reasons = "; ".join(f"{a}: {_why(evidence, a) or 'not determined'}" for a in unknown)
        return "unknown", [], [], f"no data: {reasons}"
    return "compliant", [], [], f"present: {', '.join(wanted) or 'none required'}"


def is_root_user(user: str | None) -> bool:
    """An empty User means root; so do ``root``/``0`` with any group (``0:0``, ``root:wheel``). ``1000:0`` does
    not: the policy is about the user, and OpenShift-style images run as group 0 by design."""
    name = (user or "").strip().split(":", 1)[0].strip()
    return name in ("", "root") or (name.isascii() and name.isdigit() and int(name) == 0)


def _check_non_root(evidence: ImageEvidence, cfg: dict[str, Any], ctx: EvaluationContext) -> _Outcome:
    if not evidence.config_known:
        return _no_data("image config not read", evidence, "config")
    user = (evidence.user or "").strip()
    if is_root_user(user):
        shown = user or "(none: defaults to root)"
        return "non_compliant", [{"user": user, "detail": f"default user is {shown}"}], [], f"runs as root: {shown}"
    return "compliant", [], [], f"runs as {user}"


def license_ids(expression: str) -> set[str]:
    """License IDs in an SPDX expression, upper-cased (SPDX IDs match case-insensitively). ``WITH`` exceptions
    are dropped; ``X+`` also yields ``X-or-later``."""
    ids: set[str] = set()
    tokens = [t for t in _SPDX_TOKEN.split(str(expression)) if t]
    for i, token in enumerate(tokens):
        upper = token.upper()
        if upper in ("AND", "OR", "WITH") or (i and tokens[i - 1].upper() == "WITH"):
            continue
        ids.add(upper)
        if upper.endswith("+"):
            ids.update({upper[:-1], upper[:-1] + "-OR-LATER"})
    return ids


def _check_copyleft(evidence: ImageEvidence, cfg: dict[str, Any], ctx: EvaluationContext) -> _Outcome:
    if evidence.packages is None:
        return _no_data("no package list (SBOM)", evidence, "packages")
    banned = {lic.strip().upper() for lic in cfg["licenses"]}
    ignored = {p.strip().casefold() for p in cfg["ignored_packages"]}
    violations: list[dict[str, Any]] = []
    suppressed: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for pkg in evidence.packages:
        key = (str(pkg.purl), str(pkg.name), str(pkg.version))
        matched = sorted(set().union(*(license_ids(e) for e in pkg.licenses)) & banned) if pkg.licenses else []
        if not matched or key in seen:
            continue
        seen.add(key)
        expressions = [e for e in pkg.licenses if license_ids(e) & banned]
        item = {
            "package": pkg.purl or pkg.name,
            "name": pkg.name,
            "version": pkg.version,
            "licenses": expressions,
            "matched": matched,
            "detail": f"{pkg.purl or pkg.name} is licensed {' / '.join(expressions)}",
        }
        names = {str(pkg.name).casefold(), str(pkg.purl).casefold(), str(pkg.purl).split("@", 1)[0].casefold()}
        (suppressed if names & ignored else violations).append(item)
    violations.sort(key=lambda i: str(i["package"]))
    return _counted(violations, suppressed, "packages with copyleft licenses")


POLICIES: dict[str, Policy] = {
    p.id: p
    for p in (
        Policy(
            "fixable-vulnerabilities",
            "No fixable critical or high vulnerabilities",
            {"severities": ["CRITICAL", "HIGH"], "fixable_only": True, "package_types": [], "grace_period_days": 0},
            _check_fixable,
            {"severities": SEVERITIES},
        ),
        Policy(
            "high-profile-vulnerabilities",
            "No high-profile vulnerabilities",
            {"cves": list(HIGH_PROFILE_CVES), "ignored_cves": [], "include_cisa_kev": True},
            _check_high_profile,
        ),
        Policy(
            "supply-chain-attestations",
            "Supply chain attestations",
            {"required_attestations": list(ATTESTATIONS)},
            _check_attestations,
            {"required_attestations": ATTESTATIONS},
        ),
        Policy("default-non-root-user", "Default non-root user", {}, _check_non_root),
        Policy(
            "copyleft-license",
            "No copyleft licenses",
            {"licenses": list(AGPL_LICENSES), "ignored_packages": []},
            _check_copyleft,
        ),
    )
}


def policy_named(name: str) -> Policy:
    """By ID, or by display name (what Scout's own results carry), case-insensitively."""
    wanted = str(name).strip().casefold()
    for policy in POLICIES.values():
        if wanted in (policy.id, policy.name.casefold()):
            return policy
    raise InvalidInputError(f"unknown policy {name!r}; known: {sorted(POLICIES)}")
