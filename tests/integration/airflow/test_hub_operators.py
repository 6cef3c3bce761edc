"""The Hub administration operators through real Airflow connections (``AIRFLOW_CONN_*``) against the Hub emulator.

One emulator (request and response validation on) serves the module; each test starts from ``reset()``. What is
asserted is what a DAG author relies on: the plan/result each task returns, the emulator's state afterwards, and
the exact requests sent (a guard that refuses must refuse before any write, a re-run must be a no-op).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dockerhub.client import (
    ClientConfig,
    DestructiveOperationRefused,
    DockerHubSession,
)
from airflow_provider_dockerhub.operators.hub import (
    DockerHubAccessTokenReportOperator,
    DockerHubEnsureRepositoryOperator,
    DockerHubEnsureTeamMembersOperator,
)
from airflow_provider_dockerhub.testing.hub import HubEmulator
from tests.specs import spec_path

DAY = 86400.0


class ShiftedClock:
    """The emulator's clock, movable: tokens that have expired by now must be created while "now" was earlier."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


CLOCK = ShiftedClock()


@pytest.fixture(scope="module")
def hub_server() -> Iterator[HubEmulator]:
    with HubEmulator(
        spec_path=spec_path("docker-hub-api.yaml"),
        users={"alice": "alice-pat", "bob": "bob-pw"},
        orgs=("acme",),
        scim_token="scim-token",
        validate_responses=True,
        clock=CLOCK,
    ) as emulator:
        yield emulator


@pytest.fixture
def hub_emulator(hub_server: HubEmulator) -> Iterator[HubEmulator]:
    CLOCK.offset = 0.0
    hub_server.reset()
    yield hub_server
    CLOCK.offset = 0.0
    assert hub_server.violations == [], "requests departed from the spec"
    assert hub_server.response_violations == [], "responses departed from the spec"


@pytest.fixture
def hub_conn(airflow_conn: Callable[..., str], hub_emulator: HubEmulator) -> Callable[..., str]:
    """A ``dockerhub`` connection to the emulator: ``conn()`` may write, ``conn(allow_destructive=False)`` not."""

    def make(conn_id: str = "dh_admin", **extra: Any) -> str:
        fields: dict[str, Any] = {
            "hub_url": hub_emulator.url,
            "namespace": "acme",
            "scim_token": "scim-token",
            "allow_destructive": True,
            **extra,
        }
        return airflow_conn(conn_id, login="alice", password="alice-pat", **fields)

    return make


def client(hub_emulator: HubEmulator) -> DockerHubSession:
    """A direct client session for setting up and reading back (not the code under test)."""
    extra = {"hub_url": hub_emulator.url, "scim_token": "scim-token", "allow_destructive": True}
    return DockerHubSession(ClientConfig.from_fields("alice", "alice-pat", extra))


def writes(hub_emulator: HubEmulator) -> list[tuple[str, str]]:
    """Every state-changing request, leaving out the token mint (a POST that changes nothing)."""
    return [
        (r.method, r.path)
        for r in hub_emulator.requests
        if r.method not in ("GET", "HEAD") and r.path != "/v2/auth/token"
    ]


# -- ensure repository ----------------------------------------------------------------------------------------


def test_ensure_repository_creates_sets_rules_then_is_idempotent(
    hub_emulator: HubEmulator, hub_conn: Callable[..., str]
) -> None:
    def ensure() -> dict[str, Any]:
        return DockerHubEnsureRepositoryOperator(
            task_id="repo",
            name="app",
            is_private=True,
            description="The app",
            immutable_tags=[r"v\d+\.\d+\.\d+", "release-.*"],
            dockerhub_conn_id=hub_conn(),
        ).execute({})

    created = ensure()
    assert created == {
        "repository": "acme/app",
        "created": True,
        "changed": ["immutable_tags"],
        "drift": {},
        "dry_run": False,
    }
    assert writes(hub_emulator) == [
        ("POST", "/v2/namespaces/acme/repositories"),
        ("PATCH", "/v2/namespaces/acme/repositories/app/immutabletags"),
    ]
    repo = hub_emulator.state.repos[("acme", "app")]
    assert (repo.is_private, repo.description) == (True, "The app")
    assert (repo.immutable_enabled, repo.immutable_rules) == (True, [r"v\d+\.\d+\.\d+", "release-.*"])

    hub_emulator.reset_log()
    assert ensure() == {**created, "created": False, "changed": []}
    assert writes(hub_emulator) == []


def test_ensure_repository_reports_drift_it_cannot_fix(hub_emulator: HubEmulator, hub_conn: Callable[..., str]) -> None:
    with client(hub_emulator) as session:
        session.hub.create_repository("acme", "app", description="The app", is_private=True)
    hub_emulator.reset_log()
    op = DockerHubEnsureRepositoryOperator(
        task_id="repo", name="app", is_private=False, description="Public app", dockerhub_conn_id=hub_conn()
    )
    result = op.execute({})
    assert result["created"] is False and result["changed"] == []
    assert result["drift"] == {
        "is_private": {"have": True, "want": False},
        "description": {"have": "The app", "want": "Public app"},
    }
    strict = DockerHubEnsureRepositoryOperator(
        task_id="repo", name="app", is_private=False, fail_on_drift=True, dockerhub_conn_id=hub_conn()
    )
    with pytest.raises(AirflowFailException, match="is_private"):
        strict.execute({})
    assert writes(hub_emulator) == []
    assert hub_emulator.state.repos[("acme", "app")].is_private is True


def test_ensure_repository_dry_run_and_read_only_connection(
    hub_emulator: HubEmulator, hub_conn: Callable[..., str]
) -> None:
    dry = DockerHubEnsureRepositoryOperator(
        task_id="repo", name="app", immutable_tags=["v.*"], dry_run=True, dockerhub_conn_id=hub_conn()
    ).execute({})
    assert dry["created"] is True and dry["changed"] == ["immutable_tags"] and dry["dry_run"] is True
    assert writes(hub_emulator) == [] and ("acme", "app") not in hub_emulator.state.repos

    refused = DockerHubEnsureRepositoryOperator(
        task_id="repo", name="app", dockerhub_conn_id=hub_conn("dh_read", allow_destructive=False)
    )
    with pytest.raises(DestructiveOperationRefused):
        refused.execute({})
    assert writes(hub_emulator) == [] and ("acme", "app") not in hub_emulator.state.repos


# -- ensure team members --------------------------------------------------------------------------------------


def team_members(hub_emulator: HubEmulator, team: str = "devs") -> list[str]:
    return sorted(hub_emulator.state.orgs["acme"].groups[team].members)


def test_ensure_team_members(hub_emulator: HubEmulator, hub_conn: Callable[..., str]) -> None:
    for name in ("carol", "dave"):
        hub_emulator.add_user(name, f"{name}-pw", orgs=["acme"])

    def ensure(members: list[str], **kwargs: Any) -> dict[str, Any]:
        return DockerHubEnsureTeamMembersOperator(
            task_id="team", team="devs", members=members, dockerhub_conn_id=hub_conn(), **kwargs
        ).execute({})

    # A missing team is created, then filled.
    assert ensure(["bob", "carol"]) == {"added": ["bob", "carol"], "removed": [], "kept": 0, "dry_run": False}
    assert writes(hub_emulator) == [
        ("POST", "/v2/orgs/acme/groups"),
        ("POST", "/v2/orgs/acme/groups/devs/members"),
        ("POST", "/v2/orgs/acme/groups/devs/members"),
    ]
    assert team_members(hub_emulator) == ["bob", "carol"]

    hub_emulator.reset_log()
    assert ensure(["BOB", " carol "]) == {"added": [], "removed": [], "kept": 2, "dry_run": False}  # case-blind
    assert writes(hub_emulator) == []

    with pytest.raises(AirflowFailException, match="allow_removal=True"):
        ensure(["bob", "dave"])
    assert writes(hub_emulator) == [] and team_members(hub_emulator) == ["bob", "carol"]  # dave was not added either

    assert ensure(["bob", "dave"], dry_run=True) == {
        "added": ["dave"],
        "removed": ["carol"],
        "kept": 1,
        "dry_run": True,
    }
    assert writes(hub_emulator) == [] and team_members(hub_emulator) == ["bob", "carol"]

    assert ensure(["bob", "dave"], allow_removal=True) == {
        "added": ["dave"],
        "removed": ["carol"],
        "kept": 1,
        "dry_run": False,
    }
    assert writes(hub_emulator) == [
        ("POST", "/v2/orgs/acme/groups/devs/members"),
        ("DELETE", "/v2/orgs/acme/groups/devs/members/carol"),
    ]
    assert team_members(hub_emulator) == ["bob", "dave"]


# -- access-token report --------------------------------------------------------------------------------------


def test_access_token_report_buckets(hub_emulator: HubEmulator, hub_conn: Callable[..., str]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with client(hub_emulator) as session:
        hub = session.hub
        # The Hub refuses an expiry in the past, so the expired tokens are made ten days ago, expiring yesterday.
        CLOCK.offset = -10 * DAY
        old_pat = hub.create_access_token("old", ["repo:read"], expires_at=now - timedelta(days=1))
        old_oat = hub.create_org_access_token("acme", "old", expires_at=now - timedelta(days=1))
        CLOCK.offset = 0.0
        soon_pat = hub.create_access_token("soon", ["repo:read"], expires_at=now + timedelta(days=3))
        hub.create_access_token("far", ["repo:write"], expires_at=now + timedelta(days=365))
        hub.create_access_token("forever", ["repo:read"])
        soon_oat = hub.create_org_access_token("acme", "soon", expires_at=now + timedelta(days=3))
        hub.create_org_access_token("acme", "far", expires_at=now + timedelta(days=365))
    hub_emulator.reset_log()

    def report(**kwargs: Any) -> dict[str, Any]:
        # Read-only: a connection without allow_destructive is enough.
        return DockerHubAccessTokenReportOperator(
            task_id="tokens",
            expiring_within_days=14,
            unused_for_days=7,
            dockerhub_conn_id=hub_conn("dh_read", allow_destructive=False),
            **kwargs,
        ).execute({})

    def ids(entries: list[dict[str, Any]]) -> list[str]:
        return [e["id"] for e in entries]

    personal = report()
    assert personal["checked"] == 4
    assert ids(personal["expired"]) == [old_pat.uuid]
    assert ids(personal["expiring"]) == [soon_pat.uuid]
    # Never used and older than the period; the fresh ones are within their grace period.
    assert ids(personal["unused"]) == [old_pat.uuid]
    assert personal["expiring"][0] == {
        "id": soon_pat.uuid,
        "label": "soon",
        "active": True,
        "expires_at": (now + timedelta(days=3)).isoformat(),
        "last_used": None,
    }

    org = report(org="acme")
    assert org["checked"] == 3
    assert (ids(org["expired"]), ids(org["expiring"]), ids(org["unused"])) == (
        [old_oat.id],
        [soon_oat.id],
        [old_oat.id],
    )

    with pytest.raises(AirflowFailException, match="findings"):
        report(fail_on_findings=True)
    assert writes(hub_emulator) == []
