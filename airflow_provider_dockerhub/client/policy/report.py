"""What a gate run reports, built from the per-platform :class:`PolicyReport` s: one findings list by identity,
the task-log table, a markdown summary, a SARIF 2.1.0 log, the small XCom summary and the report's hash.
Pure: the Airflow layer writes the documents to object storage.

A *finding* is one (policy, CVE or licence or fact, package purl) on one platform, whether it fails the gate, is
suppressed (Scout exception, VEX, allow-list, grace period) or is accepted (the accepted-risk ledger). Findings
and their identity are the engine's (``findings.py``); this module adds the platform and the ledger's acceptance.

SARIF: OASIS SARIF 2.1.0 (``sarif-schema-2.1.0.json``): ``rules`` are the policies, ``results`` the findings,
each with its CVE page as ``helpUri``; a suppressed or accepted finding carries ``suppressions``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .engine import PolicyReport
from .findings import identity

REPORT_SCHEMA = "airflow-provider-dockerhub/gate-report/v1"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL_NAME = "airflow-provider-dockerhub policy gate"
TOOL_URI = "https://docs.docker.com/scout/policy/"
MARKS = {"compliant": "✓", "non_compliant": "✗", "unknown": "?"}
MAX_MARKDOWN_FINDINGS = 200


@dataclass(frozen=True)
class Finding:
    """One thing a policy found on one platform, identified by ``key()`` = (policy, id, purl)."""

    policy: str
    id: str
    purl: str = ""
    platform: str | None = None
    severity: str | None = None
    fix_version: str | None = None
    url: str | None = None
    detail: str = ""
    status: str = "violation"  # violation | suppressed | accepted (the engine says violation or suppressed)
    source: str | None = None  # what suppressed or accepted it: exception, vex, allow_list, ledger...
    reason: str | None = None
    expires: str | None = None
    accepted_by: str | None = None

    def key(self) -> tuple[str, str, str]:
        """The engine's identity (:func:`findings.identity`)."""
        return identity(self.policy, self.id, self.purl)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def findings(report: PolicyReport | None) -> list[Finding]:
    """Every finding of one platform's report (the engine's records, by identity), with its platform."""
    if report is None:
        return []
    out = []
    for f in report.findings():
        suppression = f.suppression or {}
        out.append(
            Finding(
                policy=f.policy,
                id=f.id,
                purl=f.package,
                platform=report.platform,
                severity=f.severity,
                fix_version=f.fix_version,
                url=f.url,
                detail=f.detail,
                status="violation" if f.status == "violation" else "suppressed",
                source=suppression.get("source"),
                reason=suppression.get("reason") or None,
                expires=suppression.get("expires"),
            )
        )
    return out


@dataclass
class PlatformOutcome:
    """One gated platform: its report, what failed, and the findings the ledger accepted."""

    platform: str | None
    digest: str
    report: PolicyReport
    failures: list[str]
    accepted: list[Finding] = field(default_factory=list)
    baseline_digest: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def all_findings(self) -> list[Finding]:
        accepted = {f.key() for f in self.accepted}
        mine = [f for f in findings(self.report) if not (f.status == "violation" and f.key() in accepted)]
        return mine + self.accepted

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "digest": self.digest,
            "status": "passed" if self.passed else "failed",
            "failures": list(self.failures),
            "baseline_digest": self.baseline_digest,
            "report": self.report.to_json(),
            "findings": [f.to_json() for f in self.all_findings()],
        }


@dataclass
class GateReport:
    """The whole gate run: the reference, the digest the next step needs, and one outcome per platform."""

    image: str
    registry: str
    repository: str
    digest: str
    media_type: str
    platforms: list[PlatformOutcome]
    evaluated_at: str
    baseline: str | None = None
    ledger: str | None = None

    @property
    def passed(self) -> bool:
        return all(p.passed for p in self.platforms)

    @property
    def status(self) -> str:
        return "passed" if self.passed else "failed"

    @property
    def failures(self) -> list[str]:
        return list(dict.fromkeys(pid for p in self.platforms for pid in p.failures))

    def counts(self) -> dict[str, int]:
        every = [f for p in self.platforms for f in p.all_findings()]
        return {
            "platforms": len(self.platforms),
            "platforms_failed": sum(1 for p in self.platforms if not p.passed),
            "violations": sum(1 for f in every if f.status == "violation"),
            "suppressed": sum(1 for f in every if f.status == "suppressed"),
            "accepted": sum(1 for f in every if f.status == "accepted"),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA,
            "image": self.image,
            "registry": self.registry,
            "repository": self.repository,
            "digest": self.digest,
            "media_type": self.media_type,
            "evaluated_at": self.evaluated_at,
            "status": self.status,
            "passed": self.passed,
            "failures": self.failures,
            "baseline": self.baseline,
            "ledger": self.ledger,
            "counts": self.counts(),
            "platforms": [p.to_json() for p in self.platforms],
        }

    def document(self) -> bytes:
        """The canonical JSON bytes written as ``gate-report.json``; :func:`report_hash` hashes exactly these."""
        return canonical_json(self.to_json())


def canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def report_hash(document: bytes) -> str:
    """``sha256:<hex>`` of a report document (what the promotion's Asset event carries)."""
    return "sha256:" + hashlib.sha256(document).hexdigest()


# -- the task log ------------------------------------------------------------------------------------------------


def _short(digest: str) -> str:
    return digest[:19] if digest else "-"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return out


def log_table(gate: GateReport, top: int = 20) -> str:
    """A plain-text table for the task log: one row per platform and policy, then the top findings."""
    lines = [f"Policy gate of {gate.image} ({gate.digest}): {gate.status.upper()}"]
    rows = []
    for p in gate.platforms:
        for r in p.report.results:
            failed = "FAIL" if r.id in p.failures else ""
            rows.append([p.platform or "-", _short(p.digest), f"{MARKS.get(r.status, '?')} {r.id}", failed, r.message])
    lines += _table(["platform", "digest", "policy", "gate", "result"], rows)
    shown = [f for p in gate.platforms for f in p.all_findings() if f.status == "violation"][:top]
    if shown:
        lines.append(f"Findings failing or reported ({len(shown)} shown):")
        lines += _table(
            ["platform", "policy", "id", "package", "severity", "fix", "link"],
            [
                [f.platform or "-", f.policy, f.id, f.purl or "-", f.severity or "-", f.fix_version or "-", f.url or ""]
                for f in shown
            ],
        )
    quiet = [f for p in gate.platforms for f in p.all_findings() if f.status != "violation"]
    for f in quiet[:top]:
        until = f" until {f.expires}" if f.expires else ""
        who = f" by {f.accepted_by}" if f.accepted_by else ""
        lines.append(
            f"  {f.status}: {f.id} in {f.purl or '-'} ({f.source}{who}{until}: {f.reason or 'no reason given'})"
        )
    return "\n".join(lines)


# -- markdown ----------------------------------------------------------------------------------------------------


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(gate: GateReport) -> str:
    """A summary people read (a PR comment, a job summary): verdict, platforms, policies, findings with links."""
    icon = "✅" if gate.passed else "❌"
    out = [
        f"# {icon} Policy gate: {_md(gate.image)}",
        "",
        f"- Digest: `{gate.digest}` ({gate.media_type or 'unknown media type'})",
        f"- Result: **{gate.status.upper()}**" + (f", failing: {', '.join(gate.failures)}" if gate.failures else ""),
        f"- Evaluated at: {gate.evaluated_at}",
    ]
    if gate.baseline:
        out.append(f"- Baseline: `{_md(gate.baseline)}`")
    if gate.ledger:
        out.append(f"- Accepted-risk ledger: `{_md(gate.ledger)}`")
    out += ["", "## Platforms", "", "| Platform | Digest | Result | Policies met | Failing |", "|---|---|---|---|---|"]
    for p in gate.platforms:
        met = sum(1 for r in p.report.results if r.status == "compliant")
        out.append(
            f"| {_md(p.platform or '-')} | `{_short(p.digest)}` | {'passed' if p.passed else '**failed**'} | "
            f"{met}/{len(p.report.results)} | {_md(', '.join(p.failures) or '-')} |"
        )
    out += ["", "## Policies", "", "| Platform | Policy | Status | Result |", "|---|---|---|---|"]
    for p in gate.platforms:
        for r in p.report.results:
            out.append(
                f"| {_md(p.platform or '-')} | {_md(r.name)} (`{r.id}`) | {MARKS.get(r.status, '?')} "
                f"{r.status} | {_md(r.message)} |"
            )
    every = [f for p in gate.platforms for f in p.all_findings()]
    for kind, title in (("violation", "Findings"), ("suppressed", "Suppressed"), ("accepted", "Accepted risks")):
        chosen = [f for f in every if f.status == kind]
        if not chosen:
            continue
        out += ["", f"## {title} ({len(chosen)})", ""]
        if kind == "violation":
            out += ["| Platform | Policy | ID | Package | Severity | Fix version |", "|---|---|---|---|---|---|"]
        else:
            out += ["| Platform | Policy | ID | Package | Source | Reason | Until |", "|---|---|---|---|---|---|---|"]
        for f in chosen[:MAX_MARKDOWN_FINDINGS]:
            ident = f"[{_md(f.id)}]({f.url})" if f.url else _md(f.id)
            if kind == "violation":
                out.append(
                    f"| {_md(f.platform or '-')} | `{f.policy}` | {ident} | `{_md(f.purl or '-')}` | "
                    f"{_md(f.severity or '-')} | {_md(f.fix_version or '-')} |"
                )
            else:
                source = f"{f.source}" + (f" ({f.accepted_by})" if f.accepted_by else "")
                out.append(
                    f"| {_md(f.platform or '-')} | `{f.policy}` | {ident} | `{_md(f.purl or '-')}` | "
                    f"{_md(source)} | {_md(f.reason or '-')} | {_md(f.expires or '-')} |"
                )
        if len(chosen) > MAX_MARKDOWN_FINDINGS:
            out.append(f"\n… and {len(chosen) - MAX_MARKDOWN_FINDINGS} more (see the SARIF file).")
    return "\n".join(out) + "\n"


# -- SARIF -------------------------------------------------------------------------------------------------------


def _level(finding: Finding, failing: bool) -> str:
    if finding.status != "violation":
        return "note"
    return "error" if failing else "warning"


def sarif(gate: GateReport, tool_version: str = "") -> dict[str, Any]:
    """The gate as one SARIF 2.1.0 run: a rule per evaluated policy, a result per finding."""
    rules: dict[str, dict[str, Any]] = {}
    for p in gate.platforms:
        for r in p.report.results:
            rules.setdefault(
                r.id,
                {
                    "id": r.id,
                    "name": r.name,
                    "shortDescription": {"text": r.name},
                    "helpUri": TOOL_URI,
                    "properties": {"tags": ["docker-scout-policy"]},
                },
            )
    order = list(rules)
    results = []
    for p in gate.platforms:
        for f in p.all_findings():
            if f.policy not in rules:  # a record of a policy not evaluated: keep it, under its own rule
                rules[f.policy] = {"id": f.policy, "shortDescription": {"text": f.policy}, "helpUri": TOOL_URI}
                order.append(f.policy)
            text = f.detail or f"{f.id} in {f.purl or gate.image}"
            location = f"{gate.repository}@{p.digest}" + (f"#{f.purl}" if f.purl else "")
            result: dict[str, Any] = {
                "ruleId": f.policy,
                "ruleIndex": order.index(f.policy),
                "level": _level(f, f.policy in p.failures),
                "message": {
                    "text": text,
                    **({"markdown": f"[{f.id}]({f.url}) {text}"} if f.url else {}),
                },
                "locations": [
                    {
                        "logicalLocations": [
                            {"name": f.purl or p.digest, "fullyQualifiedName": location, "kind": "package"}
                        ]
                    }
                ],
                "partialFingerprints": {"findingIdentity/v1": "|".join(f.key())},
                "properties": {
                    k: v
                    for k, v in {
                        "id": f.id,
                        "helpUri": f.url,
                        "purl": f.purl,
                        "platform": p.platform,
                        "digest": p.digest,
                        "severity": f.severity,
                        "fixVersion": f.fix_version,
                    }.items()
                    if v
                },
            }
            if f.status != "violation":
                suppression: dict[str, Any] = {
                    "kind": "external",
                    "status": "accepted",
                    "properties": {
                        k: v
                        for k, v in {"source": f.source, "expires": f.expires, "acceptedBy": f.accepted_by}.items()
                        if v
                    },
                }
                if f.reason:
                    suppression["justification"] = f.reason
                result["suppressions"] = [suppression]
            results.append(result)
    driver: dict[str, Any] = {"name": TOOL_NAME, "informationUri": TOOL_URI, "rules": [rules[i] for i in order]}
    if tool_version:
        driver["version"] = tool_version
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "results": results,
        "properties": {
            "image": gate.image,
            "digest": gate.digest,
            "status": gate.status,
            "platforms": {p.platform or "-": p.digest for p in gate.platforms},
        },
        "invocations": [{"executionSuccessful": True, "endTimeUtc": gate.evaluated_at}] if gate.evaluated_at else [],
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


# -- XCom --------------------------------------------------------------------------------------------------------


def xcom_summary(gate: GateReport, *, report_hash_value: str, paths: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The gate's XCom value: JSON primitives only, small whatever the number of findings."""
    return {
        "image": gate.image,
        "registry": gate.registry,
        "repository": gate.repository,
        "digest": gate.digest,
        "media_type": gate.media_type,
        "status": gate.status,
        "passed": gate.passed,
        "failures": gate.failures,
        "baseline": gate.baseline,
        "platforms": {
            (p.platform or "-"): {
                "digest": p.digest,
                "status": "passed" if p.passed else "failed",
                "failures": list(p.failures),
            }
            for p in gate.platforms
        },
        "counts": gate.counts(),
        "reports": dict(paths or {}),
        "report_hash": report_hash_value,
        # Per policy, the status only (the evidence is in the report files), for quick looks and old readers.
        "report": {
            "results": [
                {"id": r.id, "status": r.status, "violation_count": len(r.violations), "platform": p.platform}
                for p in gate.platforms
                for r in p.report.results
            ]
        },
    }


# -- drift -------------------------------------------------------------------------------------------------------


def drift(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What changed between two gate reports of the same digest (``to_json`` documents): findings that are new
    (a CVE published since the release), fixed (gone), and unchanged, by identity and platform."""

    def keyed(doc: Mapping[str, Any]) -> dict[tuple[str | None, str, str, str], Finding]:
        out = {}
        for platform in doc.get("platforms") or []:
            for data in platform.get("findings") or []:
                f = Finding.from_json(data)
                if f.status == "violation":
                    out[(platform.get("platform"), *f.key())] = f
        return out

    old, new = keyed(before), keyed(after)
    added = [new[k].to_json() for k in sorted(set(new) - set(old), key=str)]
    gone = [old[k].to_json() for k in sorted(set(old) - set(new), key=str)]
    return {
        "digest": after.get("digest"),
        "before": before.get("evaluated_at"),
        "after": after.get("evaluated_at"),
        "status_before": before.get("status"),
        "status_after": after.get("status"),
        "new": added,
        "fixed": gone,
        "unchanged": len(set(new) & set(old)),
        "drifted": bool(added) or before.get("status") != after.get("status"),
    }
