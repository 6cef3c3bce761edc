"""The image policies: "Supply chain attestations", "Default non-root user", "No outdated base images" and "No
unapproved base images", as docker/docs defines them (quoted in docs/scout-policies.md). Pure: no I/O."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .evidence import BaseImage, ImageEvidence
from .results import EvaluationContext, Outcome, no_data, why

ATTESTATIONS = ("sbom", "provenance")
# The CLI's required_attestations takes "provenance and SBOM predicate types"; the short names are ours.
ATTESTATION_PREDICATES = {
    "https://spdx.dev/Document": "sbom",
    "https://cyclonedx.org/bom": "sbom",
    "https://scout.docker.com/sbom/v0.1": "sbom",
    "https://slsa.dev/provenance/v0.2": "provenance",
    "https://slsa.dev/provenance/v1": "provenance",
    "https://scout.docker.com/provenance/v0.1": "provenance",
}
ATTESTATION_CHOICES = (*ATTESTATIONS, *ATTESTATION_PREDICATES)


def attestation_kind(name: str) -> str:
    text = name.strip()
    return ATTESTATION_PREDICATES.get(text) or next(
        (kind for prefix, kind in ATTESTATION_PREDICATES.items() if text.casefold() == prefix.casefold()),
        text.lower(),
    )


def check_attestations(evidence: ImageEvidence, cfg: dict[str, Any], ctx: EvaluationContext) -> Outcome:
    """Docker: non-compliant "if an artifact lacks either an SBOM attestation or a provenance attestation with
    max mode". Min-mode, empty (``{}``) or non-BuildKit provenance is not max mode: non-compliant. An SBOM that
    lists no packages, or that could not be read, proves nothing: unknown (fails the gate unless unknown_ok)."""
    wanted = list(dict.fromkeys(attestation_kind(a) for a in cfg["required_attestations"]))
    violations: list[dict[str, Any]] = []
    unknown: list[str] = []
    for kind in wanted:
        present = evidence.sbom if kind == "sbom" else evidence.provenance
        if present is False:
            violations.append({"id": kind, "attestation": kind, "detail": f"no {kind} attestation found"})
        elif present is None:
            unknown.append(f"{kind}: {why(evidence, kind) or 'not determined'}")
        elif kind == "sbom" and evidence.sbom_packages == 0:
            unknown.append("sbom: the SBOM attestation lists no packages (an empty SBOM proves nothing)")
        elif kind == "provenance" and evidence.provenance_mode != "max":
            mode = evidence.provenance_mode
            if mode is None:
                unknown.append("provenance: its mode (BuildKit min or max) could not be determined")
            else:
                text = {"min": "min mode", "empty": "an empty predicate", "other": "not BuildKit provenance"}
                detail = f"provenance is {text.get(mode, mode)}; Docker requires max mode (--provenance=mode=max)"
                violations.append({"id": kind, "attestation": kind, "mode": mode, "detail": detail})
    if violations:  # a proven shortfall decides, whatever else is unknown
        return "non_compliant", violations, [], "; ".join(v["detail"] for v in violations)
    if unknown:
        return "unknown", [], [], "no data: " + "; ".join(unknown)
    mode = " (max-mode provenance)" if "provenance" in wanted else ""
    return "compliant", [], [], f"present: {', '.join(wanted) or 'none required'}{mode}"


def is_root_user(user: str | None) -> bool:
    """An empty User means root; so do ``root``/``0`` with any group (``0:0``, ``root:wheel``). ``1000:0`` does
    not: the policy is about the user, and OpenShift-style images run as group 0 by design."""
    name = (user or "").strip().split(":", 1)[0].strip()
    return name in ("", "root") or (name.isascii() and name.isdigit() and int(name) == 0)


def check_non_root(evidence: ImageEvidence, cfg: dict[str, Any], ctx: EvaluationContext) -> Outcome:
    if not evidence.config_known:
        return no_data("image config not read", evidence, "config")
    user = (evidence.user or "").strip()
    if is_root_user(user):
        # Docker: results "show whether or not the root user was set explicitly".
        explicit = bool(user)
        shown = user if explicit else "(none: defaults to root)"
        item = {"id": "root-user", "user": user, "explicit": explicit, "detail": f"default user is {shown}"}
        return "non_compliant", [item], [], f"runs as root: {shown}" + (" (set explicitly)" if explicit else "")
    return "compliant", [], [], f"runs as {user}"


def _base_item(base: BaseImage, detail: str, **extra: Any) -> dict[str, Any]:
    purl = f"pkg:docker/{base.name}" + (f"@{base.tag}" if base.tag else "")
    return {"id": base.reference, "package": purl, **base.to_json(), **extra, "detail": detail}


def _no_base_data(evidence: ImageEvidence) -> Outcome:
    return no_data("base image unknown (Docker needs provenance attestations to tell)", evidence, "base_images")


def check_outdated_base(evidence: ImageEvidence, cfg: dict[str, Any], ctx: EvaluationContext) -> Outcome:
    """Docker: violated "when the tag you used to build your image points to a different digest than what
    you're using"; no data when "Docker Scout doesn't know what base image tag you used"."""
    if evidence.base_images is None:
        return _no_base_data(evidence)
    if not evidence.base_images:
        return "compliant", [], [], "no base image (built FROM scratch)"
    violations = []
    unknown = []
    for base in evidence.base_images:
        if base.current is False:
            now = f" (the tag now points to {base.current_digest})" if base.current_digest else ""
            violations.append(_base_item(base, f"{base.reference} is outdated: built from {base.digest}{now}"))
        elif base.current is None:
            unknown.append(f"{base.reference}: {base.why or 'tag not determined'}")
    if violations:
        return "non_compliant", violations, [], f"{len(violations)} outdated base image(s)"
    if unknown:
        return "unknown", [], [], "no data: " + "; ".join(unknown)
    return "compliant", [], [], "up to date: " + ", ".join(b.reference for b in evidence.base_images)


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    """Docker: "An asterisk (*) matches up until the character that follows, or until the end of the image
    reference." So ``*`` followed by ``c`` is ``[^c]*``, and a trailing ``*`` is ``.*``; the rest is literal and
    the whole reference must match."""
    parts = []
    for i, char in enumerate(pattern):
        if char != "*":
            parts.append(re.escape(char))
        elif i + 1 < len(pattern) and pattern[i + 1] != "*":
            parts.append(f"[^{re.escape(pattern[i + 1])}]*")
        else:
            parts.append(".*")
    return re.compile("".join(parts))


def pattern_matches(pattern: str, reference: str) -> bool:
    return _pattern(pattern.strip()).fullmatch(reference) is not None


def check_approved_base(evidence: ImageEvidence, cfg: dict[str, Any], ctx: EvaluationContext) -> Outcome:
    """Docker: "checks whether the base images used in your builds match any of the patterns specified";
    with "Only supported OS distributions" on (the default), "may ... report no data if the operating system
    version cannot be determined". Docker's curated distribution list is not published: unless
    ``allowed_distros`` is given, that option leaves the policy unknown for an image that has a base image."""
    if evidence.base_images is None:
        return _no_base_data(evidence)
    if not evidence.base_images:
        return "compliant", [], [], "no base image (built FROM scratch)"
    patterns = [p for p in cfg["allowed_base_images"] if p.strip()]
    violations = []
    for base in evidence.base_images:
        if not any(pattern_matches(p, base.reference) for p in patterns):
            violations.append(_base_item(base, f"{base.reference} matches none of {patterns}"))
    if cfg["allowed_distros_only"]:
        allowed = cfg["allowed_distros"]
        distro = evidence.distro
        if distro is not None and allowed is not None and not any(pattern_matches(p, distro) for p in allowed):
            base = evidence.base_images[0]
            violations.append(_base_item(base, f"OS distribution {distro} is not among {allowed}", distro=distro))
    if violations:
        return "non_compliant", violations, [], f"{len(violations)} unapproved base image(s)"
    if cfg["allowed_distros_only"]:
        if cfg["allowed_distros"] is None:
            reason = "allowed_distros_only needs Docker's curated distribution list, which is not published"
            return "unknown", [], [], f"no data: {reason}; set allowed_distros or allowed_distros_only=false"
        if evidence.distro is None:
            return "unknown", [], [], "no data: the OS distribution could not be determined from the SBOM"
    return "compliant", [], [], "approved: " + ", ".join(b.reference for b in evidence.base_images)
