"""Docker Scout's built-in policies as rules: their IDs, config keys and defaults (``docker scout policy``, CLI
v1.23+, docker/docs ``scout/policy/local.md``), and one check per policy over :class:`ImageEvidence`, following
the policy definitions of docker/docs ``scout/policy/_index.md`` (quoted, with the choices made where Docker
says nothing, in docs/scout-policies.md). Pure: no I/O.

A result is ``compliant``, ``non_compliant`` or ``unknown``; missing data is ``unknown``, never a pass. The
checks live in ``vulnerability_rules``, ``license_rules`` and ``image_rules``; this module is the catalogue.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import InvalidInputError
from .evidence import SEVERITIES, ImageEvidence
from .image_rules import (
    ATTESTATION_CHOICES,
    ATTESTATIONS,
    check_approved_base,
    check_attestations,
    check_non_root,
    check_outdated_base,
    is_root_user,
    pattern_matches,
)
from .license_rules import AGPL_LICENSES, COPYLEFT_LICENSES, check_licenses, license_ids, normal_id
from .results import EvaluationContext, Outcome, Policy, PolicyResult, Status
from .suppress import AllowListEntry, aware
from .vulnerability_rules import HIGH_PROFILE_ALIASES, HIGH_PROFILE_CVES, check_fixable, check_high_profile

__all__ = [
    "AGPL_LICENSES",
    "ATTESTATIONS",
    "COPYLEFT_LICENSES",
    "DEFAULT_POLICIES",
    "HIGH_PROFILE_ALIASES",
    "HIGH_PROFILE_CVES",
    "POLICIES",
    "AllowListEntry",
    "EvaluationContext",
    "Policy",
    "PolicyResult",
    "Status",
    "aware",
    "is_root_user",
    "license_ids",
    "normal_id",
    "pattern_matches",
    "policy_named",
]


def _copyleft(evidence: ImageEvidence, cfg: dict[str, Any], ctx: EvaluationContext) -> Outcome:
    status, violations, suppressed, message = check_licenses(evidence, cfg, ctx)
    return status, violations, suppressed, message.replace("banned licenses", "copyleft licenses")


def _agpl(evidence: ImageEvidence, cfg: dict[str, Any], ctx: EvaluationContext) -> Outcome:
    status, violations, suppressed, message = check_licenses(evidence, cfg, ctx)
    return status, violations, suppressed, message.replace("banned licenses", "AGPL v3 licenses")


POLICIES: dict[str, Policy] = {
    p.id: p
    for p in (
        Policy(
            "fixable-vulnerabilities",
            "No fixable critical or high vulnerabilities",
            {"severities": ["CRITICAL", "HIGH"], "fixable_only": True, "package_types": [], "grace_period_days": 0},
            check_fixable,
            {"severities": SEVERITIES},
        ),
        Policy(
            "high-profile-vulnerabilities",
            "No high-profile vulnerabilities",
            {"cves": list(HIGH_PROFILE_CVES), "ignored_cves": [], "include_cisa_kev": True},
            check_high_profile,
        ),
        Policy(
            "copyleft-license",
            "No copyleft licenses",
            {"licenses": list(COPYLEFT_LICENSES), "ignored_packages": []},
            _copyleft,
        ),
        Policy(
            "no-stale-base-images",
            "No outdated base images",
            {},
            check_outdated_base,
        ),
        Policy(
            "supply-chain-attestations",
            "Supply chain attestations",
            {"required_attestations": list(ATTESTATIONS)},
            check_attestations,
            {"required_attestations": ATTESTATION_CHOICES},
        ),
        Policy("default-non-root-user", "Default non-root user", {}, check_non_root),
        Policy(
            "approved-base-images",
            "No unapproved base images",
            {"allowed_base_images": ["*"], "allowed_distros_only": True, "allowed_distros": None},
            check_approved_base,
            nullable=frozenset({"allowed_distros"}),
        ),
        Policy(
            "agpl-v3-licenses",
            "No AGPL v3 licenses",
            {"licenses": list(AGPL_LICENSES), "ignored_packages": []},
            _agpl,
        ),
    )
}
# The CLI's built-in set (docker/docs scout/policy/local.md, "Built-in policies"), evaluated when no policies are
# named. "No AGPL v3 licenses" is the dashboard's default policy, which the CLI's "No copyleft licenses" covers.
DEFAULT_POLICIES = tuple(pid for pid in POLICIES if pid != "agpl-v3-licenses")


def policy_named(name: str) -> Policy:
    """By ID, or by display name (what Scout's own results carry), case-insensitively."""
    wanted = str(name).strip().casefold()
    for policy in POLICIES.values():
        if wanted in (policy.id, policy.name.casefold()):
            return policy
    raise InvalidInputError(f"unknown policy {name!r}; known: {sorted(POLICIES)}")
