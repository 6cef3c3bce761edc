"""What is known about one image, as the policy rules read it: vulnerabilities, packages and the facts of its
config and attestations, gathered by the adapters (``from_registry``, ``from_scout``). ``None`` means "could not
tell", which is never "absent"."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNSPECIFIED")
# Scanners disagree on names: GHSA says "moderate" where CVSS says "medium".
_SEVERITY_ALIASES = {"MODERATE": "MEDIUM"}


@dataclass(frozen=True)
class Vulnerability:
    id: str
    severity: str
    cvss_score: float | None
    package: str
    fixed_by: str | None = None
    published_at: datetime | None = None
    cisa_exploited: bool = False
    excepted: bool = False


@dataclass(frozen=True)
class Package:
    purl: str
    name: str
    version: str
    type: str
    licenses: tuple[str, ...] = ()


@dataclass
class ImageEvidence:
    """What is known about one platform image. ``None`` means "could not tell", which is not "absent"."""

    reference: str
    digest: str
    platform: str | None = None
    vulnerabilities: list[Vulnerability] | None = None
    packages: list[Package] | None = None
    sbom: bool | None = None
    provenance: bool | None = None
    user: str | None = None
    config_known: bool = False
    sources: dict[str, str] = field(default_factory=dict)


def severity_of(value: object) -> str:
    text = str(value or "").strip().upper()
    text = _SEVERITY_ALIASES.get(text, text)
    return text if text in SEVERITIES else "UNSPECIFIED"


def purl_type(purl: str) -> str:
    """``pkg:deb/debian/openssl@3.0`` -> ``deb`` (purl types are case-insensitive, canonically lower case)."""
    text = str(purl)
    return text[4:].lstrip("/").split("/", 1)[0].lower() if text.lower().startswith("pkg:") else ""
