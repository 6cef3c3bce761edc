"""The emulator as an adversary, driven with raw httpx: each paging mode does what it says to every listing shape
(Hub ``page``/``count``, the audit log, SCIM ``startIndex``), undeclared body fields are refused, and responses
are validated against the spec by default (every test here ends with no request or response violation).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_dockerhub import testing
from airflow_provider_dockerhub.testing.hub import ADVERSARY_MODES, HubEmulator, find_hub_spec
from airflow_provider_dockerhub.testing.hub.adversary import CAP_PAGE_SIZE, DEFAULT_PAGE_SIZE

SPEC = find_hub_spec()
pytestmark = pytest.mark.skipif(SPEC is None, reason="../shared/specs/docker-hub-api.yaml is not present")
SCIM = {"Authorization": "Bearer scim-token"}


def test_the_modes_are_exported_by_both_packages() -> None:
    assert testing.ADVERSARY_MODES is ADVERSARY_MODES
    assert set(ADVERSARY_MODES) == {
        "cap_page_size",
        "ignore_page_size",
        "drift_totals",
        "insert_during_paging",
        "ingest_late",
        "ignore_page",
    }
    with pytest.raises(ValueError, match="unknown adversary modes"):
        HubEmulator(adversary={"cap_page_sizes"})
    with pytest.raises(ValueError, match="collection"):
        HubEmulator(adversary="cap_page_size")


@pytest.fixture
def emu(request: pytest.FixtureRequest) -> Iterator[HubEmulator]:
    modes = getattr(request, "param", ())
    with HubEmulator(SPEC, adversary=modes) as emulator:
        emulator.seed_repositories("acme", 120)
        emulator.seed_audit_events("acme", 120, start="2026-03-01T00:00:00Z", step_seconds=60)
        emulator.seed_scim_users(120)
        yield emulator
        assert emulator.violations == []
        assert emulator.response_violations == [], emulator.response_violations


def client(emulator: HubEmulator) -> httpx.Client:
    jwt = httpx.post(f"{emulator.url}/v2/auth/token", json={"identifier": "alice", "secret": "alice-pat"})
    return httpx.Client(
        base_url=emulator.url, timeout=10, headers={"Authorization": f"Bearer {jwt.json()['access_token']}"}
    )


def repos(c: httpx.Client, page: int, size: int = 100) -> dict[str, Any]:
    response = c.get("/v2/namespaces/acme/repositories", params={"page": page, "page_size": size})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def audit(c: httpx.Client, page: int, size: int = 100) -> list[dict[str, Any]]:
    response = c.get("/v2/auditlogs/acme", params={"page": page, "page_size": size})
    assert response.status_code == 200, response.text
    logs: list[dict[str, Any]] = response.json()["logs"]
    return logs


def scim(c: httpx.Client, start: int, count: int = 100) -> dict[str, Any]:
    response = c.get("/v2/scim/2.0/Users", params={"startIndex": start, "count": count}, headers=SCIM)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_without_modes_every_listing_is_honest(emu: HubEmulator) -> None:
    with client(emu) as c:
        first = repos(c, 1)
        assert (first["count"], len(first["results"]), first["next"] is not None) == (120, 100, True)
        assert len(audit(c, 1)) == 100 and len(audit(c, 2)) == 20
        body = scim(c, 1)
        assert (body["totalResults"], len(body["resources"])) == (120, 100)


@pytest.mark.parametrize("emu", [("cap_page_size",)], indirect=True)
def test_cap_page_size_caps_every_listing_at_50(emu: HubEmulator) -> None:
    with client(emu) as c:
        assert len(repos(c, 1)["results"]) == CAP_PAGE_SIZE
        assert repos(c, 2)["results"][0]["name"] == "repo-00050"  # offsets follow the capped size
        assert len(audit(c, 1)) == CAP_PAGE_SIZE
        assert len(scim(c, 1)["resources"]) == CAP_PAGE_SIZE


@pytest.mark.parametrize("emu", [("ignore_page_size",)], indirect=True)
def test_ignore_page_size_serves_the_default_25(emu: HubEmulator) -> None:
    with client(emu) as c:
        assert len(repos(c, 1, size=100)["results"]) == DEFAULT_PAGE_SIZE
        assert len(repos(c, 1, size=5)["results"]) == DEFAULT_PAGE_SIZE
        assert len(audit(c, 1)) == DEFAULT_PAGE_SIZE
        assert len(scim(c, 1)["resources"]) == DEFAULT_PAGE_SIZE


@pytest.mark.parametrize("emu", [("drift_totals",)], indirect=True)
def test_drift_totals_understates_and_changes_the_count_and_drops_next(emu: HubEmulator) -> None:
    with client(emu) as c:
        first, second = repos(c, 1, size=50), repos(c, 2, size=50)
        assert (first["count"], second["count"]) == (60, 96)  # 120 real: half, then four fifths
        assert first["next"] is not None and second["next"] is None  # next follows the understated count
        assert len(repos(c, 3, size=50)["results"]) == 20  # yet page 3 exists
        assert (scim(c, 1)["totalResults"], scim(c, 101)["totalResults"]) == (60, 96)


@pytest.mark.parametrize("emu", [("ignore_page",)], indirect=True)
def test_ignore_page_answers_the_first_page_every_time(emu: HubEmulator) -> None:
    with client(emu) as c:
        assert repos(c, 2)["results"] == repos(c, 1)["results"]
        assert audit(c, 7) == audit(c, 1)
        assert scim(c, 101)["resources"] == scim(c, 1)["resources"]


@pytest.mark.parametrize("emu", [("insert_during_paging",)], indirect=True)
def test_insert_during_paging_shifts_the_next_page_by_one(emu: HubEmulator) -> None:
    with client(emu) as c:
        first, second = repos(c, 1, size=50), repos(c, 2, size=50)
        assert second["count"] == 121 and second["results"][0] == first["results"][-1]  # the repeat
        assert repos(c, 3, size=50)["count"] == 121  # one insertion per listing pass
        assert repos(c, 1, size=50)["results"][0]["name"].startswith("0-inserted-")  # sorts first: missed
        logs = audit(c, 1, size=50), audit(c, 2, size=50)
        assert logs[1][0] == logs[0][-1]
        users = scim(c, 1, count=50), scim(c, 51, count=50)
        assert users[1]["totalResults"] == 121 and users[1]["resources"][0] == users[0]["resources"][-1]


@pytest.mark.parametrize("emu", [("ingest_late",)], indirect=True)
def test_ingest_late_shows_every_third_event_to_the_second_listing_only(emu: HubEmulator) -> None:
    with client(emu) as c:
        assert len(audit(c, 1, size=100) + audit(c, 2, size=100)) == 80  # the first listing: 40 held back
        every = audit(c, 1, size=100) + audit(c, 2, size=100)
        assert len(every) == 120 and min(e["timestamp"] for e in every) == "2026-03-01T00:00:00Z"


def test_undeclared_body_fields_are_refused(emu: HubEmulator) -> None:
    with client(emu) as c:
        response = c.post("/v2/namespaces/acme/repositories", json={"name": "web", "namespace": "acme", "is_privat": 1})
        assert response.status_code == 400
        assert "'is_privat' is not declared" in response.json()["detail"]
        assert "acme/web" not in {f"{ns}/{n}" for ns, n in emu.state.repos}  # nothing was created
        created = c.post(
            "/v2/namespaces/acme/repositories", json={"name": "web", "namespace": "acme", "is_private": True}
        )
        assert created.status_code == 201 and created.json()["is_private"] is True
        nested = c.post(
            "/v2/scim/2.0/Users",
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "x@example.com",
                "name": {"givenName": "X", "familyNme": "Y"},
            },
            headers={**SCIM, "Content-Type": "application/scim+json"},
        )
        assert nested.status_code == 400 and "'familyNme' is not declared" in nested.json()["detail"]
    assert [v.operation for v in emu.violations] == [
        "POST /v2/namespaces/{namespace}/repositories",
        "POST /v2/scim/2.0/Users",
    ]
    emu.violations.clear()


def test_responses_are_validated_by_default() -> None:
    with HubEmulator(SPEC) as emulator:
        assert emulator.validate_responses is True and emulator.checker is not None
        emulator.state.orgs["acme"].settings = {"restricted_images": {"enabled": "not a bool"}}  # break a response
        with client(emulator) as c:
            c.get("/v2/orgs/acme/settings")
        assert len(emulator.response_violations) == 1
