"""The gate run end to end on the sandbox (real registry, Scout emulator indexing the pushed SBOMs): every platform
of a buildx-style index gated in one task, the verdict combined and reported per platform; the JSON report, the
markdown summary and a SARIF 2.1.0 file (validated against OASIS's schema) in object storage (``file://``); a
small XCom with the index digest and the report's hash; the accepted-risk ledger read as a baseline source and
updated by DockerHubAcceptRiskOperator; the extra link."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import ObjectStoragePath

from airflow_provider_dockerhub.client import DockerHubSession
from airflow_provider_dockerhub.client.policy.ledger import load_ledger
from airflow_provider_dockerhub.operators.policy import (
    IMAGE_URL_KEY,
    DockerHubAcceptRiskOperator,
    DockerHubScoutPolicyGateOperator,
    gated_record_path,
    image_page_url,
)
from airflow_provider_dockerhub.testing.oci import SbomPackage
from tests.integration.scout_sandbox import LOG4J, push_built, wait_indexed

pytestmark = pytest.mark.registry
PLATFORMS = ("linux/amd64", "linux/arm64")
ZLIB = SbomPackage("zlib", "1.3.1", "Zlib", "pkg:apk/alpine/zlib@1.3.1")
VULNERABILITY_POLICIES = ["fixable-vulnerabilities", "high-profile-vulnerabilities"]
SARIF_SCHEMA = Path(__file__).resolve().parents[2] / "contract" / "data" / "sarif-schema-2.1.0.json"


class FakeTI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def run(operator: Any, **context: Any) -> tuple[dict[str, Any], FakeTI]:
    ti = FakeTI()
    return operator.execute({"ti": ti, **context}), ti


def gate(conn: str, image: str, reports: Path, **kwargs: Any) -> DockerHubScoutPolicyGateOperator:
    return DockerHubScoutPolicyGateOperator(
        task_id="gate",
        image=image,
        policies=kwargs.pop("policies", VULNERABILITY_POLICIES),
        report_dir=reports.as_uri(),
        dockerhub_conn_id=conn,
        **kwargs,
    )


@pytest.fixture
def log4j_index(sandbox_conn: str, sandbox_session: DockerHubSession, tmp_path: Path) -> Any:
    """acme/app:rc, two platforms, Log4Shell on arm64 only; indexed by the sandbox's Scout."""
    layout = push_built(
        sandbox_session,
        tmp_path,
        "acme/app",
        "rc",
        platforms=PLATFORMS,
        packages=[ZLIB],
        extra_packages={"linux/arm64": [LOG4J]},
    )
    wait_indexed(sandbox_conn, "acme/app", layout.digest)
    return layout


def test_every_platform_gated_in_one_task_combined_and_reported_per_platform(
    sandbox_conn: str, log4j_index: Any, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    result, ti = run(gate(sandbox_conn, "acme/app:rc", reports, on_failure="warn"))
    assert result["digest"] == log4j_index.digest  # the index's digest, as the push and the copy return it
    assert result["status"] == "failed" and result["passed"] is False
    assert result["platforms"] == {
        "linux/amd64": {"digest": log4j_index.manifests["linux/amd64"], "status": "passed", "failures": []},
        "linux/arm64": {
            "digest": log4j_index.manifests["linux/arm64"],
            "status": "failed",
            "failures": VULNERABILITY_POLICIES,
        },
    }
    assert result["counts"]["platforms"] == 2 and result["counts"]["platforms_failed"] == 1
    assert len(json.dumps(result)) < 4096 and json.loads(json.dumps(result)) == result  # small, JSON primitives
    assert ti.pushed[IMAGE_URL_KEY] is None  # not a Docker Hub image: no link rather than a wrong one

    document = Path(ObjectStoragePath(result["reports"]["json"]).path).read_bytes()
    assert result["report_hash"] == "sha256:" + hashlib.sha256(document).hexdigest()
    report = json.loads(document)
    arm = next(p for p in report["platforms"] if p["platform"] == "linux/arm64")
    (log4shell,) = {f["id"]: f for f in arm["findings"] if f["policy"] == "high-profile-vulnerabilities"}.values()
    assert log4shell["id"] == "CVE-2021-44228" and log4shell["url"] == "https://scout.docker.com/v/CVE-2021-44228"
    assert log4shell["purl"] == LOG4J.purl and log4shell["fix_version"] == "2.15.0"

    summary = Path(ObjectStoragePath(result["reports"]["markdown"]).path).read_text()
    assert "[CVE-2021-44228](https://scout.docker.com/v/CVE-2021-44228)" in summary
    assert "| linux/arm64 |" in summary and "**failed**" in summary

    gated = json.loads(gated_record_path(reports.as_uri(), "acme/app", log4j_index.digest).read_bytes())
    assert gated["report_hash"] == result["report_hash"] and gated["passed"] is False


def test_the_sarif_file_is_valid_sarif_2_1_0_with_policies_as_rules(
    sandbox_conn: str, log4j_index: Any, tmp_path: Path
) -> None:
    result, _ = run(gate(sandbox_conn, "acme/app:rc", tmp_path / "reports", on_failure="warn"))
    sarif = json.loads(Path(ObjectStoragePath(result["reports"]["sarif"]).path).read_bytes())
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(sarif), key=str)
    assert errors == [], [e.message for e in errors][:5]
    (run_,) = sarif["runs"]
    rules = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    assert rules == VULNERABILITY_POLICIES
    errors_found = [r for r in run_["results"] if r["level"] == "error"]
    assert {r["ruleId"] for r in errors_found} == set(VULNERABILITY_POLICIES)
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in run_["results"])
    assert {r["properties"]["helpUri"] for r in errors_found} == {"https://scout.docker.com/v/CVE-2021-44228"}
    assert {r["properties"]["platform"] for r in errors_found} == {"linux/arm64"}


def test_one_platform_can_be_chosen_and_the_others_are_not_read(
    sandbox_conn: str, log4j_index: Any, tmp_path: Path
) -> None:
    result, _ = run(gate(sandbox_conn, "acme/app:rc", tmp_path, platforms=["linux/amd64"]))
    assert result["passed"] is True and list(result["platforms"]) == ["linux/amd64"]
    with pytest.raises(AirflowFailException, match="linux/arm64: fixable"):
        run(gate(sandbox_conn, f"acme/app@{log4j_index.digest}", tmp_path, platform="linux/arm64"))


def test_the_ledger_accepts_a_risk_by_identity_with_its_acceptor_and_expiry(
    sandbox_conn: str, log4j_index: Any, tmp_path: Path
) -> None:
    ledger = (tmp_path / "accepted-risks").as_uri()
    risk = {
        "policy": "high-profile-vulnerabilities",
        "id": "CVE-2021-44228",
        "package": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.0",  # another version: the same package
        "reason": "JndiLookup class removed from the jar",
        "expires": "2999-12-31",
    }
    fixable = {**risk, "policy": "fixable-vulnerabilities"}
    with pytest.raises(AirflowFailException, match="acceptor"):
        run(DockerHubAcceptRiskOperator(task_id="accept", ledger=ledger, risks=[risk]))
    accepted, _ = run(
        DockerHubAcceptRiskOperator(task_id="accept", ledger=ledger, risks=[risk]),
        dag_run=type("Run", (), {"triggering_user_name": "carol"})(),
    )
    assert accepted["revision"] == 1 and accepted["accepted"][0]["accepted_by"] == "carol"

    # Only the high-profile finding is accepted: the fixable-critical one still fails the gate.
    with pytest.raises(AirflowFailException, match=r"linux/arm64: fixable-vulnerabilities$"):
        run(gate(sandbox_conn, "acme/app:rc", tmp_path / "r", accepted_risks=ledger))
    run(DockerHubAcceptRiskOperator(task_id="accept", ledger=ledger, risks=[fixable], accepted_by="dave"))
    result, _ = run(gate(sandbox_conn, "acme/app:rc", tmp_path / "r", accepted_risks=ledger))
    assert result["passed"] is True and result["counts"]["accepted"] == 2
    report = json.loads(Path(ObjectStoragePath(result["reports"]["json"]).path).read_bytes())
    arm = next(p for p in report["platforms"] if p["platform"] == "linux/arm64")
    shown = {(f["policy"], f["accepted_by"]) for f in arm["findings"] if f["status"] == "accepted"}
    assert shown == {("high-profile-vulnerabilities", "carol"), ("fixable-vulnerabilities", "dave")}

    # An expired acceptance accepts nothing.
    expired = {**fixable, "expires": "2020-01-01", "reason": "superseded: accepted only until 2020"}
    run(DockerHubAcceptRiskOperator(task_id="accept", ledger=ledger, risks=[expired], accepted_by="erin"))
    with pytest.raises(AirflowFailException, match="fixable-vulnerabilities"):
        run(gate(sandbox_conn, "acme/app:rc", tmp_path / "r", accepted_risks=ledger))
    stored = load_ledger(ObjectStoragePath(ledger))
    assert stored.revision == 3 and [r.accepted_by for r in stored.records] == ["carol", "dave", "erin"]  # audit trail


@pytest.mark.parametrize(
    "case",
    [
        (
            "registry-1.docker.io",
            "acme/app",
            "1.0",
            "sha256:" + "a" * 64,
            "acme",
            "https://hub.docker.com/layers/acme/app/1.0/images/sha256-" + "a" * 64,
        ),
        (
            "docker.io",
            "library/alpine",
            "3.20",
            "sha256:" + "b" * 64,
            None,
            "https://hub.docker.com/layers/library/alpine/3.20/images/sha256-" + "b" * 64,
        ),
        (
            "registry-1.docker.io",
            "acme/app",
            None,
            "sha256:" + "c" * 64,
            "acme",
            "https://scout.docker.com/reports/org/acme/images/host/hub.docker.com/repo/acme%2Fapp/digest/sha256%3A"
            + "c" * 64,
        ),
        ("registry-1.docker.io", "acme/app", None, "sha256:" + "c" * 64, None, None),
        ("ghcr.io", "acme/app", "1.0", "sha256:" + "d" * 64, "acme", None),
        ("127.0.0.1:5000", "acme/app", "1.0", "sha256:" + "d" * 64, "acme", None),
    ],
)
def test_the_extra_link_is_a_page_of_this_digest_or_none(case: tuple[Any, ...]) -> None:
    *arguments, expected = case  # registry host, repository, tag, digest, organization
    url = image_page_url(*arguments)
    assert url == expected
    assert url is None or "latest" not in url
