"""The Hub administration operators through real Airflow connections (``AIRFLOW_CONN_*``) against the Hub emulator.

One emulator (request and response validation on) serves the module; each test starts from ``reset()``. What is
asserted is what a DAG author relies on: the plan/result each task returns, the emulator's state afterwards, and
the exact requests sent (a guard that refuses must refuse before any write, a re-run must be a no-op).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dockerhub.client import (
    ClientConfig,
    DestructiveOperationRefused,
    DockerHubSession,
    ServerError,
)
from airflow_provider_dockerhub.operators.hub import (
    DockerHubAccessTokenReportOperator,
    DockerHubAuditLogExportOperator,
    DockerHubEnsureRepositoryOperator,
    DockerHubEnsureTeamMembersOperator,
)
from airflow_provider_dockerhub.testing.hub import HubEmulator
from tests.specs import spec_path

AUDIT = "/v2/auditlogs/acme"
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


def interval(start: str, end: str) -> dict[str, Any]:
    return {"data_interval_start": pendulum.parse(start), "data_interval_end": pendulum.parse(end)}


def writes(hub_emulator: HubEmulator) -> list[tuple[str, str]]:
    """Every state-changing request, leaving out the token mint (a POST that changes nothing)."""
    return [
        (r.method, r.path)
        for r in hub_emulator.requests
        if r.method not in ("GET", "HEAD") and r.path != "/v2/auth/token"
    ]


# -- audit-log export -----------------------------------------------------------------------------------------


def seed_interval_events(hub_emulator: HubEmulator) -> None:
    # One event a minute from 23:30 to 01:30: the interval [00:00, 01:00) holds 60 of them, with events exactly on
    # both boundaries (00:00 belongs to it, 01:00 to the next interval).
    hub_emulator.seed_audit_events("acme", 121, start="2024-12-31T23:30:00Z", step_seconds=60)


def test_audit_export_is_half_open_complete_and_replaces_on_rerun(
    hub_emulator: HubEmulator, hub_conn: Callable[..., str], tmp_path: Path
) -> None:
    seed_interval_events(hub_emulator)
    out_dir = tmp_path / "audit"
    op = DockerHubAuditLogExportOperator(
        task_id="audit", destination=f"{out_dir}/", page_size=25, dockerhub_conn_id=hub_conn()
    )
    context = interval("2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z")
    result = op.execute(context)
    target = out_dir / "acme-20250101T000000Z-20250101T010000Z.jsonl"
    assert result == {"count": 60, "path": f"file://{target}"}
    assert [p.name for p in out_dir.iterdir()] == [target.name], "no temporary file is left behind"

    lines = [json.loads(line) for line in target.read_text().splitlines()]
    stamps = [line["timestamp"] for line in lines]
    assert len(stamps) == len(set(stamps)) == 60
    assert "2025-01-01T00:00:00Z" in stamps and "2025-01-01T01:00:00Z" not in stamps
    assert stamps[0] == "2025-01-01T00:59:00Z" and stamps[-1] == "2025-01-01T00:00:00Z"  # the API's order
    # Each line is the event as the API gave it.
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, 1, tzinfo=UTC)
    with client(hub_emulator) as session:
        assert lines == [e.to_json() for e in session.hub.audit_logs("acme", start=start, end=end)]
    assert {(line["account"], line["action"]) for line in lines} == {("acme", "repo.tag.push")}
    queries = [r.query for r in hub_emulator.requests if r.path == AUDIT][:3]
    assert [q["page"] for q in queries] == ["1", "2", "3"]  # 25 + 25 + 10: one page at a time
    assert {(q["from"], q["to"]) for q in queries} == {("2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z")}

    # A late event arrives; the re-run rewrites the interval's file: 61 lines, none twice.
    hub_emulator.seed_audit_events("acme", 1, start="2025-01-01T00:30:30Z", action="org.team.create")
    assert op.execute(context)["count"] == 61
    again = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(again) == len({json.dumps(e, sort_keys=True) for e in again}) == 61
    assert [p.name for p in out_dir.iterdir()] == [target.name]


def test_audit_export_failure_leaves_no_partial_file(
    hub_emulator: HubEmulator, hub_conn: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_interval_events(hub_emulator)
    target = tmp_path / "events.jsonl"
    # No retries, so the injected 503 ends the task at once instead of after the transport's backoff.
    conn_id = hub_conn("dh_no_retry", max_retries=0)
    context = interval("2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z")
    query = hub_emulator.state.query_audit

    def fail_after_first_page(account: str, **kwargs: Any) -> Any:
        if kwargs["page"] == 1:
            hub_emulator.fail(r"^/v2/auditlogs/acme$", 503)  # the next request, page 2, fails
        return query(account, **kwargs)

    monkeypatch.setattr(hub_emulator.state, "query_audit", fail_after_first_page)

    def export() -> dict[str, Any]:
        op = DockerHubAuditLogExportOperator(
            task_id="audit", destination=str(target), page_size=25, dockerhub_conn_id=conn_id
        )
        return op.execute(context)

    with pytest.raises(ServerError):
        export()
    assert [(r.query["page"], r.status) for r in hub_emulator.requests if r.path == AUDIT] == [("1", 200), ("2", 503)]
    assert list(tmp_path.iterdir()) == [], "neither the output nor the temporary file may be left"

    monkeypatch.setattr(hub_emulator.state, "query_audit", query)
    assert export()["count"] == 60
    good = target.read_bytes()
    # A later failing run keeps the previous complete output rather than a partial one.
    monkeypatch.setattr(hub_emulator.state, "query_audit", fail_after_first_page)
    with pytest.raises(ServerError):
        export()
    assert target.read_bytes() == good and [p.name for p in tmp_path.iterdir()] == ["events.jsonl"]


def test_audit_export_waits_out_429(hub_emulator: HubEmulator, hub_conn: Callable[..., str], tmp_path: Path) -> None:
    seed_interval_events(hub_emulator)
    rule = hub_emulator.rate_limit(r"^/v2/auditlogs/acme$", times=1, retry_after="1")
    op = DockerHubAuditLogExportOperator(
        task_id="audit",
        destination=str(tmp_path / "events.jsonl"),
        page_size=25,
        dockerhub_conn_id=hub_conn(),
    )
    started = time.monotonic()
    result = op.execute(interval("2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z"))
    assert time.monotonic() - started >= 1.0, "Retry-After: 1 was not waited out"
    assert result["count"] == 60 and rule.hits == 1
    assert [r.status for r in hub_emulator.requests if r.path == AUDIT] == [429, 200, 200, 200]


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
