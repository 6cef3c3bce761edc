"""The Scout emulator is as strict as Scout's schema lets it be: ``includeExcepted`` defaults to false, private
images are visible only with their organization (public ones with ``includePublic`` too), an organization not
entitled gets Scout's 402 error (never ``false``), a non-member gets FORBIDDEN, a disabled repository says so."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dockerhub.client.scout.documents import DOCUMENTS
from airflow_provider_dockerhub.testing.scout_emulator import EmulatedImage, ScoutEmulator, package, vulnerability
from tests.specs import spec_path

PRIVATE = "sha256:" + "1" * 64
PUBLIC = "sha256:" + "2" * 64


@pytest.fixture
def scout() -> ScoutEmulator:
    emulator = ScoutEmulator(
        schema_sdl=spec_path("docker-scout-schema.graphql").read_text(),
        token_valid={"jwt-alice": "alice", "jwt-mallory": "mallory"}.get,
        entitled_orgs={"acme"},
        members=lambda identity, org: identity == "alice",
    )
    vulns = [vulnerability("CVE-2024-0001", "HIGH", fixed_by="2"), vulnerability("CVE-2024-0002", "LOW", excepted=True)]
    pkg = package("pkg:deb/debian/openssl@3.0.11", vulnerabilities=vulns)
    emulator.add_image(EmulatedImage("hub.docker.com", "acme/app", PRIVATE, packages=[pkg]))
    emulator.add_image(EmulatedImage("hub.docker.com", "library/alpine", PUBLIC, packages=[pkg], private=False))
    return emulator


def ask(scout: ScoutEmulator, document: str, variables: dict[str, Any], token: str = "jwt-alice") -> dict[str, Any]:
    status, body = scout.execute({"query": DOCUMENTS[document], "variables": variables}, f"Bearer {token}")
    assert status == 200
    return body


def packages(scout: ScoutEmulator, digest: str, repo: str, org: str | None, **query: Any) -> Any:
    context = {"organization": org} if org else {}
    variables = {
        "context": context,
        "query": {"digest": digest, "hostName": "hub.docker.com", "repoName": repo, **query},
    }
    return ask(scout, "ProviderImagePackages", variables)["data"]["imagePackagesForImageCoords"]


def test_excepted_vulnerabilities_only_when_asked_for(scout: ScoutEmulator) -> None:
    default = packages(scout, PRIVATE, "acme/app", "acme")["imagePackages"]["packages"][0]["package"]
    assert [v["sourceId"] for v in default["vulnerabilities"]] == ["CVE-2024-0001"]
    asked = packages(scout, PRIVATE, "acme/app", "acme", includeExcepted=True)["imagePackages"]["packages"]
    assert [v["sourceId"] for v in asked[0]["package"]["vulnerabilities"]] == ["CVE-2024-0001", "CVE-2024-0002"]


def test_organization_visibility(scout: ScoutEmulator) -> None:
    assert packages(scout, PRIVATE, "acme/app", None) is None  # no organization: public data only
    assert packages(scout, PUBLIC, "library/alpine", None)["digest"] == PUBLIC
    assert packages(scout, PUBLIC, "library/alpine", "acme") is None  # an org context: the org's images
    assert packages(scout, PUBLIC, "library/alpine", "acme", includePublic=True)["digest"] == PUBLIC
    summaries = ask(
        scout,
        "ProviderImageSummaries",
        {"context": {}, "digests": [PRIVATE], "repository": {"hostName": "hub.docker.com", "repoName": "acme/app"}},
    )
    assert summaries["data"]["imageSummariesByDigest"] == []


@pytest.mark.parametrize("document", ["ProviderOrganizationStatus", "ProviderImageSummaries"])
def test_not_entitled_is_scouts_error_not_false(scout: ScoutEmulator, document: str) -> None:
    variables: dict[str, Any] = {"context": {"organization": "globex"}}
    if document == "ProviderImageSummaries":
        variables |= {"digests": [PRIVATE], "repository": {"hostName": "hub.docker.com", "repoName": "acme/app"}}
    body = ask(scout, document, variables)
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "PAYMENT_REQUIRED", "status": 402} and "not entitled" in error["message"]
    assert body["data"] is None


def test_a_non_member_is_forbidden(scout: ScoutEmulator) -> None:
    body = ask(scout, "ProviderOrganizationStatus", {"context": {"organization": "acme"}}, token="jwt-mallory")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_disabled_repository_says_so_and_is_never_indexed(scout: ScoutEmulator) -> None:
    variables = {"context": {"organization": "acme"}, "repoName": "acme/app", "hostName": "hub.docker.com"}
    features = ask(scout, "ProviderRepositoryFeatures", variables)["data"]["repoFeatures"]
    assert features == {"vulnerabilityReporting": {"enabled": True}}
    scout.disable_repository("hub.docker.com", "acme/app")
    features = ask(scout, "ProviderRepositoryFeatures", variables)["data"]["repoFeatures"]
    assert features == {"vulnerabilityReporting": {"enabled": False}}
