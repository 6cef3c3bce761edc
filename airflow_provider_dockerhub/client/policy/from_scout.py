"""Turn what Scout knows of an image into the policy engine's evidence (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..scout.api import ScoutImage
from .evidence import ImageEvidence, Package, Vulnerability, purl_type, severity_of


def _published(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def scout_packages(image: ScoutImage) -> tuple[list[Vulnerability], list[Package]]:
    vulnerabilities: list[Vulnerability] = []
    packages: list[Package] = []
    for pkg in image.packages:
        purl = str(pkg.get("purl") or "")
        packages.append(
            Package(
                purl,
                str(pkg.get("name") or ""),
                str(pkg.get("version") or ""),
                str(pkg.get("type") or purl_type(purl)),
                tuple(str(lic) for lic in pkg.get("licenses") or []),
            )
        )
        for vuln in pkg.get("vulnerabilities") or []:
            cvss = vuln.get("cvss") or {}
            score = cvss.get("score")
            vulnerabilities.append(
                Vulnerability(
                    id=str(vuln.get("sourceId") or ""),
                    severity=severity_of(cvss.get("severity")),
                    cvss_score=float(score) if isinstance(score, int | float) else None,
                    package=purl,
                    fixed_by=vuln.get("fixedBy") or None,
                    published_at=_published(vuln.get("publishedAt")),
                    cisa_exploited=bool(vuln.get("cisaExploited")),
                    excepted=bool(vuln.get("isExcepted")),
                )
            )
    return vulnerabilities, packages


def merge_scout(evidence: ImageEvidence, image: ScoutImage | None) -> ImageEvidence:
    """Add Scout's vulnerabilities (and packages, which carry licences) to registry evidence.

    An image Scout has not indexed leaves vulnerabilities unknown: "not scanned" is never "no vulnerabilities".
    """
    if image is None:
        evidence.sources["vulnerabilities"] = "unknown: Scout does not know this image"
        return evidence
    if not image.indexed:
        evidence.sources["vulnerabilities"] = f"unknown: Scout state {image.sbom_state}"
        return evidence
    vulnerabilities, packages = scout_packages(image)
    evidence.vulnerabilities = vulnerabilities
    evidence.sources["vulnerabilities"] = "scout"
    if packages or evidence.packages is None:
        evidence.packages = packages
        evidence.sources["packages"] = "scout"
    return evidence
