"""Applying a SCIM sync safely, in every adversarial mode: offboarding is never blocked by another user's error,
every failure is reported per user, a 409 is reconciled, scope and guards hold before any change, writes need
``allow_destructive`` (and deactivations ``allow_deactivation``), a refused SCIM token is sent once per host, and
real IdP exports drive the whole job."""

# ruff: noqa: F811 - pytest fixtures imported from scim_fixtures are redefined as test arguments
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dockerhub.client import (
    AuthenticationError,
    ClientConfig,
    DestructiveOperationRefused,
    DockerHubSession,
    InvalidInputError,
)
from airflow_provider_dockerhub.client.hub.scim import ScimSyncError
from airflow_provider_dockerhub.client.hub.scim_sync import Change, SyncPlan
from airflow_provider_dockerhub.operators.scim import DockerHubScimSyncOperator
from airflow_provider_dockerhub.testing.hub import HubEmulator
from tests.integration.airflow.scim_fixtures import (  # noqa: F401 - fixtures
    conn,
    emulators,
    hub,
    seeded,
    state,
    write_csv,
    writes,
)

EXPORTS = Path(__file__).parents[2] / "unit" / "hub" / "idp_exports"


def test_a_failed_create_does_not_block_offboarding(hub: HubEmulator, conn: Callable[..., str], tmp_path: Path) -> None:
    hub.seed_scim_users(20)
    hub.scim.verified_domains = {"example.com"}
    users = [seeded(i) for i in range(1, 19)]  # user000019 and user000020 leave
    users += [{"userName": "hire@example.com"}, {"userName": "contractor@unverified.example"}]
    report = tmp_path / "report.json"
    op = DockerHubScimSyncOperator(
        task_id="scim", users=users, allow_deactivation=True, report_path=str(report), dockerhub_conn_id=conn()
    )
    with pytest.raises(AirflowFailException) as caught:
        op.execute({})
    message = str(caught.value)
    assert "1 not" in message and "create contractor@unverified.example: failed (POST -> HTTP 400)" in message
    assert "unverified.example is not a verified domain" in message
    assert isinstance(caught.value.__cause__, ScimSyncError)
    after = state(hub)
    assert after["user000019@example.com"][2] is False and after["user000020@example.com"][2] is False
    assert after["hire@example.com"][2] is True
    results = {r["user_name"]: r for r in json.loads(report.read_text())["results"]}
    assert {u: r["outcome"] for u, r in results.items()} == {
        "user000019@example.com": "deactivated",
        "user000020@example.com": "deactivated",
        "hire@example.com": "created",
        "contractor@unverified.example": "failed",
    }
    assert results["contractor@unverified.example"]["status"] == 400
    # Deactivations went first: offboarding never waits behind a create.
    assert writes(hub)[:2] == [("PUT", "/Users/{id}")] * 2


def test_a_409_on_create_is_reconciled(hub: HubEmulator) -> None:
    hub.seed_scim_users(3)
    gone = next(u for u in hub.scim.users.values() if u.user_name == "user000002@example.com")
    gone.active = False
    # A plan made from an older listing: it still thinks user000002 and user000003 are new.
    plan = SyncPlan(
        changes=[
            Change("create", "USER000002@example.com", given_name="Back"),
            Change("create", "user000003@example.com"),
        ]
    )
    extra = {"hub_url": hub.url, "scim_token": "scim-token", "allow_destructive": True}
    with DockerHubSession(ClientConfig.from_fields("alice", "alice-pat", extra)) as session:
        report = session.scim.apply_plan(plan)
    assert [(r.user_name, r.outcome, r.status) for r in report.results] == [
        ("USER000002@example.com", "reconciled: reactivated", 409),
        ("user000003@example.com", "reconciled: already present", 409),
    ]
    assert gone.active is True and gone.given_name == "Back"
    lookups = [r.query.get("filter") for r in hub.requests if r.method == "GET"]
    assert lookups == ['userName eq "USER000002@example.com"', 'userName eq "user000003@example.com"']


def test_scope_and_protected_users(hub: HubEmulator, conn: Callable[..., str]) -> None:
    hub.seed_scim_users(4)  # user000001..4@example.com
    hub.seed_scim_users(1, domain="partner.example")  # user000005@partner.example
    bot = hub.scim.create("ci-bot@example.com", {"givenName": "CI", "familyName": "Bot"})
    result = DockerHubScimSyncOperator(
        task_id="scim",
        users=[seeded(i) for i in range(1, 4)],  # user000004 leaves; the bot and the partner are not in the IdP
        managed_domains=["example.com"],
        protected_users=["ci-bot@example.com"],
        max_deactivations=0.2,  # 0.2 of 5 active in scope: 1 (never rounds down to 0)
        allow_deactivation=True,
        dockerhub_conn_id=conn(),
    ).execute({})
    assert [(c["user_name"], c["outcome"]) for c in result["changes"]] == [("user000004@example.com", "deactivated")]
    assert result["protected_users"] == ["ci-bot@example.com"] and result["protected"] == 1
    assert result["out_of_scope"] == 1
    assert bot.active is True and state(hub, "partner.example")["user000005@partner.example"][2] is True


@pytest.mark.parametrize(
    ("guard", "name", "allowed"),
    [
        ({"max_deactivations": 2}, "max_deactivations", False),
        ({"max_deactivations": 3}, "max_deactivations", True),
        ({"max_deactivations": 0.1}, "max_deactivations", False),  # 0.1 of 20: 2
        ({"max_deactivations": 0.15}, "max_deactivations", True),  # 0.15 of 20: 3
        ({"max_deactivations": {"count": 3, "fraction": 0.1}}, "max_deactivations", False),
        ({"max_creations": 0}, "max_creations", False),
        ({"max_creations": 0.01}, "max_creations", True),  # 0.01 of 20 is 0.2: still 1
    ],
)
def test_guards_fail_before_any_write(
    hub: HubEmulator, conn: Callable[..., str], guard: dict[str, object], name: str, allowed: bool
) -> None:
    hub.seed_scim_users(20)
    before = state(hub)
    users = [seeded(i) for i in range(1, 18)] + [{"userName": "new@example.com"}]  # 3 of 20 go, 1 comes
    op = DockerHubScimSyncOperator(
        task_id="scim",
        users=users,
        allow_deactivation=True,
        dockerhub_conn_id=conn(),
        **{"max_deactivations": None, **guard},  # type: ignore[arg-type]
    )
    if allowed:
        assert op.execute({})["done"] == {"create": 1, "update": 0, "reactivate": 0, "deactivate": 3, "failed": 0}
        return
    with pytest.raises(AirflowFailException, match=f"more than {name} allows.*nothing was changed"):
        op.execute({})
    assert writes(hub) == [] and state(hub) == before


def test_deactivation_needs_allow_deactivation(hub: HubEmulator, conn: Callable[..., str]) -> None:
    hub.seed_scim_users(20)
    before = state(hub)
    users = [seeded(i) for i in range(1, 20)] + [{"userName": "new@example.com"}]
    with pytest.raises(AirflowFailException, match="allow_deactivation=True"):
        DockerHubScimSyncOperator(task_id="scim", users=users, dockerhub_conn_id=conn()).execute({})
    assert writes(hub) == [] and state(hub) == before
    # The client enforces it too, whoever calls it.
    extra = {"hub_url": hub.url, "scim_token": "scim-token", "allow_destructive": True}
    plan = SyncPlan(changes=[Change("deactivate", "user000020@example.com", "x")])
    with DockerHubSession(ClientConfig.from_fields(None, None, extra)) as session:
        with pytest.raises(DestructiveOperationRefused, match="allow_deactivation"):
            session.scim.apply_plan(plan)
    assert writes(hub) == []


def test_writes_need_a_destructive_connection(hub: HubEmulator, conn: Callable[..., str]) -> None:
    hub.seed_scim_users(5)
    before = state(hub)
    users = [seeded(i) for i in range(1, 6)] + [{"userName": f"new{i}@example.com"} for i in range(3)]
    read_only = conn("dh_read", allow_destructive=False)
    with pytest.raises(DestructiveOperationRefused):
        DockerHubScimSyncOperator(task_id="scim", users=users, dockerhub_conn_id=read_only).execute({})
    assert writes(hub) == [] and state(hub) == before  # refused as a whole, before the first create
    dry = DockerHubScimSyncOperator(task_id="scim", users=users, dry_run=True, dockerhub_conn_id=read_only).execute({})
    assert dry["create"] == 3 and dry["applied"] is False


def test_a_refused_scim_token_is_sent_once_per_host(hub: HubEmulator, conn: Callable[..., str]) -> None:
    hub.seed_scim_users(3)
    wrong = conn("dh_wrong_scim", scim_token="not-the-scim-token")
    for _ in range(3):  # three task tries, each with a fresh hook and session (as a new process would have)
        with pytest.raises(AuthenticationError, match="SCIM token was refused"):
            DockerHubScimSyncOperator(
                task_id="scim", users=[seeded(1)], allow_deactivation=True, dockerhub_conn_id=wrong
            ).execute({})
    scim_requests = [r for r in hub.requests if r.path.startswith("/v2/scim/")]
    assert len(scim_requests) == 1, "the refused token was not sent again by the later tries"
    # Another (right) token is not held back by the first one's refusal.
    assert (
        DockerHubScimSyncOperator(
            task_id="scim", users=[seeded(i) for i in range(1, 4)], dockerhub_conn_id=conn()
        ).execute({})["unchanged"]
        == 3
    )


def test_xcom_lists_every_change_while_small_then_counts_and_the_report(
    hub: HubEmulator, conn: Callable[..., str], tmp_path: Path
) -> None:
    hub.seed_scim_users(150)
    result = DockerHubScimSyncOperator(
        task_id="scim",
        users=[{"userName": f"hire{i}@example.com"} for i in range(120)] + [seeded(i) for i in range(1, 151)],
        report_path=f"file://{tmp_path}/scim/report.json",
        max_creations=None,
        dockerhub_conn_id=conn(),
    ).execute({})
    assert result["done"]["create"] == 120 and "changes" not in result and result["changes_omitted"] == 120
    report = json.loads((tmp_path / "scim" / "report.json").read_text())
    assert len(report["results"]) == 120 and result["report_path"] == f"file://{tmp_path}/scim/report.json"
    assert len(json.dumps(result)) < 2000


def test_okta_export_drives_the_job(hub: HubEmulator, conn: Callable[..., str], tmp_path: Path) -> None:
    for email in ("ada.lovelace", "grace.hopper", "ken.thompson", "dennis.ritchie"):
        given, family = email.title().split(".")
        hub.scim.create(f"{email}@example.com", {"givenName": given, "familyName": family})
    source = tmp_path / "okta.csv"
    source.write_bytes((EXPORTS / "okta-password-health.csv").read_bytes())
    result = DockerHubScimSyncOperator(
        task_id="scim", source=str(source), max_deactivations=2, allow_deactivation=True, dockerhub_conn_id=conn()
    ).execute({})
    assert sorted((c["kind"], c["user_name"]) for c in result["changes"]) == [
        ("create", "alan.turing@example.com"),  # LOCKED_OUT is still an employee
        ("create", "edsger.dijkstra@example.com"),  # PROVISIONED
        ("create", "katherine.johnson@example.com"),  # RECOVERY
        ("deactivate", "dennis.ritchie@example.com"),  # DEPROVISIONED
        ("deactivate", "ken.thompson@example.com"),  # SUSPENDED
    ]
    assert "barbara.liskov@example.com" not in state(hub)  # STAGED: no seat before the start date


def test_bad_input_is_refused_before_any_request(hub: HubEmulator, conn: Callable[..., str], tmp_path: Path) -> None:
    source = write_csv(tmp_path / "users.csv", [seeded(1), {"userName": "not-an-email"}])
    with pytest.raises(InvalidInputError, match="row 2"):
        DockerHubScimSyncOperator(task_id="scim", source=str(source), dockerhub_conn_id=conn()).execute({})
    with pytest.raises(InvalidInputError, match="max_deactivations"):
        DockerHubScimSyncOperator(
            task_id="scim", users=[seeded(1)], max_deactivations=1.5, dockerhub_conn_id=conn()
        ).execute({})
    assert hub.requests == []


def test_idp_groups_become_hub_team_memberships(hub: HubEmulator, conn: Callable[..., str], tmp_path: Path) -> None:
    extra = {"hub_url": hub.url, "namespace": "acme", "scim_token": "scim-token", "allow_destructive": True}
    with DockerHubSession(ClientConfig.from_fields("alice", "alice-pat", extra)) as session:
        for email in ("ada@example.com", "bob@example.com"):  # provisioned earlier: org members by Docker ID
            session.scim.create_user(email, given_name=email.split("@")[0].title(), family_name="Example")
        session.hub.create_group("acme", "developers")
        session.hub.create_group("acme", "admins")
        session.hub.add_group_member("acme", "developers", "bob")  # bob has left Engineering
        session.hub.add_group_member("acme", "developers", "alice")  # the owner, added by hand: not the sync's
    export = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 3,
        "Resources": [
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user,
                "name": {"givenName": user.split("@")[0].title(), "familyName": "Example"},
                "active": True,
                "groups": [{"display": g} for g in groups],
            }
            for user, groups in (
                ("ada@example.com", ["Engineering", "Docker Admins"]),
                ("bob@example.com", ["Sales"]),
                ("cy@example.com", ["Engineering"]),  # a new hire: created, then added by the ID Docker gave
            )
        ],
    }
    source = tmp_path / "okta-scim.json"
    source.write_text(json.dumps(export))
    sync = {
        "task_id": "scim",
        "source": str(source),
        "managed_domains": ["example.com"],
        "team_map": {"Engineering": "developers", "Docker Admins": "admins"},
        "dockerhub_conn_id": conn(),
    }
    with pytest.raises(AirflowFailException, match="allow_team_removal=True"):
        DockerHubScimSyncOperator(**sync).execute({})  # type: ignore[arg-type]
    result = DockerHubScimSyncOperator(**sync, allow_team_removal=True).execute({})  # type: ignore[arg-type]
    assert sorted((c["kind"], c["user_name"], c.get("team"), c["outcome"]) for c in result["changes"]) == [
        ("create", "cy@example.com", None, "created"),
        ("team_add", "ada@example.com", "admins", "added"),
        ("team_add", "ada@example.com", "developers", "added"),
        ("team_add", "cy@example.com", "developers", "added"),
        ("team_remove", "bob@example.com", "developers", "removed"),
    ]
    org = hub.state.get_org("acme")
    assert sorted(org.groups["developers"].members) == ["ada", "alice", "cy"]
    assert org.groups["admins"].members == ["ada"]
    again = DockerHubScimSyncOperator(**sync).execute({})  # type: ignore[arg-type]
    assert again["changes"] == [] and again["team_add"] == again["team_remove"] == 0


def test_the_async_client_applies_the_same_plan(hub: HubEmulator) -> None:
    import asyncio

    from airflow_provider_dockerhub.client import AsyncDockerHubSession

    hub.seed_scim_users(3)
    hub.scim.verified_domains = {"example.com"}
    leaver = next(u.id for u in hub.scim.users.values() if u.user_name == "user000003@example.com")
    plan = SyncPlan(
        changes=[
            Change("create", "x@unverified.example"),
            Change("create", "user000001@example.com"),  # a 409: reconciled
            Change("deactivate", "user000003@example.com", leaver),  # applied first all the same
        ]
    )
    extra = {"hub_url": hub.url, "scim_token": "scim-token", "allow_destructive": True}

    async def run() -> ScimSyncError:
        async with AsyncDockerHubSession(ClientConfig.from_fields(None, None, extra)) as session:
            with pytest.raises(ScimSyncError) as caught:
                await session.scim.apply_plan(plan, allow_deactivation=True)
            return caught.value

    error = asyncio.run(run())
    assert [(r.user_name, r.outcome) for r in error.report.results] == [
        ("user000003@example.com", "deactivated"),
        ("user000001@example.com", "reconciled: already present"),
        ("x@unverified.example", "failed"),
    ]
    assert "create x@unverified.example: failed (POST -> HTTP 400)" in str(error)
