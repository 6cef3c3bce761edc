"""Findings by identity and what decides against a baseline; suppressions from their three sources, each with
its reason and expiry; the Scout CLI's policy-config file shape."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dockerhub.client import InvalidInputError
from airflow_provider_dockerhub.client.policy.engine import PolicyReport, evaluate, prepare
from airflow_provider_dockerhub.client.policy.evidence import Vulnerability
from airflow_provider_dockerhub.client.policy.from_scout import scout_packages
from airflow_provider_dockerhub.client.policy.rules import pattern_matches
from airflow_provider_dockerhub.client.policy.vex import vex_suppressions
from airflow_provider_dockerhub.client.scout.api import ScoutImage

from . import docker_sources as src
from .test_docker_vectors import LOG4SHELL, NOW, OPENSSL, XZ, ZLIB, image, pkg

VULNS = ["fixable-vulnerabilities", "high-profile-vulnerabilities"]
NEW_CRITICAL = Vulnerability("CVE-2024-6387", "CRITICAL", 9.8, "pkg:deb/debian/openssh@9.2p1-2", "9.2p1-2+deb12u3")


def gate(vulns: list[Vulnerability], **kw: Any) -> PolicyReport:
    return evaluate(image(vulnerabilities=vulns), VULNS, now=NOW, **kw)


# -- baselines by identity -------------------------------------------------------------------------------------


def test_an_accepted_cve_replaced_by_a_new_critical_fails() -> None:
    production = gate([OPENSSL])
    candidate = gate([NEW_CRITICAL])  # same count, one new identity
    assert [len(r.violations) for r in production.results] == [len(r.violations) for r in candidate.results]
    assert candidate.failures(production) == ["fixable-vulnerabilities"]
    diff = candidate.diff(production)
    assert [f.id for f in diff.new] == ["CVE-2024-6387"] and [f.id for f in diff.fixed] == ["CVE-2023-5363"]
    assert diff.accepted == []


def test_log4shell_swapped_for_the_xz_backdoor_fails() -> None:
    production = gate([LOG4SHELL])
    candidate = gate([XZ])
    # The xz backdoor has no fix, so only the high-profile policy sees it; there it is a new identity.
    assert candidate.failures(production) == ["high-profile-vulnerabilities"]
    diff = candidate.diff(production.to_json())  # a baseline kept as JSON decides the same
    assert {(f.policy, f.id) for f in diff.new} == {("high-profile-vulnerabilities", "CVE-2024-3094")}
    assert ("high-profile-vulnerabilities", "CVE-2021-44228") in {(f.policy, f.id) for f in diff.fixed}


def test_still_accepted_and_a_patch_bump_of_the_same_package() -> None:
    production = gate([OPENSSL])
    bumped = replace(OPENSSL, package="pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64")
    candidate = gate([bumped])
    assert candidate.failures(production) == []
    diff = candidate.diff(production)
    assert [f.id for f in diff.accepted] == ["CVE-2023-5363"] and diff.new == diff.fixed == []
    # The same CVE in another package is another risk.
    elsewhere = gate([replace(OPENSSL, package="pkg:deb/debian/libssl3@3.0.11-1")])
    assert elsewhere.failures(production) == ["fixable-vulnerabilities"]


def test_accepted_risk_record_with_expiry() -> None:
    candidate = gate([OPENSSL, NEW_CRITICAL])
    record = {
        "accepted": [
            {
                "policy": "fixable-vulnerabilities",
                "id": "CVE-2023-5363",
                "package": "pkg:deb/debian/openssl",
                "reason": "not reachable",
                "expires": "2024-12-31",
                "accepted_by": "release-manager@acme",
            },
            {"id": "CVE-2024-6387", "reason": "was accepted", "expires": "2024-05-01"},  # expired
            {"id": "CVE-2020-0001", "reason": "fixed long ago"},
        ]
    }
    diff = candidate.diff(record)
    assert [f.id for f in diff.accepted] == ["CVE-2023-5363"]
    assert [f.id for f in diff.new] == ["CVE-2024-6387"]
    assert [r.id for r in diff.expired] == ["CVE-2024-6387"]
    assert [f.id for f in diff.fixed] == ["CVE-2020-0001"]
    assert candidate.failures(record) == ["fixable-vulnerabilities"]
    json.dumps(diff.to_json())
    with pytest.raises(InvalidInputError, match="bad expiry"):
        candidate.diff({"accepted": [{"id": "CVE-1", "expires": "someday"}]})


def test_fact_findings_have_identities_too() -> None:
    production = evaluate(image(user="root"), ["default-non-root-user", "supply-chain-attestations"], now=NOW)
    candidate = evaluate(
        image(user="root", provenance_mode="min"), ["default-non-root-user", "supply-chain-attestations"], now=NOW
    )
    assert candidate.failures(production) == ["supply-chain-attestations"]
    assert [(f.policy, f.id) for f in candidate.diff(production).accepted] == [("default-non-root-user", "root-user")]


def test_finding_records_carry_what_a_report_needs() -> None:
    report = evaluate(
        image(
            vulnerabilities=[replace(OPENSSL, url="https://scout.docker.com/v/CVE-2023-5363")],
            packages=[pkg("bash", "GPL-3.0-only")],
        ),
        ["fixable-vulnerabilities", "copyleft-license"],
        allow_list=[{"id": "CVE-2023-5363", "expires": "2024-07-01", "reason": "mitigated by config"}],
        now=NOW,
    )
    [cve, licence] = report.findings()
    assert cve.to_json() == {
        "policy": "fixable-vulnerabilities",
        "status": "suppressed",
        "id": "CVE-2023-5363",
        "package": OPENSSL.package,
        "severity": "HIGH",
        "fix_version": "3.0.13-1",
        "url": "https://scout.docker.com/v/CVE-2023-5363",
        "suppression": {"source": "allow-list", "reason": "mitigated by config", "expires": "2024-07-01"},
        "detail": cve.detail,
    }
    assert (licence.policy, licence.status, licence.id, licence.package) == (
        "copyleft-license",
        "violation",
        "GPL-3.0-only",
        "pkg:deb/debian/bash@1.0",
    )
    assert "by allow-list: mitigated by config, until 2024-07-01" in report.summary()


# -- suppressions: VEX, Scout exceptions, allow-list -------------------------------------------------------------


def openvex(*statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://acme.example/vex/app-1.0",
        "author": "security@acme.example",
        "timestamp": "2024-05-01T00:00:00Z",
        "version": 1,
        "statements": list(statements),
    }


def statement(cve: str, status: str, *subcomponents: str, **extra: Any) -> dict[str, Any]:
    product: dict[str, Any] = {"@id": "pkg:docker/acme/app@1.0"}
    if subcomponents:
        product["subcomponents"] = [{"@id": s} for s in subcomponents]
    return {"vulnerability": {"name": cve}, "products": [product], "status": status, **extra}


@pytest.mark.parametrize(
    ("status", "suppressed", "source"),
    [
        ("not_affected", True, src.VEX_NOT_AFFECTED),
        ("fixed", True, src.VEX_FIXED),
        ("affected", False, src.VEX_AFFECTED),
        ("under_investigation", False, src.VEX_INVESTIGATION),
    ],
)
def test_vex_statuses(status: str, suppressed: bool, source: str) -> None:
    doc = openvex(statement("CVE-2023-5363", status, justification="vulnerable_code_not_in_execute_path"))
    report = evaluate(image(vulnerabilities=[OPENSSL], vex=vex_suppressions(doc, "attestation")), VULNS, now=NOW)
    result = report.results[0]
    assert (result.status == "compliant") == suppressed, source
    if suppressed:
        s = result.suppressed[0]["suppression"]
        assert s["source"] == "vex" and s["expires"] is None and s["author"] == "security@acme.example"
        assert s["reason"] == f"{status}: vulnerable_code_not_in_execute_path"


def test_vex_scoped_to_a_package_and_by_alias() -> None:
    doc = openvex(
        statement("CVE-2023-5363", "not_affected", "pkg:deb/debian/libssl3@3.0.11-1", impact_statement="not linked"),
        {
            "vulnerability": {"name": "GHSA-xxxx", "aliases": ["CVE-2021-44228"]},
            "products": ["pkg:docker/acme/app"],
            "status": "fixed",
        },
    )
    vex = vex_suppressions(doc)
    report = evaluate(image(vulnerabilities=[OPENSSL, LOG4SHELL], vex=vex), VULNS, now=NOW)
    fixable = report.results[0]
    # The statement names libssl3, not openssl: openssl still counts; Log4Shell is covered through its alias.
    assert [v["id"] for v in fixable.violations] == ["CVE-2023-5363"]
    assert [s["id"] for s in fixable.suppressed] == ["CVE-2021-44228"]
    with pytest.raises(ValueError, match="OpenVEX"):
        vex_suppressions({"statements": []})


def scout_image(exceptions: list[dict[str, Any]]) -> ScoutImage:
    vuln = {
        "sourceId": "CVE-2023-45853",
        "cvss": {"severity": "CRITICAL", "score": 9.8},
        "fixedBy": "1.3",
        "isExcepted": True,
        "cisaExploited": False,
        "url": "https://scout.docker.com/v/CVE-2023-45853",
        "vulnerabilityExceptions": exceptions,
    }
    return ScoutImage("sha256:" + "1" * 64, "INDEXED", [{"purl": ZLIB.package, "vulnerabilities": [vuln]}])


def test_scout_exceptions_carry_reason_author_and_no_expiry() -> None:
    exception = {
        "id": "exc-42",
        "author": "jane@acme.example",
        "timestamp": "2024-04-01T00:00:00Z",
        "sourceType": "MANUAL_EXCEPTION",
        "type": "ACCEPTED_RISK",
        "justification": "VULNERABLE_CODE_NOT_IN_EXECUTE_PATH",
        "additionalDetails": "inflate is never called",
    }
    vulns, _ = scout_packages(scout_image([exception]))
    report = evaluate(image(vulnerabilities=vulns), ["fixable-vulnerabilities"], now=NOW)
    [item] = report.results[0].suppressed
    assert item["by"] == "exception" and item["url"] == "https://scout.docker.com/v/CVE-2023-45853"
    assert item["suppression"] == {
        "source": "scout-exception",
        "reason": "accepted risk, vulnerable_code_not_in_execute_path: inflate is never called",
        "expires": None,
        "author": "jane@acme.example",
        "document": "scout exception exc-42",
    }, src.EXCEPTION_FIELDS
    # Excepted without the details (an older answer): still suppressed, and the report says what it knows.
    bare, _ = scout_packages(scout_image([]))
    item = evaluate(image(vulnerabilities=bare), ["fixable-vulnerabilities"], now=NOW).results[0].suppressed[0]
    assert item["suppression"]["reason"].startswith("excepted in Scout")


def test_expired_suppressions_do_not_suppress_and_are_listed() -> None:
    later = datetime(2025, 1, 1, tzinfo=UTC)
    allow = [{"id": "CVE-2023-5363", "expires": "2024-12-31", "reason": "until the next release"}]
    report = evaluate(image(vulnerabilities=[OPENSSL]), ["fixable-vulnerabilities"], allow_list=allow, now=later)
    [item] = report.results[0].violations
    assert item["expired_suppressions"] == [
        {"source": "allow-list", "reason": "until the next release", "expires": "2024-12-31"}
    ]
    assert report.expired_allow_list == [
        {"id": "CVE-2023-5363", "expires": "2024-12-31", "reason": "until the next release"}
    ]


def test_allow_list_by_alias_and_scoped_to_a_package() -> None:
    allow = [{"id": "CVE-2021-44228", "package": "pkg:maven/org.apache.logging.log4j/log4j-core"}]
    aliased = replace(LOG4SHELL, id="GHSA-jfh8-c2jp-5v3q", aliases=("CVE-2021-44228",))
    other = replace(LOG4SHELL, package="pkg:maven/org.apache.logging.log4j/log4j-api@2.14.1")
    report = evaluate(
        image(vulnerabilities=[aliased, other]), ["high-profile-vulnerabilities"], allow_list=allow, now=NOW
    )
    result = report.results[0]
    assert [s["id"] for s in result.suppressed] == ["GHSA-jfh8-c2jp-5v3q"]
    assert [v["package"] for v in result.violations] == [other.package]


# -- the Scout CLI's --policy-config file ----------------------------------------------------------------------


def test_cli_policy_config_file_shape() -> None:
    cli = {
        "policies": [
            {"name": "fixable-vulnerabilities", "config": {"severities": ["CRITICAL"], "grace_period_days": 14}},
            {"name": "no-stale-base-images", "enabled": False},
        ]
    }
    selected, settings, _ = prepare(None, cli)
    assert "no-stale-base-images" not in selected, src.CONFIG_ENABLED
    assert "approved-base-images" in selected and "copyleft-license" in selected, src.CONFIG_ENABLED
    assert settings["fixable-vulnerabilities"]["severities"] == ["CRITICAL"], src.CONFIG_BODY
    assert settings["fixable-vulnerabilities"]["grace_period_days"] == 14
    # The same file as JSON text (a templated operator argument), with the CLI's debug switch.
    again = prepare(None, json.dumps({**cli, "debug": True}))
    assert again[0] == selected and again[1] == settings
    # Named policies narrow the set, and the file still disables.
    assert prepare(["fixable-vulnerabilities", "no-stale-base-images"], cli)[0] == ["fixable-vulnerabilities"]
    report = evaluate(image(vulnerabilities=[ZLIB, OPENSSL]), None, cli, now=NOW)
    assert report.result("fixable-vulnerabilities") is not None and report.result("no-stale-base-images") is None


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"policies": [{"name": "no-internal-registry"}]}, "custom Rego policies are not evaluated"),
        ({"policies": [{"name": "fixable-vulnerabilities", "confg": {}}]}, "unknown keys"),
        ({"policies": [{"name": "fixable-vulnerabilities", "enabled": "no"}]}, "true or false"),
        ({"policies": [{"config": {}}]}, "needs a 'name'"),
        ({"policies": [], "verbose": True}, "unknown keys"),
        ({"policies": [{"name": "fixable-vulnerabilities", "config": {"severity": ["HIGH"]}}]}, "unknown config keys"),
        ("{not json", "not JSON"),
    ],
)
def test_bad_cli_policy_config_is_refused(config: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        prepare(None, config)


def test_cli_config_names_and_the_docs_alias() -> None:
    # docker/docs once spelled the copyleft policy "no-copyleft-licenses" in an example (docs issue #25934).
    selected, _, _ = prepare(None, {"policies": [{"name": "no-copyleft-licenses", "enabled": False}]})
    assert "copyleft-license" not in selected, src.CONFIG_NAME
    assert prepare(None, {"policies": [{"name": "No copyleft licenses", "weight": 0}]})[0][2] == "copyleft-license"


# -- properties ------------------------------------------------------------------------------------------------


REFERENCE = st.from_regex(r"[a-z0-9.:-]{1,12}(/[a-z0-9._-]{1,10}){1,3}(:[a-zA-Z0-9._-]{1,12})?", fullmatch=True)
CVE = st.integers(min_value=1000, max_value=99999).map(lambda n: f"CVE-2024-{n}")
PURL = st.sampled_from(["pkg:deb/debian/openssl@3", "pkg:npm/ws@8", "pkg:pypi/requests@2", "pkg:apk/alpine/zlib@1"])
VULN = st.builds(
    lambda cve, purl, severity: Vulnerability(cve, severity, 9.0, purl, "99"),
    CVE,
    PURL,
    st.sampled_from(["CRITICAL", "HIGH"]),
)


@settings(max_examples=200, deadline=None)
@given(reference=REFERENCE)
def test_star_approves_everything_and_a_literal_only_itself(reference: str) -> None:
    assert pattern_matches("*", reference)
    assert pattern_matches(reference, reference)
    assert not pattern_matches(reference + "x", reference)
    registry = reference.split("/", 1)[0]
    assert pattern_matches(registry + "/*", reference)


@settings(max_examples=100, deadline=None)
@given(vulns=st.lists(VULN, max_size=8), extra=VULN)
def test_a_report_accepts_itself_and_any_new_identity_fails(vulns: list[Vulnerability], extra: Vulnerability) -> None:
    baseline = gate(vulns)
    assert baseline.diff(baseline).new == [] and baseline.failures(baseline) == []
    candidate = gate([*vulns, extra])
    known = {(v.id.upper(), v.package.split("@")[0]) for v in vulns}
    new = (extra.id.upper(), extra.package.split("@")[0]) not in known
    assert ("fixable-vulnerabilities" in candidate.failures(baseline)) == new
