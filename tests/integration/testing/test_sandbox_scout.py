"""The sandbox's Scout indexes from the image's real SBOM wherever it is attached, and flags what its own advisory
table lists: log4j-core 2.14.1 (CVE-2021-44228, Log4Shell) in an SBOM attached at the index level, as buildx
attaches it (an attestation manifest in the index) and as ORAS attaches it (a referrer of the index)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dockerhub.client import DockerHubSession
from airflow_provider_dockerhub.client.scout.api import ImageCoordinates
from airflow_provider_dockerhub.operators.policy import DockerHubScoutPolicyGateOperator
from airflow_provider_dockerhub.testing.oci import SPDX_JSON, SbomPackage, push_referrers, referrer_artifact, spdx_sbom
from airflow_provider_dockerhub.testing.sandbox import ORG, Sandbox, affecting
from tests.integration.scout_sandbox import LOG4J, push_built, wait_indexed

pytestmark = pytest.mark.registry
PLATFORMS = ("linux/amd64", "linux/arm64")
ZLIB = SbomPackage("zlib", "1.3.1", "Zlib", "pkg:apk/alpine/zlib@1.3.1")


class FakeTI:
    def xcom_push(self, key: str, value: Any) -> None:
        pass


def scout_packages(box: Sandbox, session: DockerHubSession, repository: str, digest: str) -> dict[str, Any]:
    assert box.registry is not None
    coords = ImageCoordinates.for_registry(box.registry.host, repository, digest)
    image = session.scout.image(ORG, coords)
    assert image is not None and image.indexed, image
    return {p["name"]: p for p in image.packages}


def gate(conn: str, image: str, tmp: Path, **kwargs: Any) -> DockerHubScoutPolicyGateOperator:
    return DockerHubScoutPolicyGateOperator(
        task_id="gate",
        image=image,
        policies=["fixable-vulnerabilities", "high-profile-vulnerabilities"],
        report_dir=tmp.as_uri(),
        dockerhub_conn_id=conn,
        **kwargs,
    )


def test_log4j_in_an_index_level_attestation_manifest_is_flagged(
    sandbox: Sandbox, sandbox_conn: str, sandbox_session: DockerHubSession, tmp_path: Path
) -> None:
    layout = push_built(
        sandbox_session,
        tmp_path,
        "acme/log4j",
        "1.0",
        platforms=PLATFORMS,
        packages=[ZLIB],
        extra_packages={"linux/arm64": [LOG4J]},
    )
    wait_indexed(sandbox_conn, "acme/log4j", layout.digest)
    arm = scout_packages(sandbox, sandbox_session, "acme/log4j", layout.manifests["linux/arm64"])
    (log4shell,) = arm["log4j-core"]["vulnerabilities"]
    assert log4shell["sourceId"] == "CVE-2021-44228" and log4shell["cvss"]["severity"] == "CRITICAL"
    assert "log4j-core" not in scout_packages(sandbox, sandbox_session, "acme/log4j", layout.manifests["linux/amd64"])

    with pytest.raises(AirflowFailException, match="linux/arm64: fixable-vulnerabilities, high-profile") as failed:
        gate(sandbox_conn, "acme/log4j:1.0", tmp_path).execute({"ti": FakeTI()})
    assert "linux/amd64" not in str(failed.value)  # the clean platform is not blamed


def test_log4j_in_an_sbom_referrer_of_the_index_is_flagged(
    sandbox: Sandbox, sandbox_conn: str, sandbox_session: DockerHubSession, tmp_path: Path
) -> None:
    layout = push_built(sandbox_session, tmp_path, "acme/oras", "1.0", platforms=PLATFORMS, attestations=False)
    index = (layout.path / "blobs" / "sha256" / layout.digest.split(":")[1]).read_bytes()
    sbom = spdx_sbom([{"name": "log4j-core", "version": "2.14.1", "license": "Apache-2.0", "purl": LOG4J.purl or ""}])
    artifact = referrer_artifact(index, SPDX_JSON, [(SPDX_JSON, json.dumps(sbom).encode(), None)])
    push_referrers(sandbox_session.registry, "acme/oras", layout.digest, [artifact])
    wait_indexed(sandbox_conn, "acme/oras", layout.digest)
    for platform in PLATFORMS:  # the index's SBOM describes each of its images
        packages = scout_packages(sandbox, sandbox_session, "acme/oras", layout.manifests[platform])
        assert [v["sourceId"] for v in packages["log4j-core"]["vulnerabilities"]] == ["CVE-2021-44228"]
    result = gate(sandbox_conn, "acme/oras:1.0", tmp_path, on_failure="warn").execute({"ti": FakeTI()})
    assert result["passed"] is False and result["digest"] == layout.digest
    assert {p: s["status"] for p, s in result["platforms"].items()} == dict.fromkeys(PLATFORMS, "failed")


def test_no_sbom_is_never_reported_indexed(sandbox: Sandbox, sandbox_session: DockerHubSession, tmp_path: Path) -> None:
    assert sandbox.registry is not None
    layout = push_built(sandbox_session, tmp_path, "acme/nosbom", "1.0", platforms=PLATFORMS, attestations=False)
    coords = ImageCoordinates.for_registry(sandbox.registry.host, "acme/nosbom", layout.manifests["linux/amd64"])
    assert sandbox_session.scout.index_state(ORG, coords) == "INDEXING_UNAVAILABLE"
    image = sandbox_session.scout.image(ORG, coords)
    assert image is not None and not image.indexed and image.packages == []


def test_the_advisory_table_matches_versions_below_the_fix() -> None:
    assert [a["sourceId"] for a in affecting("log4j-core", "2.14.1")] == ["CVE-2021-44228"]
    assert affecting("log4j-core", "2.17.1") == []  # fixed by 2.15.0
    assert [a["sourceId"] for a in affecting("busybox", "1.36.1")] == ["CVE-2023-42366"]  # no fix: every version
