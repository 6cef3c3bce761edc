"""Turn what Scout knows of an image into the policy engine's evidence (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..core.timeparse import parse_timestamp
from ..scout.api import ScoutImage
from .evidence import BaseImage, ImageEvidence, Package, Suppression, Vulnerability, purl_type, severity_of
from .provenance import canonical_name


def _published(text: Any) -> datetime | None:
    return parse_timestamp(text)


def scout_exceptions(vuln: dict[str, Any]) -> tuple[Suppression, ...]:
    """Scout's ``PkVulnerabilityException`` records as suppressions: the reason is the exception's type (accepted
    risk, false positive), justification and details; Scout's schema has no expiry, so ``expires`` is ``None``."""
    found = []
    for exc in vuln.get("vulnerabilityExceptions") or []:
        if not isinstance(exc, dict):
            continue
        parts = [str(exc.get("type") or "").lower().replace("_", " ")]
        if exc.get("justification"):
            parts.append(str(exc["justification"]).lower())
        reason = ", ".join(p for p in parts if p)
        if exc.get("additionalDetails"):
            reason += f": {exc['additionalDetails']}"
        if exc.get("sourceType") == "VEX_STATEMENT":
            reason = f"VEX statement ({exc.get('status') or 'status not given'}) {reason}".strip()
        document = exc.get("documentUrl") or (f"scout exception {exc['id']}" if exc.get("id") else None)
        author = exc.get("author") or None
        found.append(
            Suppression("scout-exception", str(vuln.get("sourceId") or ""), reason, None, None, author, document)
        )
    return tuple(found)


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
                    url=str(vuln.get("url") or "") or None,
                    exceptions=scout_exceptions(vuln) if vuln.get("isExcepted") else (),
                )
            )
    return vulnerabilities, packages


def scout_base_images(details: dict[str, Any] | None) -> list[BaseImage] | None:
    """Scout's base image of an image (``ProviderBaseImage``): ``baseImageTag.current`` is exactly the
    outdated-base test ("the tag you used ... points to a different digest"). ``None`` when Scout has none."""
    base = (details or {}).get("baseImage")
    if not isinstance(base, dict):
        return None
    repository = base.get("repository") or {}
    host = str(repository.get("hostName") or "")
    repo = str(repository.get("repoName") or "")
    name = canonical_name(repo) if host in ("", "hub.docker.com", "docker.io") else f"{host}/{repo}"
    tag = (details or {}).get("baseImageTag")
    if not isinstance(tag, dict) or not tag.get("name"):
        return [BaseImage(name, None, base.get("digest"), None, None, "scout", "Scout does not know the tag used")]
    current = tag.get("current")
    current = current if isinstance(current, bool) else None
    return [BaseImage(name, str(tag["name"]), base.get("digest"), current, None, "scout", "")]


def merge_scout(
    evidence: ImageEvidence, image: ScoutImage | None, base_image: dict[str, Any] | None = None
) -> ImageEvidence:
    """Add Scout's vulnerabilities (and packages, which carry licences) to registry evidence, and Scout's base
    image (``base_image``: the ``ProviderBaseImage`` answer) where the registry could not tell.

    An image Scout has not indexed leaves vulnerabilities unknown: "not scanned" is never "no vulnerabilities".
    """
    scout_base = scout_base_images(base_image)
    if scout_base is not None and (
        evidence.base_images is None or any(b.current is None for b in evidence.base_images)
    ):
        evidence.base_images = scout_base
        evidence.sources["base_images"] = "scout: " + ", ".join(b.reference for b in scout_base)
    if image is None:
        evidence.sources["vulnerabilities"] = "unknown: Scout does not know this image"
        return evidence
    if not image.indexed:
        evidence.sources["vulnerabilities"] = f"unknown: Scout state {image.sbom_state}"
        return evidence
    vulnerabilities, packages = scout_packages(image)
    if not packages:
        # Scout never reports an image INDEXED without an SBOM; zero packages means it scanned nothing (e.g. a
        # platform manifest whose SBOM is attached to the index), and "nothing scanned" is not "no CVEs".
        evidence.sources["vulnerabilities"] = "unknown: Scout indexed the image but lists no packages"
        return evidence
    evidence.vulnerabilities = vulnerabilities
    evidence.sources["vulnerabilities"] = "scout"
    evidence.packages = packages
    evidence.sources["packages"] = "scout"
    return evidence
