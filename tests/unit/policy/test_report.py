"""The gate report (pure): findings per platform by the engine's identity, the combined verdict, SARIF 2.1.0 valid
against OASIS's schema whatever the findings, markdown that a finding cannot break, an XCom that stays small with
thousands of findings, a stable hash, and drift between two reports of one digest."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from airflow_provider_dockerhub.client.policy.engine import evaluate
from airflow_provider_dockerhub.client.policy.evidence import ImageEvidence, Package, Vulnerability
from airflow_provider_dockerhub.client.policy.report import (
    GateReport,
    PlatformOutcome,
    drift,
    log_table,
    markdown,
    report_hash,
    sarif,
    xcom_summary,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
POLICIES = ["fixable-vulnerabilities", "high-profile-vulnerabilities"]
SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "contract" / "data" / "sarif-schema-2.1.0.json").read_text())


def platform(name: str, digest_char: str, vulns: list[Vulnerability]) -> PlatformOutcome:
    evidence = ImageEvidence(
        reference="acme/app:rc",
        digest="sha256:" + digest_char * 64,
        platform=name,
        vulnerabilities=vulns,
        packages=[Package(v.package, v.package.rsplit("/", 1)[-1], "1", "maven") for v in vulns]
        or [Package("pkg:apk/alpine/zlib@1.3", "zlib", "1.3", "apk")],
        sources={"vulnerabilities": "scout"},
    )
    report = evaluate(evidence, POLICIES, now=NOW)
    return PlatformOutcome(name, evidence.digest, report, report.failures())


def vuln(cve: str, package: str, severity: str = "CRITICAL", fix: str | None = "2.0") -> Vulnerability:
    return Vulnerability(cve, severity, 9.8, package, fixed_by=fix, published_at=datetime(2024, 1, 1, tzinfo=UTC))


def gate(*platforms: PlatformOutcome) -> GateReport:
    return GateReport(
        "acme/app:rc",
        "docker.io",
        "acme/app",
        "sha256:" + "f" * 64,
        "application/vnd.oci.image.index.v1+json",
        list(platforms),
        NOW.isoformat(),
    )


LOG4J = "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"


def test_the_verdict_is_combined_and_reported_per_platform() -> None:
    report = gate(platform("linux/amd64", "a", []), platform("linux/arm64", "b", [vuln("CVE-2021-44228", LOG4J)]))
    assert report.status == "failed" and report.failures == POLICIES
    summary = xcom_summary(report, report_hash_value=report_hash(report.document()))
    assert summary["platforms"]["linux/amd64"]["status"] == "passed"
    assert summary["platforms"]["linux/arm64"]["failures"] == POLICIES
    table = log_table(report)
    assert "linux/arm64" in table and "https://scout.docker.com/v/CVE-2021-44228" in table


def test_sarif_is_valid_for_violations_and_suppressions_and_markdown_is_not_broken_by_a_finding() -> None:
    nasty = vuln("CVE-2024-0001", "pkg:npm/%7Cpipe%7C@1.0|x", severity="HIGH")
    report = gate(platform("linux/amd64", "a", [nasty, vuln("CVE-2021-44228", LOG4J)]))
    document = sarif(report, "1.2.3")
    errors = [e.message for e in jsonschema.Draft4Validator(SCHEMA).iter_errors(document)]
    assert errors == []
    helps = {r["properties"]["helpUri"] for r in document["runs"][0]["results"]}
    assert "https://scout.docker.com/v/CVE-2021-44228" in helps
    rows = [line for line in markdown(report).splitlines() if "CVE-2024-0001" in line]
    assert rows and all(line.count(" | ") == 5 for line in rows)  # the '|' in the purl is escaped


def test_the_xcom_stays_small_with_thousands_of_findings() -> None:
    many = [vuln(f"CVE-2025-{n:05d}", f"pkg:deb/debian/lib{n}@1.0") for n in range(2000)]
    report = gate(platform("linux/amd64", "a", many), platform("linux/arm64", "b", many))
    summary = xcom_summary(report, report_hash_value=report_hash(report.document()))
    assert summary["counts"]["violations"] == 4000
    assert len(json.dumps(summary)) < 2048
    assert json.loads(json.dumps(summary)) == summary


def test_the_hash_is_of_the_canonical_document() -> None:
    one = gate(platform("linux/amd64", "a", [vuln("CVE-2021-44228", LOG4J)]))
    two = gate(platform("linux/amd64", "a", [vuln("CVE-2021-44228", LOG4J)]))
    assert one.document() == two.document() and report_hash(one.document()) == report_hash(two.document())
    assert report_hash(one.document()).startswith("sha256:") and len(report_hash(one.document())) == 71


@pytest.mark.parametrize(
    ("before", "after", "new", "fixed"),
    [
        ([], [("CVE-2026-0001", LOG4J)], ["CVE-2026-0001"], []),
        ([("CVE-2021-44228", LOG4J)], [], [], ["CVE-2021-44228"]),
        # A patch bump of the same package keeps the identity: not drift.
        ([("CVE-2021-44228", LOG4J)], [("CVE-2021-44228", LOG4J.replace("2.14.1", "2.14.2"))], [], []),
    ],
)
def test_drift_by_identity(before: list[Any], after: list[Any], new: list[str], fixed: list[str]) -> None:
    old = gate(platform("linux/amd64", "a", [vuln(c, p) for c, p in before])).to_json()
    now = gate(platform("linux/amd64", "a", [vuln(c, p) for c, p in after])).to_json()
    change = drift(old, now)
    assert sorted({f["id"] for f in change["new"]}) == new and sorted({f["id"] for f in change["fixed"]}) == fixed
    assert change["drifted"] is bool(new or old["status"] != now["status"])
