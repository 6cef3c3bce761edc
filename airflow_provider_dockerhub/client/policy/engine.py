"""The policy evaluation entry points: check the arguments (:func:`prepare`), evaluate the rules against evidence
(:func:`evaluate`), and the report a gate decides on (:class:`PolicyReport`, baseline comparison). No I/O.

Policy IDs, config keys and defaults are those of ``docker scout policy`` (CLI v1.23+, which evaluates locally too);
the rules are in ``rules.py``, the evidence they read in ``evidence.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from .evidence import ImageEvidence
from .rules import POLICIES, AllowListEntry, EvaluationContext, PolicyResult, Status, aware, policy_named

MARKS = {"compliant": "✓", "non_compliant": "✗", "unknown": "?"}


@dataclass
class PolicyReport:
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

    def passed(self, unknown_ok: bool = False) -> bool:
        return not self.failures(unknown_ok=unknown_ok)

    def failures(self, baseline: PolicyReport | Mapping[str, Any] | None = None, unknown_ok: bool = False) -> list[str]:
        """The policy IDs that fail a gate: non-compliant ones (only those worse than ``baseline`` when one is
        given: ``worse_only``), plus unknown ones unless ``unknown_ok``, since "no data" proves nothing."""
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
        for entry in self.expired_allow_list:
            lines.append(f"Allow-list entry {entry['id']} expired on {entry['expires']}: it no longer suppresses")
        return "\n".join(lines)


def compare(report: PolicyReport, baseline: PolicyReport | Mapping[str, Any]) -> list[str]:
    """The policy IDs that got worse than ``baseline``: now non-compliant where the baseline was compliant or
    unknown (or did not evaluate that policy), or more violations than the baseline had. Better or equal is fine."""
    base = baseline if isinstance(baseline, PolicyReport) else PolicyReport.from_json(baseline)
    worse = []
    for result in report.results:
        if result.status != "non_compliant":
            continue
        before = base.result(result.id)
        if before is None or before.status != "non_compliant" or len(result.violations) > len(before.violations):
            worse.append(result.id)
    return worse


# -- policies -------------------------------------------------------------------------------------------------


def _status(value: object) -> Status:
    text = str(value).lower().replace("-", "_")
    text = "non_compliant" if text == "noncompliant" else text
    return cast("Status", text) if text in MARKS else "unknown"


def prepare(
    policies: Sequence[str] | str | None = None,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    allow_list: Iterable[AllowListEntry | str | Mapping[str, Any]] = (),
) -> tuple[list[str], dict[str, dict[str, Any]], list[AllowListEntry]]:
    """Check and normalise ``evaluate``'s arguments without any evidence, so a gate can refuse bad arguments
    before it sends a request: (selected policy IDs, settings per policy, allow-list entries)."""
    if isinstance(policies, str):  # a templated operator param: "a,b"
        policies = [p for p in policies.split(",") if p.strip()]
    selected = list(dict.fromkeys(policy_named(p).id for p in (POLICIES if policies is None else policies)))
    # All config is checked (a typo must not pass), also for policies not selected: the CLI accepts a shared
    # --policy-config next to --only-policy.
    given = {policy_named(k).id: v for k, v in (config or {}).items()}
    settings = {pid: policy.settings(given.get(pid) or {}) for pid, policy in POLICIES.items()}
    entries = [AllowListEntry.parse(e) for e in allow_list]
    return selected, settings, entries


def evaluate(
    evidence: ImageEvidence,
    policies: Sequence[str] | None = None,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    allow_list: Iterable[AllowListEntry | str | Mapping[str, Any]] = (),
    now: datetime | None = None,
) -> PolicyReport:
    """Evaluate ``policies`` (default: all five built-ins) against ``evidence``.

    ``config`` maps a policy ID to its settings (the CLI's ``--policy-config`` keys); ``allow_list`` suppresses
    vulnerability IDs until their expiry; ``now`` fixes the clock (expiries, grace periods).
    """
    selected, settings, entries = prepare(policies, config, allow_list)
    moment = aware(now) if now is not None else datetime.now(UTC)
    ctx = EvaluationContext(moment, entries)
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
