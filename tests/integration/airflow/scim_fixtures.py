"""Shared by the SCIM sync integration tests: one Hub emulator per adversarial mode (request and response
validation on), a connection to it, and readers of its SCIM state and of the writes sent."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dockerhub.testing.hub import ADVERSARY_MODES, HubEmulator
from tests.specs import spec_path

MODES = ("none", *ADVERSARY_MODES)
SCIM_USERS = "/v2/scim/2.0/Users"
RESULTS: dict[str, dict[str, Any]] = {}  # mode -> expected/changed, printed as the table
UNLISTABLE = {"ignore_page"}  # no listing beyond one page can complete: the sync must refuse, changing nothing


def mode_of(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["hub"])


@pytest.fixture(scope="module")
def emulators() -> Iterator[dict[str, HubEmulator]]:
    started: dict[str, HubEmulator] = {}
    try:
        for mode in MODES:
            started[mode] = HubEmulator(
                spec_path=spec_path("docker-hub-api.yaml"),
                users={"alice": "alice-pat"},
                orgs=("acme",),
                scim_token="scim-token",
                validate_responses=True,
                adversary=() if mode == "none" else (mode,),
            ).start()
        yield started
    finally:
        for emulator in started.values():
            emulator.stop()
        if RESULTS:
            print("\nmode | users expected to change | users changed | end state exact")
            for mode, row in RESULTS.items():
                print(f"{mode} | {row['expected']} | {row['changed']} | {row['exact']}")


@pytest.fixture(params=MODES)
def hub(request: pytest.FixtureRequest, emulators: dict[str, HubEmulator]) -> Iterator[HubEmulator]:
    emulator = emulators[request.param]
    emulator.reset()
    yield emulator
    assert emulator.violations == [], "requests departed from the spec"
    assert emulator.response_violations == [], "responses departed from the spec"


@pytest.fixture
def conn(airflow_conn: Callable[..., str], hub: HubEmulator) -> Callable[..., str]:
    def make(conn_id: str = "dh_scim", **extra: Any) -> str:
        fields = {"hub_url": hub.url, "namespace": "acme", "scim_token": "scim-token", "allow_destructive": True}
        return airflow_conn(conn_id, login="alice", password="alice-pat", **{**fields, **extra})

    return make


def state(hub: HubEmulator, domain: str = "example.com") -> dict[str, tuple[str, str, bool]]:
    return {
        u.user_name.lower(): (u.given_name, u.family_name, u.active)
        for u in hub.scim.users.values()
        if u.user_name.lower().endswith("@" + domain)
    }


def writes(hub: HubEmulator) -> list[tuple[str, str]]:
    return [
        (r.method, "/Users/{id}" if r.path.startswith(SCIM_USERS + "/") else "/Users")
        for r in hub.requests
        if r.method != "GET"
    ]


def seeded(i: int, **override: str) -> dict[str, str]:
    """The desired row matching ``seed_scim_users``' i-th user (1-based), unchanged."""
    return {"userName": f"user{i:06d}@example.com", "givenName": "User", "familyName": str(i - 1), **override}


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = sorted({k for row in rows for k in row}, key=["userName", "givenName", "familyName", "active"].index)
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path
