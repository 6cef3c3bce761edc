"""Test vectors for every built-in policy, each derived from a sentence of Docker's documentation (its ``source``
is that sentence, see ``docker_sources``) or marked as our choice where Docker says nothing. One table per policy:
the evidence, the configuration, Docker's result and the IDs the result must name."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_dockerhub.client.policy.engine import evaluate
from airflow_provider_dockerhub.client.policy.evidence import BaseImage, ImageEvidence, Package, Vulnerability

from . import docker_sources as src

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
OPENSSL = Vulnerability(
    "CVE-2023-5363", "HIGH", 7.5, "pkg:deb/debian/openssl@3.0.11-1", "3.0.13-1", datetime(2023, 10, 25)
)
ZLIB = Vulnerability("CVE-2023-45853", "CRITICAL", 9.8, "pkg:deb/debian/zlib@1.2.13", None, datetime(2023, 10, 14))
SETUPTOOLS = Vulnerability(
    "CVE-2022-40897", "MEDIUM", 5.9, "pkg:pypi/setuptools@65.5.0", "65.5.1", datetime(2022, 12, 23)
)
FRESH = Vulnerability(
    "CVE-2024-5535", "CRITICAL", 9.1, "pkg:deb/debian/openssl@3.0.11-1", "3.0.14-1", datetime(2024, 5, 30)
)
NPM = Vulnerability("GHSA-3h5v-q93c-6h6q", "HIGH", 7.5, "pkg:npm/ws@8.17.0", "8.17.1", datetime(2024, 5, 28))
LOG4SHELL = Vulnerability(
    "CVE-2021-44228", "CRITICAL", 10.0, "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", "2.15.0"
)
LOG4SHELL_GHSA = replace(LOG4SHELL, id="GHSA-jfh8-c2jp-5v3q")
LOG4SHELL_ALIASED = replace(LOG4SHELL, id="SNYK-JAVA-ORGAPACHELOGGINGLOG4J-2314720", aliases=("CVE-2021-44228",))
XZ = Vulnerability("CVE-2024-3094", "CRITICAL", 10.0, "pkg:deb/debian/xz-utils@5.6.0-0.2", None)
XZ_GHSA = replace(XZ, id="GHSA-rxwq-x6h5-x525")
GLIBC_KEV = Vulnerability(
    "CVE-2023-4911", "HIGH", 7.8, "pkg:deb/debian/glibc@2.36-9", "2.36-9+deb12u3", cisa_exploited=True
)
BASE = BaseImage("docker.io/library/alpine", "3.19", "sha256:" + "a" * 64, True, source="provenance")


def pkg(name: str, license_expression: str, purl: str | None = None) -> Package:
    return Package(purl or f"pkg:deb/debian/{name}@1.0", name, "1.0", "deb", (license_expression,))


def image(**changes: Any) -> ImageEvidence:
    """A compliant image: scanned, SBOM and max-mode provenance, non-root, one up-to-date base image."""
    base = ImageEvidence(
        reference="docker.io/acme/app:1.0",
        digest="sha256:" + "1" * 64,
        platform="linux/amd64",
        vulnerabilities=[],
        packages=[pkg("musl", "MIT")],
        sbom=True,
        provenance=True,
        user="10001",
        config_known=True,
        sbom_packages=1,
        provenance_mode="max",
        base_images=[BASE],
        distro="alpine-3.19",
    )
    return replace(base, **changes)


@dataclass(frozen=True)
class Vector:
    """One case: the evidence changed from :func:`image`, Docker's result, the IDs it names, the config, and the
    sentence of Docker's documentation (or our stated choice) it follows."""

    case: str
    evidence: dict[str, Any]
    expected: str
    ids: list[str] = field(default_factory=list)
    config: dict[str, Any] | None = None
    source: str = ""


def check(policy: str, v: Vector) -> None:
    report = evaluate(image(**v.evidence), [policy], {policy: v.config} if v.config else None, now=NOW)
    result = report.results[0]
    assert result.status == v.expected, f"{v.case}: {result.message} (source: {v.source})"
    assert [str(x["id"]) for x in result.violations] == v.ids, v.case


def v(case: str, evidence: dict[str, Any], expected: str, ids: list[str] | None = None, **kw: Any) -> Vector:
    return Vector(case, evidence, expected, ids or [], kw.get("config"), kw["source"])


FIXABLE = [
    v("fixable high", {"vulnerabilities": [OPENSSL]}, "non_compliant", ["CVE-2023-5363"], source=src.FIX_DEFINITION),
    v("critical without fix", {"vulnerabilities": [ZLIB]}, "compliant", source=src.FIX_FIXABLE),
    v("fixable medium", {"vulnerabilities": [SETUPTOOLS]}, "compliant", source=src.FIX_SEVERITIES),
    v(
        "medium counted when configured",
        {"vulnerabilities": [SETUPTOOLS]},
        "non_compliant",
        ["CVE-2022-40897"],
        config={"severities": ["MEDIUM"]},
        source=src.FIX_SEVERITIES,
    ),
    v(
        "unfixed counted with fixable_only false",
        {"vulnerabilities": [ZLIB]},
        "non_compliant",
        ["CVE-2023-45853"],
        config={"fixable_only": False},
        source=src.FIX_FIXABLE,
    ),
    v(
        "package types narrow",
        {"vulnerabilities": [OPENSSL, NPM]},
        "non_compliant",
        ["GHSA-3h5v-q93c-6h6q"],
        config={"package_types": ["npm"]},
        source=src.FIX_TYPES,
    ),
    v("no age by default", {"vulnerabilities": [FRESH]}, "non_compliant", ["CVE-2024-5535"], source=src.FIX_GRACE),
    v(
        "2-day-old CVE inside a 7-day age",
        {"vulnerabilities": [FRESH]},
        "compliant",
        config={"grace_period_days": 7},
        source=src.FIX_AGE,
    ),
    v(
        "old CVE outside the age",
        {"vulnerabilities": [OPENSSL, FRESH]},
        "non_compliant",
        ["CVE-2023-5363"],
        config={"grace_period_days": 7},
        source=src.FIX_AGE,
    ),
    v("not scanned", {"vulnerabilities": None}, "unknown", source=src.OURS_NOT_SCANNED),
]

HIGH_PROFILE = [
    v("Log4Shell", {"vulnerabilities": [LOG4SHELL]}, "non_compliant", ["CVE-2021-44228"], source=src.HP_LIST),
    v("xz backdoor, no fix", {"vulnerabilities": [XZ]}, "non_compliant", ["CVE-2024-3094"], source=src.HP_LIST),
    v(
        "Log4Shell as its GHSA",
        {"vulnerabilities": [LOG4SHELL_GHSA]},
        "non_compliant",
        ["GHSA-jfh8-c2jp-5v3q"],
        source=src.OURS_ALIASES,
    ),
    v(
        "xz as its GHSA",
        {"vulnerabilities": [XZ_GHSA]},
        "non_compliant",
        ["GHSA-rxwq-x6h5-x525"],
        source=src.OURS_ALIASES,
    ),
    v(
        "another ID with the CVE as alias",
        {"vulnerabilities": [LOG4SHELL_ALIASED]},
        "non_compliant",
        [LOG4SHELL_ALIASED.id],
        source=src.OURS_ALIASES,
    ),
    v("CISA KEV by default", {"vulnerabilities": [GLIBC_KEV]}, "non_compliant", ["CVE-2023-4911"], source=src.HP_KEV),
    v(
        "CISA KEV off",
        {"vulnerabilities": [GLIBC_KEV]},
        "compliant",
        config={"include_cisa_kev": False},
        source=src.HP_KEV,
    ),
    v("ordinary critical", {"vulnerabilities": [ZLIB]}, "compliant", source=src.HP_LIST),
    v(
        "ignored CVE",
        {"vulnerabilities": [XZ]},
        "compliant",
        config={"ignored_cves": ["CVE-2024-3094"]},
        source=src.HP_IGNORED,
    ),
    v(
        "ignoring the CVE ignores its GHSA",
        {"vulnerabilities": [LOG4SHELL_GHSA]},
        "compliant",
        config={"ignored_cves": ["CVE-2021-44228"]},
        source=src.HP_IGNORED,
    ),
    v(
        "own list",
        {"vulnerabilities": [ZLIB, XZ]},
        "non_compliant",
        ["CVE-2023-45853"],
        config={"cves": ["CVE-2023-45853"], "include_cisa_kev": False},
        source=src.HP_CVES,
    ),
]

COPYLEFT = [
    v(
        "GPL-2.0-only",
        {"packages": [pkg("busybox", "GPL-2.0-only")]},
        "non_compliant",
        ["GPL-2.0-only"],
        source=src.COPYLEFT,
    ),
    v(
        "LGPL-2.1-or-later",
        {"packages": [pkg("glibc", "LGPL-2.1-or-later")]},
        "non_compliant",
        ["LGPL-2.1-or-later"],
        source=src.COPYLEFT,
    ),
    v("MPL-2.0", {"packages": [pkg("nss", "MPL-2.0")]}, "non_compliant", ["MPL-2.0"], source=src.COPYLEFT),
    v(
        "AGPL-3.0-only",
        {"packages": [pkg("ghostscript", "AGPL-3.0-only")]},
        "non_compliant",
        ["AGPL-3.0-only"],
        source=src.COPYLEFT_LICENSES,
    ),
    v(
        "EPL-2.0 (a similar licence)",
        {"packages": [pkg("jetty", "EPL-2.0", "pkg:maven/org.eclipse.jetty/jetty@12")]},
        "non_compliant",
        ["EPL-2.0"],
        source=src.OURS_COPYLEFT,
    ),
    v("Debian's GPL-2+", {"packages": [pkg("bash", "GPL-2+")]}, "non_compliant", ["GPL-2+"], source=src.OURS_COPYLEFT),
    v(
        "deprecated GPL-3.0+",
        {"packages": [pkg("grep", "GPL-3.0+")]},
        "non_compliant",
        ["GPL-3.0+"],
        source=src.OURS_COPYLEFT,
    ),
    v(
        "MIT OR GPL-2.0-only (either may apply)",
        {"packages": [pkg("dual", "MIT OR GPL-2.0-only")]},
        "non_compliant",
        ["GPL-2.0-only"],
        source=src.OURS_COPYLEFT,
    ),
    v("permissive only", {"packages": [pkg("musl", "MIT"), pkg("zlib", "Zlib")]}, "compliant", source=src.COPYLEFT),
    v(
        "ignored package",
        {"packages": [pkg("busybox", "GPL-2.0-only")]},
        "compliant",
        config={"ignored_packages": ["pkg:deb/debian/busybox"]},
        source=src.COPYLEFT_IGNORED,
    ),
    v(
        "own list",
        {"packages": [pkg("busybox", "GPL-2.0-only"), pkg("nss", "MPL-2.0")]},
        "non_compliant",
        ["MPL-2.0"],
        config={"licenses": ["MPL-2.0"]},
        source=src.COPYLEFT_LICENSES,
    ),
    v("no SBOM", {"packages": None}, "unknown", source=src.OURS_EMPTY_SBOM),
    v("empty SBOM", {"packages": [], "sbom_packages": 0}, "unknown", source=src.OURS_EMPTY_SBOM),
]

AGPL = [
    v(
        "AGPL-3.0-or-later",
        {"packages": [pkg("ghostscript", "AGPL-3.0-or-later")]},
        "non_compliant",
        ["AGPL-3.0-or-later"],
        source=src.AGPL,
    ),
    v(
        "GPL is not AGPL",
        {"packages": [pkg("busybox", "GPL-2.0-only"), pkg("grep", "GPL-3.0-only")]},
        "compliant",
        source=src.AGPL,
    ),
    v("AGPL-1.0 is not v3", {"packages": [pkg("old", "AGPL-1.0-only")]}, "compliant", source=src.AGPL),
]

MIN = {"provenance_mode": "min"}
ATTESTATIONS = [
    v("SBOM and max-mode provenance", {}, "compliant", source=src.ATTESTATIONS),
    v("min-mode provenance", MIN, "non_compliant", ["provenance"], source=src.ATTESTATIONS),
    v("buildx's default mode is min", MIN, "non_compliant", ["provenance"], source=src.MIN_DEFAULT),
    v("empty {} predicate", {"provenance_mode": "empty"}, "non_compliant", ["provenance"], source=src.MAX_MODE),
    v("provenance not by BuildKit", {"provenance_mode": "other"}, "non_compliant", ["provenance"], source=src.MAX_MODE),
    v(
        "no provenance",
        {"provenance": False, "provenance_mode": None},
        "non_compliant",
        ["provenance"],
        source=src.ATTESTATIONS,
    ),
    v("no SBOM", {"sbom": False}, "non_compliant", ["sbom"], source=src.ATTESTATIONS),
    v("SBOM with zero packages", {"sbom_packages": 0}, "unknown", source=src.OURS_EMPTY_SBOM),
    v("unreadable SBOM", {"sbom": None}, "unknown", source=src.OURS_EMPTY_SBOM),
    v(
        "SBOM predicate type only",
        {"provenance": False},
        "compliant",
        config={"required_attestations": ["https://spdx.dev/Document"]},
        source=src.REQUIRED,
    ),
    v(
        "provenance predicate type, min mode",
        MIN,
        "non_compliant",
        ["provenance"],
        config={"required_attestations": ["https://slsa.dev/provenance/v0.2"]},
        source=src.REQUIRED,
    ),
]

NON_ROOT = [
    v("USER 10001", {}, "compliant", source=src.NON_ROOT),
    v("no USER: implicit root", {"user": ""}, "non_compliant", ["root-user"], source=src.NON_ROOT_EXPLICIT),
    v("USER root", {"user": "root"}, "non_compliant", ["root-user"], source=src.NON_ROOT_EXPLICIT),
    v("USER 0:0", {"user": "0:0"}, "non_compliant", ["root-user"], source=src.NON_ROOT),
    v("USER 1000:0 (group root only)", {"user": "1000:0"}, "compliant", source=src.NON_ROOT_CONFIG),
    v("config unread", {"config_known": False, "user": None}, "unknown", source=src.NON_ROOT_CONFIG),
]

OUTDATED_BASE = replace(BASE, current=False, current_digest="sha256:" + "b" * 64)
UNKNOWN_TAG = replace(BASE, tag=None, current=None, why="pinned by digest")
OUTDATED = [
    v("tag still points to the digest used", {}, "compliant", source=src.OUTDATED),
    v(
        "tag moved on",
        {"base_images": [OUTDATED_BASE]},
        "non_compliant",
        ["docker.io/library/alpine:3.19"],
        source=src.OUTDATED,
    ),
    v("tag not known", {"base_images": [UNKNOWN_TAG]}, "unknown", source=src.NO_BASE_DATA),
    v("no provenance: no base image data", {"base_images": None}, "unknown", source=src.NEEDS_PROVENANCE),
    v("FROM scratch", {"base_images": []}, "compliant", source=src.OURS_SCRATCH),
]


def base(name: str, tag: str) -> BaseImage:
    return BaseImage(name, tag, "sha256:" + "c" * 64, True)


NODE_SLIM = base("docker.io/library/node", "20-slim")
NODE_BOOKWORM_SLIM = base("docker.io/library/node", "20-bookworm-slim")
ACME = base("docker.io/acme/base", "1.0")
PRIVATE = base("registry.example.com/team/base", "7")
NO_DISTRO = {"allowed_distros_only": False}
APPROVED = [
    v("default, no distribution list", {}, "unknown", source=src.OURS_DISTROS),
    v("default [*], distributions off", {}, "compliant", config=NO_DISTRO, source=src.APPROVED_DEFAULT),
    v(
        "official image allowed",
        {"base_images": [NODE_SLIM]},
        "compliant",
        config={**NO_DISTRO, "allowed_base_images": ["docker.io/library/*"]},
        source=src.APPROVED_OFFICIAL,
    ),
    v(
        "organization image is not official",
        {"base_images": [ACME]},
        "non_compliant",
        ["docker.io/acme/base:1.0"],
        config={**NO_DISTRO, "allowed_base_images": ["docker.io/library/*"]},
        source=src.APPROVED,
    ),
    v(
        "slim tag",
        {"base_images": [NODE_SLIM]},
        "compliant",
        config={**NO_DISTRO, "allowed_base_images": ["docker.io/library/node:*-slim"]},
        source=src.APPROVED_SLIM,
    ),
    v(
        "* stops at the next '-'",
        {"base_images": [NODE_BOOKWORM_SLIM]},
        "non_compliant",
        ["docker.io/library/node:20-bookworm-slim"],
        config={**NO_DISTRO, "allowed_base_images": ["docker.io/library/node:*-slim"]},
        source=src.APPROVED_STAR,
    ),
    v(
        "tags of a repository",
        {"base_images": [ACME]},
        "compliant",
        config={**NO_DISTRO, "allowed_base_images": ["docker.io/acme/base:*"]},
        source=src.APPROVED_REPO_TAGS,
    ),
    v(
        "a Hub image needs the docker.io prefix",
        {"base_images": [ACME]},
        "non_compliant",
        ["docker.io/acme/base:1.0"],
        config={**NO_DISTRO, "allowed_base_images": ["acme/*"]},
        source=src.APPROVED_DOCKER_IO,
    ),
    v(
        "registry pattern",
        {"base_images": [PRIVATE]},
        "compliant",
        config={**NO_DISTRO, "allowed_base_images": ["registry.example.com/*"]},
        source=src.APPROVED_REGISTRY,
    ),
    v("allowed distribution", {}, "compliant", config={"allowed_distros": ["alpine-*"]}, source=src.DISTROS_DEFAULT),
    v(
        "distribution not allowed",
        {"distro": "ubuntu-18.04"},
        "non_compliant",
        ["docker.io/library/alpine:3.19"],
        config={"allowed_distros": ["alpine-*", "debian-12"]},
        source=src.DISTROS_DEFAULT,
    ),
    v(
        "distribution undetermined",
        {"distro": None},
        "unknown",
        config={"allowed_distros": ["alpine-*"]},
        source=src.DISTROS,
    ),
    v("no provenance", {"base_images": None}, "unknown", config=NO_DISTRO, source=src.NEEDS_PROVENANCE),
    v("FROM scratch", {"base_images": []}, "compliant", source=src.OURS_SCRATCH),
]

TABLES = {
    "fixable-vulnerabilities": FIXABLE,
    "high-profile-vulnerabilities": HIGH_PROFILE,
    "copyleft-license": COPYLEFT,
    "agpl-v3-licenses": AGPL,
    "supply-chain-attestations": ATTESTATIONS,
    "default-non-root-user": NON_ROOT,
    "no-stale-base-images": OUTDATED,
    "approved-base-images": APPROVED,
}


@pytest.mark.parametrize(
    ("policy", "vector"),
    [pytest.param(p, vec, id=f"{p}: {vec.case}") for p, table in TABLES.items() for vec in table],
)
def test_docker_vector(policy: str, vector: Vector) -> None:
    check(policy, vector)


def test_every_policy_has_vectors_citing_a_source() -> None:
    from airflow_provider_dockerhub.client.policy.rules import POLICIES

    assert set(TABLES) == set(POLICIES)
    for policy, table in TABLES.items():
        assert {"compliant", "non_compliant"} <= {vec.expected for vec in table}, policy
        for vec in table:
            url_or_choice = vec.source.startswith(("https://", "ours")) or " — " in vec.source
            assert url_or_choice and len(vec.source) > 40, (policy, vec.case)
