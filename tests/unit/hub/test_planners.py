"""The pure planners behind the team-members and access-token-report operators: no server, no Airflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_dockerhub.client.hub.models import AccessToken, OrgAccessToken
from airflow_provider_dockerhub.client.hub.planners import (
    TokenFacts,
    plan_team_members,
    report_tokens,
    wanted_members,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


# -- team members ---------------------------------------------------------------------------------------------


def test_wanted_members_from_a_templated_string_or_a_list() -> None:
    assert wanted_members(" Alice, bob ,,") == {"alice": "Alice", "bob": "bob"}
    assert wanted_members(["Alice", " ", "carol "]) == {"alice": "Alice", "carol": "carol"}
    assert wanted_members("") == {}


def test_team_plan_adds_the_missing_and_removes_the_extra_case_insensitively() -> None:
    plan = plan_team_members(wanted_members(["Alice", "bob", "dave"]), ["alice", "Carol", "Erin", "BOB"])
    assert plan.add == ["dave"]
    assert plan.remove == ["Carol", "Erin"]  # reported as the team spells them, sorted
    assert plan.kept == 2


def test_team_plan_for_a_missing_team_adds_everyone() -> None:
    plan = plan_team_members(wanted_members("b,a"), [])
    assert (plan.add, plan.remove, plan.kept) == (["a", "b"], [], 0)


def test_team_plan_already_in_place_changes_nothing() -> None:
    plan = plan_team_members(wanted_members("a,b"), ["B", "A"])
    assert (plan.add, plan.remove, plan.kept) == ([], [], 2)
    assert not plan.removal_refused(allow_removal=False, dry_run=False)


@pytest.mark.parametrize(
    ("allow_removal", "dry_run", "refused"),
    [(False, False, True), (True, False, False), (False, True, False), (True, True, False)],
)
def test_removal_needs_allow_removal_unless_dry_run(allow_removal: bool, dry_run: bool, refused: bool) -> None:
    plan = plan_team_members(wanted_members("a"), ["a", "extra"])
    assert plan.removal_refused(allow_removal=allow_removal, dry_run=dry_run) is refused


def test_only_additions_are_never_refused() -> None:
    plan = plan_team_members(wanted_members("a,b"), ["a"])
    assert not plan.removal_refused(allow_removal=False, dry_run=False)


# -- access token report --------------------------------------------------------------------------------------


def facts(
    token_id: str,
    *,
    expires: timedelta | None = None,
    used: timedelta | None = None,
    created: timedelta | None = timedelta(days=-365),
    active: bool = True,
) -> TokenFacts:
    def at(offset: timedelta | None) -> datetime | None:
        return NOW + offset if offset is not None else None

    return TokenFacts(token_id, f"label-{token_id}", at(expires), at(used), at(created), active)


def report(*tokens: TokenFacts) -> dict[str, list[str]]:
    result = report_tokens(tokens, now=NOW, expiring_within_days=14, unused_for_days=90)
    assert result.checked == len(tokens)
    return {kind: [e["id"] for e in entries] for kind, entries in result.as_result().items() if kind != "checked"}


def test_expired_expiring_and_far_expiry() -> None:
    found = report(
        facts("gone", expires=timedelta(days=-1), used=timedelta(days=-1)),
        facts("now", expires=timedelta(0), used=timedelta(days=-1)),  # expiring exactly now counts as expired
        facts("soon", expires=timedelta(days=14), used=timedelta(days=-1)),
        facts("later", expires=timedelta(days=15), used=timedelta(days=-1)),
        facts("never", used=timedelta(days=-1)),
    )
    assert found == {"expired": ["gone", "now"], "expiring": ["soon"], "unused": []}


def test_unused_means_not_used_for_the_period_or_never_used_and_older() -> None:
    found = report(
        facts("stale", used=timedelta(days=-91)),
        facts("recent", used=timedelta(days=-89)),
        facts("never-used-old", created=timedelta(days=-91)),
        facts("never-used-new", created=timedelta(days=-10)),  # a new token gets a grace period
        facts("no-dates", created=None),
        facts("inactive", used=timedelta(days=-400), active=False),  # only active tokens count as unused
    )
    assert found == {"expired": [], "expiring": [], "unused": ["stale", "never-used-old", "no-dates"]}


def test_a_token_can_be_both_expired_and_unused() -> None:
    found = report(facts("both", expires=timedelta(days=-1), used=timedelta(days=-200)))
    assert found == {"expired": ["both"], "expiring": [], "unused": ["both"]}


def test_naive_timestamps_are_read_as_utc() -> None:
    naive = TokenFacts("naive", None, (NOW - timedelta(hours=1)).replace(tzinfo=None), None, None, True)
    assert report(naive)["expired"] == ["naive"]


def test_entries_and_summary() -> None:
    token = facts("t", expires=timedelta(days=-1), used=timedelta(days=-2))
    result = report_tokens([token], now=NOW, expiring_within_days=14, unused_for_days=90)
    assert result.summary() == {"expired": 1, "expiring": 0, "unused": 0}
    assert result.expired == [
        {
            "id": "t",
            "label": "label-t",
            "active": True,
            "expires_at": (NOW - timedelta(days=1)).isoformat(),
            "last_used": (NOW - timedelta(days=2)).isoformat(),
        }
    ]


def test_facts_of_personal_and_organization_tokens() -> None:
    created = NOW - timedelta(days=3)
    personal = AccessToken(uuid="u-1", token_label="ci", last_used=NOW, created_at=created, is_active=False)
    org = OrgAccessToken(id="o-1", label="deploy", last_used_at=NOW, created_at=created, expires_at=NOW)
    assert TokenFacts.of(personal) == TokenFacts("u-1", "ci", None, NOW, created, False)
    assert TokenFacts.of(org) == TokenFacts("o-1", "deploy", NOW, NOW, created, True)
