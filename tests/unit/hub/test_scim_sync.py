"""The SCIM sync plan (pure): the four kinds of change, the scope (managed domains, protected users), probable
renames, the guards and their rounding rule, the plan as a document and its hash, drift of a pinned plan."""

from __future__ import annotations

import json

import pytest

from airflow_provider_dockerhub.client import InvalidInputError
from airflow_provider_dockerhub.client.hub.models import ScimUser
from airflow_provider_dockerhub.client.hub.scim_sync import (
    Limit,
    Scope,
    SyncGuardError,
    SyncPlan,
    check_guards,
    deactivation_limit,
    desired_users,
    drift,
    plan_bytes,
    plan_sync,
    sha256_hex,
)


def user(name: str, uid: str, *, active: bool = True, given: str | None = None, family: str | None = None) -> ScimUser:
    return ScimUser.model_validate(
        {"id": uid, "userName": name, "active": active, "name": {"givenName": given, "familyName": family}}
    )


def kinds(plan: SyncPlan) -> list[tuple[str, str]]:
    return [(c.kind, c.user_name) for c in plan.changes]


def test_plan_has_each_kind_of_change_and_is_idempotent() -> None:
    desired = desired_users(
        [
            {"userName": "new@example.com", "givenName": "New"},
            {"userName": "Renamed@example.com", "givenName": "Ann", "familyName": "Lee"},
            {"userName": "back@example.com"},
            {"userName": "same@example.com", "givenName": "Sam"},
            {"userName": "off@example.com", "active": "false"},
        ]
    )
    current = [
        user("renamed@example.com", "1", given="Anne", family="Lee"),
        user("back@example.com", "2", active=False),
        user("same@example.com", "3", given="Sam"),
        user("off@example.com", "4"),
        user("gone@example.com", "5"),
        user("already-off@example.com", "6", active=False),
    ]
    plan = plan_sync(desired, current)
    assert {k: plan.counts()[k] for k in ("create", "update", "reactivate", "deactivate", "unchanged")} == {
        "create": 1,
        "update": 1,
        "reactivate": 1,
        "deactivate": 2,
        "unchanged": 2,
    }
    # Deactivations come first: the order they are applied in.
    assert kinds(plan) == [
        ("deactivate", "gone@example.com"),
        ("deactivate", "off@example.com"),
        ("reactivate", "back@example.com"),
        ("update", "renamed@example.com"),
        ("create", "new@example.com"),
    ]
    assert plan.current_active == 4
    assert "create     new@example.com" in plan.describe()
    after = [
        user("new@example.com", "7", given="New"),
        user("renamed@example.com", "1", given="Ann", family="Lee"),
        user("back@example.com", "2"),
        user("same@example.com", "3", given="Sam"),
        user("off@example.com", "4", active=False),
        user("gone@example.com", "5", active=False),
        user("already-off@example.com", "6", active=False),
    ]
    assert plan_sync(desired, after).changes == []


def test_a_repeated_listing_entry_counts_once() -> None:
    current = [user("a@example.com", "1"), user("b@example.com", "2"), user("b@example.com", "2")]
    plan = plan_sync(desired_users([{"userName": "a@example.com"}]), current)
    assert kinds(plan) == [("deactivate", "b@example.com")]
    assert plan.current_active == 2


def test_managed_domains_leave_other_users_untouched() -> None:
    desired = desired_users([{"userName": "ann@corp.example"}, {"userName": "guest@partner.example"}])
    current = [user("old@corp.example", "1"), user("contractor@partner.example", "2"), user("ann@CORP.example", "3")]
    plan = plan_sync(desired, current, Scope.of(managed_domains=["corp.example"]))
    assert kinds(plan) == [("deactivate", "old@corp.example")]  # not the contractor, and no create of the guest
    assert plan.out_of_scope == 1 and plan.ignored == ["guest@partner.example"]
    assert plan.current_active == 2


def test_protected_users_are_never_deactivated() -> None:
    current = [user("ci-bot@example.com", "1"), user("left@example.com", "2"), user("ann@example.com", "3")]
    desired = desired_users([{"userName": "ann@example.com"}, {"userName": "ci-bot@example.com", "active": False}])
    plan = plan_sync(desired, current, Scope.of(protected_users=["CI-Bot@example.com"]))
    assert kinds(plan) == [("deactivate", "left@example.com")]
    assert plan.protected == ["ci-bot@example.com"]
    assert "protected  ci-bot@example.com" in plan.describe()


@pytest.mark.parametrize(
    ("domains", "protected", "message"),
    [
        (["@corp"], [], "not a domain name"),
        ("corp.example", [], "lists, not a single string"),
        ([], ["ci-bot"], "not an email address"),
    ],
)
def test_bad_scope_is_refused(domains: object, protected: list[str], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Scope.of(domains, protected)  # type: ignore[arg-type]


def test_a_probable_rename_is_reported_not_silent() -> None:
    current = [user("ann.lee@old.example", "1", given="Ann", family="Lee"), user("bob@old.example", "2")]
    desired = desired_users(
        [{"userName": "ann.lee@new.example", "givenName": "Ann", "familyName": "Lee"}, {"userName": "bob@old.example"}]
    )
    plan = plan_sync(desired, current)
    assert plan.renames == [{"old": "ann.lee@old.example", "new": "ann.lee@new.example", "reason": "same name"}]
    assert [(c.kind, c.user_name, c.detail) for c in plan.changes] == [
        ("deactivate", "ann.lee@old.example", "probable rename to ann.lee@new.example"),
        ("create", "ann.lee@new.example", "probable rename of ann.lee@old.example"),
    ]
    held = plan_sync(desired, current, renames="hold")
    assert held.changes == [] and [c.kind for c in held.held] == ["deactivate", "create"]
    assert held.counts()["held"] == 2


def test_no_rename_is_claimed_on_ambiguous_or_weak_names() -> None:
    current = [
        user("jon1@example.com", "1", given="Jon", family="Snow"),
        user("jon2@example.com", "2", given="Jon", family="Snow"),
        user("ops@example.com", "3", given="Ops"),  # one name part is not a person
    ]
    desired = desired_users(
        [
            {"userName": "jon3@example.com", "givenName": "Jon", "familyName": "Snow"},
            {"userName": "ops2@example.com", "givenName": "Ops"},
        ]
    )
    assert plan_sync(desired, current).renames == []


def test_external_id_pairs_a_rename_when_the_server_returns_one() -> None:
    old = ScimUser.model_validate({"id": "1", "userName": "a@old.example", "externalId": "E7", "active": True})
    desired = desired_users([{"userName": "a@new.example", "externalId": "E7"}])
    assert plan_sync(desired, [old]).renames == [
        {"old": "a@old.example", "new": "a@new.example", "reason": "same externalId"}
    ]


@pytest.mark.parametrize(
    ("guard", "active", "limit"),
    [
        (0, 100, 0),
        (5, 100, 5),
        (0.1, 100, 10),
        (0.1, 5, 1),  # 0.5 rounds up: a fraction never rounds to zero
        (0.2, 4, 1),  # the small org: one person leaving is allowed
        (0.1, 30, 3),  # 0.1 * 30 is 3.0000000000000004 in floating point: still 3
        (0.1, 0, 1),
        ({"count": 5, "fraction": 0.1}, 1000, 5),  # both: the smaller
        ({"count": 50, "fraction": 0.1}, 100, 10),
    ],
)
def test_limit_rule(guard: object, active: int, limit: int) -> None:
    assert Limit.of(guard, "max_deactivations").allowed(active) == limit
    assert deactivation_limit(guard, active) == limit  # type: ignore[arg-type]


@pytest.mark.parametrize("guard", [-1, 1.5, 0.0, True, "10%", {"percent": 5}, {}])
def test_bad_limits_are_refused(guard: object) -> None:
    with pytest.raises(InvalidInputError):
        Limit.of(guard, "max_deactivations")


def test_guards_fail_before_any_change_with_a_clear_message() -> None:
    current = [user(f"u{i}@example.com", str(i)) for i in range(4)]
    one_left = plan_sync(desired_users([{"userName": f"u{i}@example.com"} for i in range(3)]), current)
    check_guards(one_left, max_deactivations=0.2)  # 0.2 of 4: 1 allowed
    two_left = plan_sync(desired_users([{"userName": f"u{i}@example.com"} for i in range(2)]), current)
    with pytest.raises(SyncGuardError, match=r"deactivate 2 users \(4 active users in scope\).*0.2 of 4 active = 1"):
        check_guards(two_left, max_deactivations=0.2)
    hires = desired_users([{"userName": f"u{i}@example.com"} for i in range(4)] + [{"userName": "new@example.com"}])
    with pytest.raises(SyncGuardError, match="max_creations"):
        check_guards(plan_sync(hires, current), max_creations=0)
    check_guards(plan_sync(hires, current), max_creations=1, max_deactivations=0)


def test_plan_document_round_trips_and_its_hash_is_of_the_bytes() -> None:
    current = [user("gone@example.com", "1", given="G", family="One"), user("ann@example.com", "2", given="A")]
    plan = plan_sync(
        desired_users([{"userName": "ann@example.com", "givenName": "Ann"}, {"userName": "new@example.com"}]), current
    )
    data = plan_bytes(plan.to_document(hub_url="https://hub.docker.com"))
    again = SyncPlan.from_document(json.loads(data))
    assert again.changes == plan.changes and again.current_active == plan.current_active
    assert plan_bytes(again.to_document(hub_url="https://hub.docker.com")) == data
    assert sha256_hex(data) == sha256_hex(data) and len(sha256_hex(data)) == 64
    with pytest.raises(InvalidInputError, match="not a SCIM sync plan"):
        SyncPlan.from_document({"changes": []})
    with pytest.raises(InvalidInputError, match="version"):
        SyncPlan.from_document({**json.loads(data), "version": 99})


def test_drift_of_a_pinned_plan() -> None:
    current = [user("gone@example.com", "1"), user("ann@example.com", "2", given="A")]
    plan = plan_sync(
        desired_users([{"userName": "ann@example.com", "givenName": "Ann"}, {"userName": "new@example.com"}]), current
    )
    assert drift(plan, current) == ([], set())
    # Meanwhile someone renamed Ann by hand, and new@ exists, deactivated.
    changed = [
        user("gone@example.com", "1"),
        user("ann@example.com", "2", given="Annie"),
        user("new@example.com", "9", active=False),
    ]
    reasons, done = drift(plan, changed)
    assert done == set()
    assert len(reasons) == 2 and any("ann@example.com" in r for r in reasons) and any("new@" in r for r in reasons)
    # An earlier try applied the deactivation and the create: done, not drift.
    half = [
        user("gone@example.com", "1", active=False),
        user("ann@example.com", "2", given="A"),
        user("new@example.com", "9"),
    ]
    assert drift(plan, half) == ([], {"gone@example.com", "new@example.com"})
    # The user the plan deactivates was deleted and re-created under a new id: drift.
    reasons, _ = drift(plan, [user("gone@example.com", "5"), user("ann@example.com", "2", given="A")])
    assert reasons == ["gone@example.com: planned deactivate of id 1, no longer listed"]


def test_team_plan_adds_and_removes_only_managed_members() -> None:
    from airflow_provider_dockerhub.client.hub.models import OrgMember
    from airflow_provider_dockerhub.client.hub.scim_teams import TeamChange, plan_teams

    def scim(email: str, docker_id: str) -> ScimUser:
        return ScimUser.model_validate({"id": docker_id, "userName": email, "displayName": docker_id, "active": True})

    current = [scim("ada@corp.example", "ada"), scim("bob@corp.example", "bob"), scim("bot@corp.example", "bot")]
    desired = desired_users(
        [
            {"userName": "ada@corp.example", "groups": "Engineering;Docker Admins"},
            {"userName": "new@corp.example", "groups": ["Engineering"]},
            {"userName": "bob@corp.example", "groups": "Sales"},
            {"userName": "off@corp.example", "groups": "Engineering", "active": False},
        ]
    )
    members = {
        "developers": [
            OrgMember(username="bob"),  # a SCIM user no longer in Engineering: removed
            OrgMember(username="alice", email="alice@corp.example"),  # added by hand, not a SCIM user: kept
            OrgMember(username="bot"),  # protected: kept
        ],
        "admins": [],
    }
    team_map = {"Engineering": "developers", "Docker Admins": "admins"}
    changes = plan_teams(desired, current, members, team_map, Scope.of(protected_users=["bot@corp.example"]))
    assert changes == [
        TeamChange("team_remove", "developers", "bob@corp.example", "bob"),
        TeamChange("team_add", "admins", "ada@corp.example", "ada"),
        TeamChange("team_add", "developers", "ada@corp.example", "ada"),
        TeamChange("team_add", "developers", "new@corp.example", None),  # created this run: its ID comes later
    ]
    plan = SyncPlan(team_changes=changes)
    assert SyncPlan.from_document(json.loads(plan_bytes(plan.to_document()))).team_changes == changes
    assert plan.counts()["team_add"] == 3 and plan.counts()["team_remove"] == 1
