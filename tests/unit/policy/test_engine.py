"""The client-side policy engine (pure): Docker Scout's default policies over realistic evidence, tables of
edge cases, allow-list expiry, unknown handling, baseline comparison, and hypothesis properties."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dockerhub.client import InvalidInputError
from airflow_provider_dockerhub.client.policy.engine import PolicyReport, compare, evaluate
from airflow_provider_dockerhub.client.policy.evidence import ImageEvidence, Package, Vulnerability, purl_type
from airflow_provider_dockerhub.client.policy.rules import (
    DEFAULT_POLICIES,
    HIGH_PROFILE_CVES,
    POLICIES,
    AllowListEntry,
    is_root_user,
    license_ids,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
DIGEST = "sha256:" + "5" * 64

# A Debian 12 based Python image as Scout reported it in spring 2024 (scores and fixes as in the advisories).
OPENSSL = Vulnerability(
    "CVE-2023-5363", "HIGH", 7.5, "pkg:deb/debian/openssl@3.0.11-1~deb12u1", "3.0.13-1~deb12u1", datetime(2023, 10, 25)
)
GLIBC = Vulnerability(
    "CVE-2023-4911",
    "HIGH",
    7.8,
    "pkg:deb/debian/glibc@2.36-9+deb12u1",
    "2.36-9+deb12u3",
    datetime(2023, 10, 3, tzinfo=UTC),
    cisa_exploited=True,
)
ZLIB = Vulnerability(
    "CVE-2023-45853", "CRITICAL", 9.8, "pkg:deb/debian/zlib@1:1.2.13.dfsg-1", None, datetime(2023, 10, 14)
)
XZ = Vulnerability(
    "CVE-2024-3094", "CRITICAL", 10.0, "pkg:deb/debian/xz-utils@5.6.0-0.2", "5.6.1+really5.4.5-1", datetime(2024, 3, 29)
)
SETUPTOOLS = Vulnerability(
    "CVE-2022-40897", "MEDIUM", 5.9, "pkg:pypi/setuptools@65.5.0", "65.5.1", datetime(2022, 12, 23)
)
REQUESTS = Vulnerability(
    "CVE-2024-35195", "MODERATE", 5.6, "pkg:pypi/requests@2.31.0", "2.32.0", datetime(2024, 5, 20, tzinfo=UTC)
)
WS = Vulnerability("GHSA-3h5v-q93c-6h6q", "HIGH", 7.5, "pkg:npm/ws@8.17.0", "8.17.1", datetime(2024, 5, 28, tzinfo=UTC))
SCAN = [OPENSSL, GLIBC, ZLIB, XZ, SETUPTOOLS, REQUESTS, WS]

PACKAGES = [
    Package("pkg:deb/debian/openssl@3.0.11-1~deb12u1", "openssl", "3.0.11-1~deb12u1", "deb", ("Apache-2.0",)),
    Package(
        "pkg:deb/debian/ghostscript@10.0.0~dfsg-11", "ghostscript", "10.0.0~dfsg-11", "deb", ("AGPL-3.0-or-later",)
    ),
    Package("pkg:golang/github.com/grafana/loki@2.9.4", "loki", "2.9.4", "golang", ("MIT OR AGPL-3.0-only",)),
    Package("pkg:pypi/requests@2.31.0", "requests", "2.31.0", "pypi", ("Apache-2.0",)),
    Package("pkg:deb/debian/bash@5.2.15-2", "bash", "5.2.15-2", "deb", ("GPL-3.0-or-later",)),
]


def evidence(**changes: Any) -> ImageEvidence:
    base = ImageEvidence(
        reference="docker.io/acme/api:2.4.1",
        digest=DIGEST,
        platform="linux/amd64",
        vulnerabilities=list(SCAN),
        packages=list(PACKAGES),
        sbom=True,
        provenance=True,
        user="10001",
        config_known=True,
        sources={"vulnerabilities": "scout", "packages": "sbom-attestation"},
        sbom_packages=len(PACKAGES),
        provenance_mode="max",
        base_images=[],
    )
    return replace(base, **changes)


def run(policy: str, ev: ImageEvidence | None = None, config: dict[str, Any] | None = None, **kw: Any) -> Any:
    report = evaluate(ev or evidence(), [policy], {policy: config} if config else None, now=NOW, **kw)
    return report.results[0]


def ids(result: Any) -> list[str]:
    return [v["id"] for v in result.violations]


# -- the realistic image, all policies ---------------------------------------------------------------------------


def test_realistic_image_full_report() -> None:
    report = evaluate(evidence(), now=NOW)
    assert [r.id for r in report.results] == list(DEFAULT_POLICIES)
    assert {r.id: r.status for r in report.results} == {
        "fixable-vulnerabilities": "non_compliant",
        "high-profile-vulnerabilities": "non_compliant",
        "copyleft-license": "non_compliant",
        "no-stale-base-images": "compliant",
        "supply-chain-attestations": "compliant",
        "default-non-root-user": "compliant",
        "approved-base-images": "compliant",
    }
    fixable = report.result("fixable-vulnerabilities")
    assert fixable is not None and fixable.name == "No fixable critical or high vulnerabilities"
    # Most severe first; zlib's CRITICAL has no fix, MEDIUM/MODERATE ones are out of scope.
    assert ids(fixable) == ["CVE-2024-3094", "CVE-2023-4911", "CVE-2023-5363", "GHSA-3h5v-q93c-6h6q"]
    first = fixable.violations[0]
    assert first["severity"] == "CRITICAL" and first["package"] == XZ.package and first["fixed_by"] == XZ.fixed_by
    assert first["cvss_score"] == 10.0 and first["published_at"] == "2024-03-29T00:00:00+00:00"
    high = report.result("high-profile-vulnerabilities")
    assert high is not None
    assert [(v["id"], v["reason"]) for v in high.violations] == [
        ("CVE-2024-3094", "high-profile"),
        ("CVE-2023-4911", "cisa-kev"),
    ]
    copyleft = report.result("copyleft-license")
    # Docker's copyleft list covers GPL too: bash (GPL-3.0-or-later) fails it as well as the AGPL packages.
    assert copyleft is not None and [v["name"] for v in copyleft.violations] == ["bash", "ghostscript", "loki"]
    assert copyleft.violations[2]["licenses"] == ["MIT OR AGPL-3.0-only"]
    assert not report.passed() and report.status == "non_compliant"
    assert report.failures() == ["fixable-vulnerabilities", "high-profile-vulnerabilities", "copyleft-license"]


def test_summary_is_readable() -> None:
    report = evaluate(evidence(provenance=None, sources={"provenance": "unknown: referrers unavailable"}), now=NOW)
    text = report.summary()
    lines = text.splitlines()
    assert lines[0].startswith("Policy evaluation of docker.io/acme/api:2.4.1 @ sha256:555555555555 (linux/amd64)")
    assert "FAILED — 3/7 policies met, 3 not met, 1 no data" in lines[0]
    assert "  ✗ No fixable critical or high vulnerabilities [fixable-vulnerabilities]: 4 fixable" in text
    assert (
        "  ? Supply chain attestations [supply-chain-attestations]: no data: provenance: referrers unavailable" in text
    )
    assert "  ✓ Default non-root user [default-non-root-user]: runs as 10001" in text
    assert "Top violations (" in text
    assert "  - fixable-vulnerabilities: CVE-2024-3094 CRITICAL 10.0 in pkg:deb/debian/xz-utils@5.6.0-0.2" in text
    assert evaluate(evidence(vulnerabilities=[], packages=[]), now=NOW).summary().count("✓") == 7
    assert "Licences checked by copyleft-license: AGPL-1.0, " in text


def test_to_json_is_plain_json_and_round_trips() -> None:
    report = evaluate(evidence(), now=NOW, allow_list=[AllowListEntry("CVE-2023-5363", date(2024, 1, 1), "old")])
    data = report.to_json()
    text = json.dumps(data, allow_nan=False)  # primitives only: what XCom stores
    assert json.loads(text) == data
    assert data["status"] == "non_compliant" and data["passed"] is False
    assert data["evaluated_at"] == "2024-06-01T12:00:00+00:00"
    assert data["results"][0]["violation_count"] == 4
    assert data["expired_allow_list"] == [{"id": "CVE-2023-5363", "expires": "2024-01-01", "reason": "old"}]
    again = PolicyReport.from_json(json.loads(text))
    assert compare(report, again) == [] and compare(again, report) == []
    assert again.to_json() == data


# -- fixable-vulnerabilities -----------------------------------------------------------------------------------


def vuln(severity: str = "HIGH", fixed_by: str | None = "1.2", package: str = "pkg:deb/debian/x@1", **kw: Any) -> Any:
    kw.setdefault("published_at", datetime(2024, 1, 1, tzinfo=UTC))
    return Vulnerability(kw.pop("id", "CVE-2024-0001"), severity, kw.pop("cvss", 7.0), package, fixed_by, **kw)


@pytest.mark.parametrize(
    ("vulns", "config", "expected"),
    [
        ([vuln("CRITICAL")], None, ["CVE-2024-0001"]),
        ([vuln("critical")], None, ["CVE-2024-0001"]),  # severities compare case-insensitively
        ([vuln("MEDIUM")], None, []),
        ([vuln("MODERATE")], {"severities": ["MEDIUM"]}, ["CVE-2024-0001"]),  # GHSA's name for MEDIUM
        ([vuln("LOW")], {"severities": ["critical", "high", "medium", "low"]}, ["CVE-2024-0001"]),
        ([vuln("bogus")], {"severities": ["UNSPECIFIED"]}, ["CVE-2024-0001"]),
        ([vuln("CRITICAL", None)], None, []),  # no fix: not "fixable"
        ([vuln("CRITICAL", "")], None, []),
        ([vuln("CRITICAL", "not fixed")], None, []),
        ([vuln("CRITICAL", None)], {"fixable_only": False}, ["CVE-2024-0001"]),
        ([vuln(package="pkg:npm/ws@8")], {"package_types": ["deb"]}, []),
        ([vuln(package="pkg:DEB/debian/x@1")], {"package_types": ["deb", "apk"]}, ["CVE-2024-0001"]),
        ([vuln(package="not-a-purl")], {"package_types": ["deb"]}, []),
        ([vuln(), vuln()], None, ["CVE-2024-0001"]),  # reported once per file location: one violation
        ([vuln(), vuln(package="pkg:deb/debian/y@1")], None, ["CVE-2024-0001", "CVE-2024-0001"]),
        ([vuln(id="CVE-2024-1", cvss=5.0), vuln(id="CVE-2024-2", cvss=9.0)], None, ["CVE-2024-2", "CVE-2024-1"]),
        ([], None, []),
    ],
)
def test_fixable_table(vulns: list[Vulnerability], config: dict[str, Any] | None, expected: list[str]) -> None:
    result = run("fixable-vulnerabilities", evidence(vulnerabilities=vulns), config)
    assert ids(result) == expected
    assert result.status == ("non_compliant" if expected else "compliant")


def test_fixable_unknown_without_scan_data() -> None:
    result = run("fixable-vulnerabilities", evidence(vulnerabilities=None, sources={"vulnerabilities": "unknown: x"}))
    assert result.status == "unknown" and result.violations == []
    assert result.message == "no data: no vulnerability scan (x)"


@pytest.mark.parametrize(
    ("published", "status", "suppressed_by"),
    [
        (NOW - timedelta(days=3), "compliant", ["grace_period"]),
        (NOW - timedelta(days=6, hours=23), "compliant", ["grace_period"]),
        (NOW - timedelta(days=7), "non_compliant", []),  # the grace period is over on day 7
        ((NOW - timedelta(days=2)).replace(tzinfo=None), "compliant", ["grace_period"]),  # naive means UTC
        (datetime(2024, 6, 1, 9, tzinfo=timezone(timedelta(hours=-5))), "compliant", ["grace_period"]),
        (None, "non_compliant", []),  # age unknown: counted, never silently excused
    ],
)
def test_grace_period(published: datetime | None, status: str, suppressed_by: list[str]) -> None:
    ev = evidence(vulnerabilities=[vuln(published_at=published)])
    result = run("fixable-vulnerabilities", ev, {"grace_period_days": 7})
    assert result.status == status
    assert [s["by"] for s in result.suppressed] == suppressed_by


# -- high-profile-vulnerabilities ------------------------------------------------------------------------------


def test_high_profile_defaults_are_the_nine_cves() -> None:
    assert len(HIGH_PROFILE_CVES) == 9 and "CVE-2021-44228" in HIGH_PROFILE_CVES
    assert POLICIES["high-profile-vulnerabilities"].defaults["include_cisa_kev"] is True


@pytest.mark.parametrize(
    ("vulns", "config", "expected"),
    [
        # Log4Shell counts whatever its severity or fix state says.
        ([vuln("LOW", None, id="CVE-2021-44228")], None, ["CVE-2021-44228"]),
        ([vuln(id="cve-2014-0160")], None, ["cve-2014-0160"]),
        ([vuln(id="CVE-2024-9999")], None, []),
        ([vuln(id="CVE-2024-9999", cisa_exploited=True)], None, ["CVE-2024-9999"]),
        ([vuln(id="CVE-2024-9999", cisa_exploited=True)], {"include_cisa_kev": False}, []),
        ([vuln(id="CVE-2021-44228")], {"ignored_cves": ["cve-2021-44228"]}, []),
        ([vuln(id="CVE-2024-9999")], {"cves": ["CVE-2024-9999"]}, ["CVE-2024-9999"]),
        ([vuln(id="CVE-2021-44228")], {"cves": ["CVE-2024-9999"]}, []),
    ],
)
def test_high_profile_table(vulns: list[Vulnerability], config: dict[str, Any] | None, expected: list[str]) -> None:
    result = run("high-profile-vulnerabilities", evidence(vulnerabilities=vulns), config)
    assert ids(result) == expected


def test_ignored_cves_are_reported_as_suppressed() -> None:
    result = run("high-profile-vulnerabilities", None, {"ignored_cves": ["CVE-2024-3094"]})
    assert ids(result) == ["CVE-2023-4911"]
    assert [(s["id"], s["by"]) for s in result.suppressed] == [("CVE-2024-3094", "ignored_cves")]


# -- allow-list and Scout exceptions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expires", "suppressed"),
    [
        (None, True),
        (date(2024, 6, 1), True),  # valid through its last day
        (date(2024, 5, 31), False),
        (datetime(2024, 6, 1, 12, 0, 1, tzinfo=UTC), True),
        (datetime(2024, 6, 1, 12, 0, tzinfo=UTC), False),  # a datetime expires at that instant
        (datetime(2024, 6, 1, 13, 0), True),  # naive means UTC
        ("2024-07-01", True),
        ("2024-06-01T11:00:00+00:00", False),
        ("2024-06-01 13:00", True),
    ],
)
def test_allow_list_expiry(expires: Any, suppressed: bool) -> None:
    entry = {"id": "cve-2024-3094", "expires": expires, "reason": "backdoored build not shipped; see SEC-1234"}
    result = run("high-profile-vulnerabilities", evidence(vulnerabilities=[XZ]), allow_list=[entry])
    if suppressed:
        assert result.status == "compliant" and result.violations == []
        [item] = result.suppressed
        assert item["by"] == "allow_list" and item["reason"].startswith("backdoored") and item["id"] == XZ.id
        assert result.message == "no high-profile vulnerabilities, 1 suppressed"
    else:
        assert result.status == "non_compliant" and result.suppressed == []
        assert result.violations[0]["allow_list_expired"]
        assert "no longer suppressed: suppression expired" in result.message
        [expired] = result.violations[0]["expired_suppressions"]
        assert expired["source"] == "allow-list" and expired["reason"].startswith("backdoored")


def test_expired_entries_are_reported_even_when_they_match_nothing() -> None:
    allow: list[AllowListEntry | str] = [AllowListEntry("CVE-2020-0001", date(2023, 1, 1), "stale"), "CVE-2023-5363"]
    report = evaluate(evidence(), ["fixable-vulnerabilities"], allow_list=allow, now=NOW)
    assert report.expired_allow_list == [{"id": "CVE-2020-0001", "expires": "2023-01-01", "reason": "stale"}]
    assert "Allow-list entry CVE-2020-0001 expired on 2023-01-01" in report.summary()
    fixable = report.results[0]
    assert "CVE-2023-5363" not in ids(fixable) and fixable.suppressed[0]["expires"] is None


def test_one_live_entry_among_expired_ones_still_suppresses() -> None:
    allow = [AllowListEntry("CVE-2024-3094", date(2024, 1, 1)), AllowListEntry("CVE-2024-3094", date(2025, 1, 1))]
    result = run("fixable-vulnerabilities", evidence(vulnerabilities=[XZ]), allow_list=allow)
    assert result.status == "compliant" and result.suppressed[0]["expires"] == "2025-01-01"


def test_scout_exceptions_suppress() -> None:
    result = run("fixable-vulnerabilities", evidence(vulnerabilities=[replace(OPENSSL, excepted=True)]))
    assert result.status == "compliant" and result.suppressed[0]["by"] == "exception"


@pytest.mark.parametrize("bad", [{"expires": "2024-01-01"}, {"id": 7}, {"id": "X", "expires": "soon"}, 42])
def test_bad_allow_list_entries_are_rejected(bad: Any) -> None:
    with pytest.raises(InvalidInputError):
        evaluate(evidence(), allow_list=[bad], now=NOW)


# -- supply-chain-attestations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sbom", "provenance", "required", "status"),
    [
        (True, True, None, "compliant"),
        (True, False, None, "non_compliant"),
        (False, None, None, "non_compliant"),  # a proven absence decides even next to an unknown
        (True, None, None, "unknown"),
        (None, None, None, "unknown"),
        (True, None, ["sbom"], "compliant"),
        (False, True, ["provenance"], "compliant"),
        (False, False, [], "compliant"),
        (True, False, "sbom, provenance", "non_compliant"),  # templated params arrive as strings
    ],
)
def test_supply_chain_table(sbom: bool | None, provenance: bool | None, required: Any, status: str) -> None:
    config = None if required is None else {"required_attestations": required}
    result = run("supply-chain-attestations", evidence(sbom=sbom, provenance=provenance), config)
    assert result.status == status
    if status == "non_compliant":
        assert {v["attestation"] for v in result.violations} <= {"sbom", "provenance"}


# -- default-non-root-user -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "root"),
    [
        (None, True),
        ("", True),
        ("  ", True),
        ("root", True),
        ("0", True),
        ("00", True),
        ("0:0", True),
        ("root:root", True),
        ("root:1000", True),
        ("0:1000", True),
        ("1000", False),
        ("1000:0", False),  # group 0 is fine: the policy is about the user
        ("nobody", False),
        ("nonroot:nonroot", False),
        ("65532", False),
        ("ROOT", False),  # user names are case-sensitive
        ("²", False),  # a digit to str.isdigit, not to int()
    ],
)
def test_non_root_variants(user: str | None, root: bool) -> None:
    assert is_root_user(user) is root
    result = run("default-non-root-user", evidence(user=user))
    assert result.status == ("non_compliant" if root else "compliant")
    if root:
        assert result.violations[0]["user"] == (user or "").strip()


def test_non_root_unknown_without_config() -> None:
    result = run("default-non-root-user", evidence(config_known=False, user=None, sources={"config": "unknown: 404"}))
    assert result.status == "unknown" and result.message == "no data: image config not read (404)"


# -- copyleft-license ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "agpl"),
    [
        ("AGPL-3.0", True),
        ("AGPL-3.0-only", True),
        ("agpl-3.0-or-later", True),
        ("MIT OR AGPL-3.0-only", True),
        ("(MIT AND AGPL-3.0-or-later)", True),
        ("(Apache-2.0 OR (MIT AND AGPL-3.0))", True),
        ("AGPL-3.0+", True),
        ("GPL-3.0-only", False),
        ("LGPL-3.0-or-later", False),
        ("GPL-2.0-only WITH Classpath-exception-2.0", False),
        ("LicenseRef-AGPL-ish", False),
        ("NOASSERTION", False),
        ("", False),
    ],
)
def test_license_expressions(expression: str, agpl: bool) -> None:
    package = Package("pkg:npm/thing@1.0.0", "thing", "1.0.0", "npm", (expression,))
    result = run("agpl-v3-licenses", evidence(packages=[package]))
    assert result.status == ("non_compliant" if agpl else "compliant")


def test_license_ids_parse_spdx_expressions() -> None:
    assert license_ids("(MIT OR Apache-2.0) AND GPL-2.0-only WITH Linux-syscall-note") == {
        "MIT",
        "APACHE-2.0",
        "GPL-2.0-ONLY",
    }
    assert license_ids("GPL-2.0+") == {"GPL-2.0+", "GPL-2.0", "GPL-2.0-OR-LATER"}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, ["bash", "ghostscript", "loki"]),
        ({"ignored_packages": ["ghostscript"]}, ["bash", "loki"]),
        ({"ignored_packages": ["pkg:golang/github.com/grafana/loki"]}, ["bash", "ghostscript"]),  # without version
        ({"ignored_packages": ["pkg:deb/debian/ghostscript@10.0.0~dfsg-11", "LOKI", "bash"]}, []),
        ({"licenses": ["GPL-3.0-only", "GPL-3.0-or-later"]}, ["bash"]),
        ({"licenses": []}, []),
    ],
)
def test_copyleft_table(config: dict[str, Any] | None, expected: list[str]) -> None:
    result = run("copyleft-license", None, config)
    assert [v["name"] for v in result.violations] == expected
    ignored = set(config.get("ignored_packages", [])) if config else set()
    assert len(result.suppressed) == (3 - len(expected) if ignored else 0)


def test_copyleft_unknown_without_sbom_and_on_an_empty_one() -> None:
    assert run("copyleft-license", evidence(packages=None)).status == "unknown"
    # An SBOM that lists nothing proves nothing (the "empty SBOM passes" case): unknown, not compliant.
    assert run("copyleft-license", evidence(packages=[], sbom_packages=0)).status == "unknown"
    twice = [PACKAGES[1], PACKAGES[1]]  # two SBOMs listing the same package: one violation
    assert len(run("copyleft-license", evidence(packages=twice)).violations) == 1


# -- evaluate(): selection and configuration -------------------------------------------------------------------


def test_policy_selection_by_id_or_display_name() -> None:
    report = evaluate(evidence(), ["No copyleft licenses", "default-non-root-user", "copyleft-license"], now=NOW)
    assert [r.id for r in report.results] == ["copyleft-license", "default-non-root-user"]
    assert [r.name for r in report.results] == ["No copyleft licenses", "Default non-root user"]


@pytest.mark.parametrize(
    ("policies", "config", "match"),
    [
        (["no-such-policy"], None, "unknown policy"),
        (None, {"fixable-vulnerabilities": {"severity": ["HIGH"]}}, "unknown config keys"),
        (None, {"fixable-vulnerabilities": {"severities": ["CRTICAL"]}}, "must be among"),
        (None, {"fixable-vulnerabilities": {"fixable_only": "yes"}}, "true or false"),
        (None, {"fixable-vulnerabilities": {"grace_period_days": -1}}, "number of days"),
        (None, {"fixable-vulnerabilities": {"grace_period_days": True}}, "number of days"),
        (None, {"supply-chain-attestations": {"required_attestations": ["signature"]}}, "must be among"),
        (None, {"copyleft-license": {"licenses": [1, 2]}}, "list of strings"),
        (None, {"no-such-policy": {}}, "unknown policy"),
    ],
)
def test_bad_configuration_is_an_error(policies: Any, config: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        evaluate(evidence(), policies, config, now=NOW)


def test_config_for_unselected_policies_is_checked_but_ignored() -> None:
    report = evaluate(evidence(), ["default-non-root-user"], {"copyleft-license": {"licenses": ["MIT"]}}, now=NOW)
    assert [r.id for r in report.results] == ["default-non-root-user"]
    with pytest.raises(InvalidInputError, match="unknown config keys"):
        evaluate(evidence(), ["default-non-root-user"], {"copyleft-license": {"license": ["MIT"]}}, now=NOW)


def test_policies_as_a_comma_separated_string() -> None:
    report = evaluate(evidence(), "copyleft-license, default-non-root-user", now=NOW)
    assert [r.id for r in report.results] == ["copyleft-license", "default-non-root-user"]


# -- gating: unknown handling, baseline comparison -------------------------------------------------------------


def test_unknown_never_passes_silently() -> None:
    report = evaluate(evidence(vulnerabilities=None, sbom=None), now=NOW, allow_list=["CVE-2024-3094"])
    clean = evaluate(evidence(vulnerabilities=None, sbom=None, packages=[]), now=NOW)
    assert clean.status == "unknown" and not clean.passed() and clean.passed(unknown_ok=True)
    assert clean.failures() == ["fixable-vulnerabilities", "high-profile-vulnerabilities", "supply-chain-attestations"]
    assert clean.failures(unknown_ok=True) == []
    assert not report.passed(unknown_ok=True)  # the AGPL packages are still there


def result_with(status: str, count: int, policy: str = "fixable-vulnerabilities") -> dict[str, Any]:
    violations = [{"id": f"CVE-2024-{n:04d}", "detail": "x"} for n in range(count)]
    return {"id": policy, "name": policy, "status": status, "violations": violations}


@pytest.mark.parametrize(
    ("before", "after", "worse"),
    [
        (("compliant", 0), ("non_compliant", 1), True),
        (("unknown", 0), ("non_compliant", 1), True),
        (("non_compliant", 2), ("non_compliant", 3), True),
        (("non_compliant", 3), ("non_compliant", 3), False),
        (("non_compliant", 3), ("non_compliant", 1), False),
        (("non_compliant", 3), ("compliant", 0), False),
        (("compliant", 0), ("unknown", 0), False),
        (("unknown", 0), ("compliant", 0), False),
        (("compliant", 0), ("compliant", 0), False),
    ],
)
def test_compare_table(before: tuple[str, int], after: tuple[str, int], worse: bool) -> None:
    baseline = {"results": [result_with(*before)]}
    current = PolicyReport.from_json({"results": [result_with(*after)]})
    assert compare(current, baseline) == (["fixable-vulnerabilities"] if worse else [])


def test_compare_against_real_reports_and_worse_only_gating() -> None:
    baseline = evaluate(evidence(vulnerabilities=[OPENSSL, GLIBC], packages=PACKAGES[:2]), now=NOW)
    # The new image fixed glibc but gained xz and copyleft packages, and lost its provenance.
    current = evaluate(evidence(vulnerabilities=[OPENSSL, XZ], provenance=False), now=NOW)
    # high-profile: glibc (KEV) out, xz in: one violation before and after, but a new identity, so it fails;
    # fixable: two violations before and after, xz new: fails too. Counts never hide a swap.
    assert [len(r.violations) for r in (current.results[1], baseline.results[1])] == [1, 1]
    assert compare(current, baseline) == [
        "fixable-vulnerabilities",
        "high-profile-vulnerabilities",
        "copyleft-license",
        "supply-chain-attestations",
    ]
    diff = current.diff(baseline)
    assert {f.id for f in diff.fixed} == {"CVE-2023-4911"} and {f.id for f in diff.accepted} == {
        "CVE-2023-5363",
        "AGPL-3.0-or-later",
    }
    assert compare(current, baseline.to_json()) == compare(current, baseline)
    assert current.failures(baseline) == compare(current, baseline)
    # The same image against itself: everything is still accepted, nothing new.
    assert current.failures(current) == []
    # A policy the baseline did not evaluate counts as worse when it now fails.
    partial = evaluate(evidence(vulnerabilities=[OPENSSL, GLIBC]), ["fixable-vulnerabilities"], now=NOW)
    assert "copyleft-license" in compare(current, partial)
    # Unknown still fails a worse-only gate unless tolerated.
    unknown_now = evaluate(evidence(vulnerabilities=None), now=NOW)
    assert unknown_now.failures(unknown_now) == ["fixable-vulnerabilities", "high-profile-vulnerabilities"]
    assert unknown_now.failures(unknown_now, unknown_ok=True) == []


def test_purl_types() -> None:
    assert purl_type("pkg:deb/debian/openssl@3") == "deb"
    assert purl_type("pkg:/NPM/%40scope/name@1") == "npm"
    assert purl_type("openssl") == "" and purl_type("") == ""


# -- properties ------------------------------------------------------------------------------------------------

text = st.text(max_size=30)
moments = st.one_of(
    st.none(),
    st.datetimes(timezones=st.none()),
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(
        min_value=datetime(2, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.sampled_from([timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]),
    ),
)
vulnerabilities = st.builds(
    Vulnerability,
    id=st.one_of(st.sampled_from([*HIGH_PROFILE_CVES, "CVE-2023-5363", "GHSA-3h5v-q93c-6h6q"]), text),
    severity=st.one_of(st.sampled_from(["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNSPECIFIED", "moderate"]), text),
    cvss_score=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    package=st.one_of(st.sampled_from([OPENSSL.package, WS.package, "pkg:pypi/x@1"]), text),
    fixed_by=st.one_of(st.none(), st.sampled_from(["", "not fixed", "1.2.3"]), text),
    published_at=moments,
    cisa_exploited=st.booleans(),
    excepted=st.booleans(),
)
packages = st.builds(
    Package,
    purl=text,
    name=text,
    version=text,
    type=text,
    licenses=st.lists(st.one_of(st.sampled_from(["MIT", "AGPL-3.0-only", "MIT OR AGPL-3.0+", "(("]), text)).map(tuple),
)
gate_config = st.fixed_dictionaries(
    {},
    optional={
        "fixable-vulnerabilities": st.fixed_dictionaries(
            {},
            optional={
                "severities": st.lists(st.sampled_from(["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNSPECIFIED"])),
                "fixable_only": st.booleans(),
                "grace_period_days": st.integers(0, 36500),
                "package_types": st.lists(st.sampled_from(["deb", "npm", "pypi"])),
            },
        ),
        "high-profile-vulnerabilities": st.fixed_dictionaries({}, optional={"include_cisa_kev": st.booleans()}),
    },
)
entries = st.builds(
    AllowListEntry,
    id=st.one_of(st.sampled_from(["CVE-2021-44228", "cve-2023-5363", "CVE-2024-3094"]), text),
    expires=st.one_of(st.none(), st.dates(), st.datetimes(timezones=st.just(UTC))),
    reason=text,
)
clock = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
quick = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@quick
@given(
    vulns=st.one_of(st.none(), st.lists(vulnerabilities, max_size=25)),
    pkgs=st.one_of(st.none(), st.lists(packages, max_size=10)),
    user=st.one_of(st.none(), text),
    config=gate_config,
    gate=st.tuples(st.lists(entries, max_size=4), clock),
)
def test_evaluate_never_raises_and_always_serializes(
    vulns: list[Vulnerability] | None,
    pkgs: list[Package] | None,
    user: str | None,
    config: dict[str, Any],
    gate: tuple[list[AllowListEntry], datetime],
) -> None:
    allow, now = gate
    report = evaluate(evidence(vulnerabilities=vulns, packages=pkgs, user=user), None, config, allow, now)
    assert len(report.results) == len(DEFAULT_POLICIES)
    assert all(r.status in ("compliant", "non_compliant", "unknown") for r in report.results)
    data = json.loads(json.dumps(report.to_json(), allow_nan=False))
    assert compare(PolicyReport.from_json(data), report) == []
    assert isinstance(report.summary(), str)
    for r in report.results:
        assert (r.status == "non_compliant") == bool(r.violations)


@quick
@given(vulns=st.lists(vulnerabilities, max_size=25), allow=st.lists(entries, max_size=3), extra=entries, now=clock)
def test_an_allow_list_entry_never_makes_a_report_worse(
    vulns: list[Vulnerability], allow: list[AllowListEntry], extra: AllowListEntry, now: datetime
) -> None:
    ev = evidence(vulnerabilities=vulns)
    without = evaluate(ev, allow_list=allow, now=now)
    with_entry = evaluate(ev, allow_list=[*allow, extra], now=now)
    assert compare(with_entry, without) == []
    for a, b in zip(with_entry.results, without.results, strict=True):
        assert len(a.violations) <= len(b.violations)
        assert len(a.violations) + len(a.suppressed) == len(b.violations) + len(b.suppressed)
    assert with_entry.passed() or not without.passed()


@quick
@given(vulns=st.lists(vulnerabilities, max_size=20), more=st.lists(vulnerabilities, max_size=5), now=clock)
def test_fewer_vulnerabilities_are_never_worse(
    vulns: list[Vulnerability], more: list[Vulnerability], now: datetime
) -> None:
    smaller = evaluate(evidence(vulnerabilities=vulns), now=now)
    larger = evaluate(evidence(vulnerabilities=vulns + more), now=now)
    assert compare(smaller, larger) == []


@quick
@given(vulns=st.lists(vulnerabilities, min_size=1, max_size=20), now=clock)
def test_allow_listing_every_id_forever_clears_the_vulnerability_policies(
    vulns: list[Vulnerability], now: datetime
) -> None:
    report = evaluate(evidence(vulnerabilities=vulns), now=now, allow_list=[AllowListEntry(v.id) for v in vulns])
    for policy in ("fixable-vulnerabilities", "high-profile-vulnerabilities"):
        result = report.result(policy)
        assert result is not None and result.status == "compliant"


@given(
    parts=st.lists(
        st.sampled_from(["MIT", "Apache-2.0", "GPL-3.0-only", "AGPL-3.0-only", "BSD-3-Clause"]), min_size=1, max_size=9
    ),
    operators=st.lists(st.sampled_from([" AND ", " OR ", " and ", " or "]), min_size=8, max_size=8),
)
def test_any_expression_containing_agpl_is_caught(parts: list[str], operators: list[str]) -> None:
    expression = parts[0] + "".join(op + part for op, part in zip(operators, parts[1:], strict=False))
    if len(parts) > 1:
        expression = f"({expression})"
    package = Package("pkg:npm/p@1", "p", "1", "npm", (expression,))
    result = run("agpl-v3-licenses", evidence(packages=[package]))
    assert (result.status == "non_compliant") == ("AGPL-3.0-only" in parts)
    copyleft = run("copyleft-license", evidence(packages=[package]))
    assert (copyleft.status == "non_compliant") == bool({"AGPL-3.0-only", "GPL-3.0-only"} & set(parts))
