"""What is known about one image, as the policy rules read it: vulnerabilities, packages and the facts of its
config and attestations, gathered by the adapters (``from_registry``, ``from_scout``). ``None`` means "could not
tell", which is never "absent"."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNSPECIFIED")
# Scanners disagree on names: GHSA says "moderate" where CVSS says "medium".
_SEVERITY_ALIASES = {"MODERATE": "MEDIUM"}
SUPPRESSION_SOURCES = ("scout-exception", "vex", "allow-list")


@dataclass(frozen=True)
class Suppression:
    """One reason not to count a vulnerability: where it comes from (``source``: ``scout-exception``, ``vex`` or
    ``allow-list``), the vulnerability ``id`` it names, why (``reason``), until when (``expires``: ISO date or
    instant, ``None`` = no expiry), and the package it is scoped to (``package``: a purl, ``None`` = any)."""

    source: str
    id: str
    reason: str = ""
    expires: str | None = None
    package: str | None = None
    author: str | None = None
    document: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"source": self.source, "reason": self.reason, "expires": self.expires}
        data.update({k: v for k, v in (("author", self.author), ("document", self.document)) if v})
        return data


@dataclass(frozen=True)
class Vulnerability:
    """One vulnerability of one package: its ID (CVE or GHSA...), other IDs it is known by (``aliases``),
    severity, CVSS score, the purl of the affected ``package``, the version that fixes it (``fixed_by``), when it
    was published, whether CISA lists it as exploited, its advisory ``url``, and Scout's exceptions for it
    (``excepted``: Scout suppresses it; ``exceptions``: why, when the details were fetched)."""

    id: str
    severity: str
    cvss_score: float | None
    package: str
    fixed_by: str | None = None
    published_at: datetime | None = None
    cisa_exploited: bool = False
    excepted: bool = False
    aliases: tuple[str, ...] = ()
    url: str | None = None
    exceptions: tuple[Suppression, ...] = ()

    def names(self) -> set[str]:
        """Every ID this vulnerability is known by, upper-cased (IDs compare case-insensitively)."""
        return {str(self.id).strip().upper()} | {str(n).strip().upper() for n in self.aliases if str(n).strip()}


@dataclass(frozen=True)
class Package:
    purl: str
    name: str
    version: str
    type: str
    licenses: tuple[str, ...] = ()


@dataclass(frozen=True)
class BaseImage:
    """A base image of the image: its reference as built from (``name``, canonical ``registry/repository``, and
    ``tag``), the ``digest`` the build used, and whether that tag still points there (``current``: ``True`` up
    to date, ``False`` outdated, ``None`` not determined, with the reason in ``why``)."""

    name: str
    tag: str | None
    digest: str | None
    current: bool | None = None
    current_digest: str | None = None
    source: str = ""
    why: str = ""

    @property
    def reference(self) -> str:
        """``docker.io/library/alpine:3.19`` (the form Docker's approved-base-image patterns match)."""
        if self.tag:
            return f"{self.name}:{self.tag}"
        return f"{self.name}@{self.digest}" if self.digest else self.name

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "digest": self.digest,
            "current": self.current,
            "current_digest": self.current_digest,
            "source": self.source,
            "why": self.why,
        }


@dataclass
class ImageEvidence:
    """What is known about one platform image. ``None`` means "could not tell", which is not "absent".

    ``sbom``/``provenance``: an attestation of that kind was found (``False``: proven absent). ``sbom_packages``:
    how many packages the readable SBOMs list (0 is an empty SBOM). ``provenance_mode``: ``max`` or ``min`` as
    BuildKit defines them (``None``: no readable provenance). ``base_images``: the base images the build used
    (``[]``: none, ``FROM scratch``; ``None``: not determined). ``vex``: suppressions from OpenVEX documents
    attached to the image. ``distro``: the OS distribution (``debian-12``) when an SBOM says so.
    """

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
    sbom_packages: int | None = None
    provenance_mode: str | None = None
    base_images: list[BaseImage] | None = None
    vex: list[Suppression] = field(default_factory=list)
    distro: str | None = None


def severity_of(value: object) -> str:
    text = str(value or "").strip().upper()
    text = _SEVERITY_ALIASES.get(text, text)
    return text if text in SEVERITIES else "UNSPECIFIED"


def purl_type(purl: str) -> str:
    """``pkg:deb/debian/openssl@3.0`` -> ``deb`` (purl types are case-insensitive, canonically lower case)."""
    text = str(purl)
    return text[4:].lstrip("/").split("/", 1)[0].lower() if text.lower().startswith("pkg:") else ""


def purl_identity(purl: str) -> str:
    """A package's identity across versions: ``pkg:deb/debian/openssl@3.0.11?arch=amd64`` -> ``pkg:deb/debian/
    openssl``. A rebuild that bumps a patch version but keeps an accepted CVE is the same risk, not a new one."""
    text = str(purl).strip()
    for cut in ("#", "?", "@"):
        text = text.split(cut, 1)[0]
    if text.lower().startswith("pkg:"):
        kind, _, rest = text[4:].lstrip("/").partition("/")
        return f"pkg:{kind.lower()}/{rest}"
    return text
