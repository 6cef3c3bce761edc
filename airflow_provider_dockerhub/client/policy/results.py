"""The shapes every rule shares: a policy's result, the policy itself (ID, name, defaults, check) and the
per-evaluation context (clock and suppressions). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from ..core.errors import InvalidInputError
from .evidence import SEVERITIES, ImageEvidence, Suppression
from .suppress import AllowListEntry, Suppressions

Status = Literal["compliant", "non_compliant", "unknown"]


@dataclass
class PolicyResult:
    """One policy's verdict on one image.

    ``id``/``name``: the policy (``--policy-config`` ID, display name). ``status``: ``compliant``,
    ``non_compliant`` or ``unknown`` (no data: never a pass). ``violations``: what makes it non-compliant, one
    dict per finding (``id`` CVE or licence or fact, ``package`` purl, ``severity``, ``fixed_by``, ``url``...).
    ``suppressed``: findings not counted, each with ``suppression`` (source, reason, expires). ``message``: one
    line for people. ``settings``: the configuration used (e.g. the licence list checked).
    """

    id: str
    name: str
    status: Status
    violations: list[dict[str, Any]] = field(default_factory=list)
    suppressed: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "violation_count": len(self.violations)}


class EvaluationContext(Suppressions):
    """Per-evaluation state: the clock, the allow-list and the VEX suppressions."""

    def __init__(self, now: datetime, entries: Sequence[AllowListEntry], vex: Iterable[Suppression] = ()) -> None:
        super().__init__(now, entries, vex)


Outcome = tuple[Status, list[dict[str, Any]], list[dict[str, Any]], str]
Check = Callable[[ImageEvidence, dict[str, Any], EvaluationContext], Outcome]


@dataclass(frozen=True)
class Policy:
    """A policy: its ``--policy-config`` ID, display name, default settings, check, the allowed values of its
    list settings (``choices``) and the settings that may be ``None`` (``nullable``: "Docker's own list")."""

    id: str
    name: str
    defaults: Mapping[str, Any]
    check: Check
    choices: Mapping[str, Sequence[str]] = field(default_factory=dict)
    nullable: frozenset[str] = frozenset()

    def evaluate(self, evidence: ImageEvidence, settings: dict[str, Any], ctx: EvaluationContext) -> PolicyResult:
        status, violations, suppressed, message = self.check(evidence, settings, ctx)
        return PolicyResult(self.id, self.name, status, violations, suppressed, message, dict(settings))

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
            if value is None and key in self.nullable:
                settings[key] = None
                continue
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


def why(evidence: ImageEvidence, key: str) -> str:
    return str(evidence.sources.get(key) or "").removeprefix("unknown: ")


def no_data(what: str, evidence: ImageEvidence, key: str) -> Outcome:
    source = why(evidence, key)
    return "unknown", [], [], f"no data: {what}" + (f" ({source})" if source else "")


def by_importance(item: Mapping[str, Any]) -> tuple[int, float, str, str]:
    rank = SEVERITIES.index(item["severity"]) if item.get("severity") in SEVERITIES else len(SEVERITIES)
    return rank, -(item.get("cvss_score") or 0.0), str(item.get("id")), str(item.get("package"))


def counted(violations: list[Any], suppressed: list[Any], what: str) -> Outcome:
    violations.sort(key=by_importance)
    suppressed.sort(key=by_importance)
    if len(violations) == 1:
        what = what.replace("vulnerabilities", "vulnerability").replace("packages", "package")
    message = f"{len(violations) or 'no'} {what}" + (f", {len(suppressed)} suppressed" if suppressed else "")
    expired = sum(1 for v in violations if "expired_suppressions" in v)
    if expired:
        message += f" ({expired} no longer suppressed: suppression expired)"
    return ("non_compliant" if violations else "compliant"), violations, suppressed, message
