"""The Scout emulator answers from Scout's own schema, and the Scout client reads those answers correctly."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import respx

from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession
from airflow_provider_dockerhub.client.scout.api import ImageCoordinates, ScoutGraphQLError
from airflow_provider_dockerhub.client.scout.documents import DOCUMENTS
from airflow_provider_dockerhub.testing.scout_emulator import EmulatedImage, ScoutEmulator, package, vulnerability
from airflow_provider_dockerhub.testing.scout_schema import SCOUT_SDL_SUBSET, subset_sdl
from tests.specs import spec_path

DIGEST = "sha256:" + "ab" * 32
SCOUT = "https://api.scout.docker.com/v1/graphql"


def test_embedded_subset_is_exactly_what_the_full_schema_gives() -> None:
    full = spec_path("docker-scout-schema.graphql").read_text()
    assert subset_sdl(full, list(DOCUMENTS.values())).strip() == SCOUT_SDL_SUBSET.strip()


@pytest.fixture
def scout_emulator() -> ScoutEmulator:
    scout = ScoutEmulator(
        schema_sdl=spec_path("docker-scout-schema.graphql").read_text(),
        token_valid=lambda token: "alice" if token == "hub-jwt" else None,
        entitled_orgs={"acme"},
    )
    scout.add_image(
        EmulatedImage(
            "hub.docker.com",
            "acme/app",
            DIGEST,
            packages=[
                package(
                    "pkg:deb/debian/openssl@3.0.11",
                    licenses=["Apache-2.0"],
                    vulnerabilities=[vulnerability("CVE-2024-0001", "HIGH", fixed_by="3.0.13", score=7.5)],
                ),
                package("pkg:npm/left-pad@1.0.0", licenses=["AGPL-3.0-only"]),
            ],
            polls_until_indexed=1,
        )
    )
    return scout


@pytest.fixture
def scout_session(scout_emulator: ScoutEmulator) -> Iterator[DockerHubSession]:
    def answer(request: httpx.Request) -> httpx.Response:
        status, body = scout_emulator.execute(json.loads(request.content), request.headers.get("authorization"))
        return httpx.Response(status, json=body)

    with respx.mock(assert_all_called=False) as router:
        router.post("https://hub.docker.com/v2/auth/token").mock(
            return_value=httpx.Response(200, json={"access_token": "hub-jwt"})
        )
        router.post(SCOUT).mock(side_effect=answer)
        config = ClientConfig.from_fields("alice", "dckr_pat_x", {"namespace": "acme"})
        with DockerHubSession(config) as s:
            yield s


def test_client_reads_index_state_packages_and_vulnerabilities(scout_session: DockerHubSession) -> None:
    coords = ImageCoordinates.for_registry("registry-1.docker.io", "acme/app", DIGEST)
    assert scout_session.scout.index_state("acme", coords) == "INDEXING"
    assert scout_session.scout.index_state("acme", coords) == "INDEXED"
    image = scout_session.scout.image("acme", coords)
    assert image is not None and image.indexed
    (openssl, left_pad) = image.packages
    assert openssl["vulnerabilities"][0]["sourceId"] == "CVE-2024-0001"
    assert openssl["vulnerabilities"][0]["cvss"] == {"severity": "HIGH", "score": 7.5}
    assert left_pad["licenses"] == ["AGPL-3.0-only"]


def test_unknown_image_is_none(scout_session: DockerHubSession) -> None:
    coords = ImageCoordinates("hub.docker.com", "acme/other", "sha256:" + "cd" * 32)
    assert scout_session.scout.image("acme", coords) is None
    assert scout_session.scout.index_state("acme", coords) == "NONE"


def test_not_entitled_is_a_clear_error(scout_session: DockerHubSession) -> None:
    coords = ImageCoordinates("hub.docker.com", "acme/app", DIGEST)
    with pytest.raises(ScoutGraphQLError, match="not entitled") as exc:
        scout_session.scout.image("other-org", coords)
    assert exc.value.not_entitled


def test_a_query_the_schema_rejects_fails_like_at_scout(scout_emulator: ScoutEmulator) -> None:
    status, body = scout_emulator.execute({"query": "query { imageSummariesByDigest { nope } }"}, "Bearer hub-jwt")
    assert status == 200 and body["errors"] and body["data"] is None


def test_unauthenticated_is_401(scout_emulator: ScoutEmulator) -> None:
    status, _ = scout_emulator.execute({"query": DOCUMENTS["ProviderOrganizationStatus"]}, "Bearer forged")
    assert status == 401
