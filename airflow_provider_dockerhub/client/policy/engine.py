"""The policy evaluation entry points: check the arguments (:func:`prepare`), evaluate the rules against evidence
(:func:`evaluate`), and the report a gate decides on (:class:`PolicyReport`, baseline comparison by identity).
No I/O.

Policy IDs, config keys and defaults are those of ``docker scout policy`` (CLI v1.23+, which evaluates locally
too); the rules are in ``rules.py``, the evidence they read in ``evidence.py``, findings and baselines in
``findings.py``, suppressions in ``suppress.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from ..core.timeparse import parse_timestamp
from .config import parse_policy_config
from .evidence import ImageEvidence
from .findings import (
    AcceptedRisk,
    BaselineDiff,
    Finding,
    diff_accepted,
    diff_findings,
    findings_of,
    is_accepted_risk_record,
)
from .rules import (
    DEFAULT_POLICIES,
    POLICIES,
    AllowListEntry,
    EvaluationContext,
    PolicyResult,
    Status,
    aware,
    policy_named,
)

MARKS = {"compliant": "✓", "non_compliant": "✗", "unknown": "?"}


@dataclass
class PolicyReport:
    """Every selected policy's result for one platform image.

    ``reference``/``digest``/``platform``: the image evaluated. ``results``: one :class:`PolicyResult` per
    policy. ``evaluated_at``: the clock used (expiries, grace periods). ``sources``: where each fact came from
    (``unknown: why`` when it could not be told). ``expired_allow_list``: allow-list entries past their expiry.
    ``findings()`` lists every violation and suppression by identity; ``diff()`` compares with a baseline.
    """

    reference: str
    digest: str
    platform: str | None
    results: list[PolicyResult]
    evaluated_at: str = ""
    sources: dict[str, str] = field(default_factory=dict)
    expired_allow_list: list[dict[str, Any]] = field(default_factory=list)

    def result(self, policy_id: str) -> PolicyResult | None:
        return next((r for r in self.results if r.id == policy_id), None)

    def ids(self, status: Status) -> list[str]:
        return [r.id for r in self.results if r.status == status]

    @property
    def status(self) -> Status:
        statuses = {r.status for r in self.results}
        return "non_compliant" if "non_compliant" in statuses else "unknown" if "unknown" in statuses else "compliant"

    def findings(self) -> list[Finding]:
        """Every violation and every suppressed finding, with its identity (policy, ID, package purl)."""
        out = []
        for r in self.results:
            out += findings_of(r.id, r.violations, "violation") + findings_of(r.id, r.suppressed, "suppressed")
        return out

    def violations(self) -> list[Finding]:
        return [f for f in self.findings() if f.status == "violation"]

    def suppressions(self) -> list[Finding]:
        """The suppressed findings: each says by what (scout-exception, vex, allow-list...), why, until when."""
        return [f for f in self.findings() if f.status == "suppressed"]

    def diff(self, baseline: PolicyReport | Mapping[str, Any] | Sequence[Any]) -> BaselineDiff:
        """New / still accepted / fixed against another image's report (or its ``to_json``) or an accepted-risk
        record (``{"accepted": [...]}`` or a list of :class:`AcceptedRisk`)."""
        if is_accepted_risk_record(baseline):
            entries = baseline["accepted"] if isinstance(baseline, Mapping) else baseline
            risks = [AcceptedRisk.parse(e) for e in cast("Iterable[Any]", entries)]
            return diff_accepted(self.violations(), risks, self._now())
        base = (
            baseline
            if isinstance(baseline, PolicyReport)
            else PolicyReport.from_json(cast("Mapping[str, Any]", baseline))
        )
        return diff_findings(self.violations(), base.violations())

    def _now(self) -> datetime:
        return parse_timestamp(self.evaluated_at, assume_utc=True) or datetime.now(UTC)

    def passed(self, unknown_ok: bool = False) -> bool:
        return not self.failures(unknown_ok=unknown_ok)

    def failures(
        self, baseline: PolicyReport | Mapping[str, Any] | Sequence[Any] | None = None, unknown_ok: bool = False
    ) -> list[str]:
        """The policy IDs that fail a gate: non-compliant ones (with a baseline: only those with a finding the
        baseline does not accept), plus unknown ones unless ``unknown_ok``, since "no data" proves nothing."""
        failing = set(self.ids("non_compliant") if baseline is None else compare(self, baseline))
        if not unknown_ok:
            failing.update(self.ids("unknown"))
        return [r.id for r in self.results if r.id in failing]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(status=self.status, passed=self.passed(), results=[r.to_json() for r in self.results])
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyReport:
        """Rebuild a report from :meth:`to_json` output (a baseline kept in XCom or a file)."""
        results = [
            PolicyResult(
                str(r["id"]),
                str(r.get("name") or r["id"]),
                _status(r.get("status")),
                list(r.get("violations") or []),
                list(r.get("suppressed") or []),
                str(r.get("message") or ""),
                dict(r.get("settings") or {}),
            )
            for r in data.get("results") or []
        ]
        return cls(
            str(data.get("reference") or ""),
            str(data.get("digest") or ""),
            data.get("platform"),
            results,
            str(data.get("evaluated_at") or ""),
            dict(data.get("sources") or {}),
            list(data.get("expired_allow_list") or []),
        )

    def summary(self, top: int = 10) -> str:
        met = len(self.ids("compliant"))
        verdict = "PASSED" if self.passed() else "FAILED"
        where = f"{self.reference} @ {self.digest[:19]}" + (f" ({self.platform})" if self.platform else "")
        lines = [
            f"Policy evaluation of {where}: {verdict} — {met}/{len(self.results)} policies met, "
            f"{len(self.ids('non_compliant'))} not met, {len(self.ids('unknown'))} no data"
        ]
        lines += [f"  {MARKS[r.status]} {r.name} [{r.id}]: {r.message}" for r in self.results]
        shown = [(r.id, v) for r in self.results for v in r.violations[:5]][:top]
        total = sum(len(r.violations) for r in self.results)
        if shown:
            lines.append(f"Top violations ({len(shown)} of {total}):")
            lines += [f"  - {pid}: {v.get('detail', v)}" for pid, v in shown]
        suppressed = self.suppressions()
        if suppressed:
            lines.append(f"Suppressed ({len(suppressed)}):")
            for f in suppressed[:top]:
                s = f.suppression or {}
                until = f", until {s['expires']}" if s.get("expires") else ""
                lines.append(
                    f"  - {f.policy}: {f.id} in {f.package or '-'} by {s.get('source')}: {s.get('reason')}{until}"
                )
        for r in self.results:
            if "licenses" in r.settings and r.status != "unknown":
                lines.append(f"Licences checked by {r.id}: {', '.join(r.settings['licenses'])}")
        for entry in self.expired_allow_list:
            lines.append(f"Allow-list entry {entry['id']} expired on {entry['expires']}: it no longer suppresses")
        return "\n".join(lines)


def compare(report: PolicyReport, baseline: PolicyReport | Mapping[str, Any] | Sequence[Any]) -> list[str]:
    """The policy IDs with a finding the baseline does not accept (by identity: policy, ID, package), in report
    order. Fewer or the same findings are fine; one swapped for another is not."""
    failing = set(report.diff(baseline).failing_policies)
    return [r.id for r in report.results if r.id in failing]


def _status(value: object) -> Status:
    text = str(value).lower().replace("-", "_")
    text = "non_compliant" if text == "noncompliant" else text
    return cast("Status", text) if text in MARKS else "unknown"


def prepare(
    policies: Sequence[str] | str | None = None,
    config: Mapping[str, Any] | str | None = None,
    allow_list: Iterable[AllowListEntry | str | Mapping[str, Any]] = (),
) -> tuple[list[str], dict[str, dict[str, Any]], list[AllowListEntry]]:
    """Check and normalise ``evaluate``'s arguments without any evidence, so a gate can refuse bad arguments
    before it sends a request: (selected policy IDs, settings per policy, allow-list entries).

    ``config`` is ``{policy ID: settings}`` or the Scout CLI's ``--policy-config`` file shape (its JSON text
    too); a policy the file disables is not selected."""
    if isinstance(policies, str):  # a templated operator param: "a,b"
        policies = [p for p in policies.split(",") if p.strip()]
    given, disabled = parse_policy_config(config)
    chosen = DEFAULT_POLICIES if policies is None else policies
    selected = [pid for pid in dict.fromkeys(policy_named(p).id for p in chosen) if pid not in disabled]
    # All config is checked (a typo must not pass), also for policies not selected: the CLI accepts a shared
    # --policy-config next to --only-policy.
    settings = {pid: policy.settings(given.get(pid) or {}) for pid, policy in POLICIES.items()}
    entries = [AllowListEntry.parse(e) for e in allow_list]
    return selected, settings, entries


def evaluate(
    evidence: ImageEvidence,
    policies: Sequence[str] | str | None = None,
    config: Mapping[str, Any] | str | None = None,
    allow_list: Iterable[AllowListEntry | str | Mapping[str, Any]] = (),
    now: datetime | None = None,
) -> PolicyReport:
    """Evaluate ``policies`` (default: the CLI's seven built-ins) against ``evidence``.

    ``config``: per-policy settings (the CLI's ``--policy-config`` keys, either shape); ``allow_list``
    suppresses vulnerability IDs until their expiry; VEX statements in the evidence and Scout's exceptions
    suppress too; ``now`` fixes the clock (expiries, grace periods).
    """
    selected, settings, entries = prepare(policies, config, allow_list)
    moment = aware(now) if now is not None else datetime.now(UTC)
    ctx = EvaluationContext(moment, entries, evidence.vex)
    results = [POLICIES[pid].evaluate(evidence, settings[pid], ctx) for pid in selected]
    expired = [e.to_json() for e in entries if not e.active(moment)]
    return PolicyReport(
        evidence.reference,
        evidence.digest,
        evidence.platform,
        results,
        moment.isoformat(),
        {str(k): str(v) for k, v in evidence.sources.items()},
        expired,
    )
