"""The SCIM sync plan (pure): parsing and validation of desired users, the four kinds of change, the guard."""

from __future__ import annotations

import pytest

from airflow_provider_dockerhub.client import InvalidInputError
from airflow_provider_dockerhub.client.hub.models import ScimUser
from airflow_provider_dockerhub.client.hub.scim_sync import (
    deactivation_limit,
    desired_users,
    parse_users_text,
    plan_sync,
)


def user(name: str, uid: str, *, active: bool = True, given: str | None = None, family: str | None = None) -> ScimUser:
    return ScimUser.model_validate(
        {"id": uid, "userName": name, "active": active, "name": {"givenName": given, "familyName": family}}
    )


def test_csv_and_json_parse_to_the_same_users() -> None:
    csv_text = "userName,givenName,familyName,active\nJon@Example.com,Jon,Snow,true\narya@example.com,,,\n"
    json_text = (
        '[{"userName": "Jon@Example.com", "givenName": "Jon", "familyName": "Snow"}, {"userName": "arya@example.com"}]'
    )
    assert parse_users_text(csv_text, "csv") == parse_users_text(json_text, "json")


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("email\nx@example.com\n", "csv", "no 'userName' column"),
        ("userName\nx@example.com\nX@example.com\n", "csv", "duplicate userName"),
        ("userName\nnot-an-email\n", "csv", "not an email"),
        ("userName\n\n", "csv", None),
        ("userName,active\nx@example.com,maybe\n", "csv", "'active' must be true or false"),
        ('{"userName": "x@example.com"}', "json", "list of objects"),
        ('[{"userName": "x@example.com"', "json", "not valid JSON"),
        ('["x@example.com"]', "json", "expected an object"),
        ("userName\nx@example.com\n", "xml", "unsupported users file format"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(text: str, fmt: str, message: str | None) -> None:
    if message is None:
        assert parse_users_text(text, fmt) == []
        return
    with pytest.raises(InvalidInputError, match=message):
        parse_users_text(text, fmt)


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
    assert plan.counts() == {"create": 1, "update": 1, "reactivate": 1, "deactivate": 2, "unchanged": 2}
    assert [(c.kind, c.user_name) for c in plan.changes] == [
        ("create", "new@example.com"),
        ("update", "renamed@example.com"),
        ("reactivate", "back@example.com"),
        ("deactivate", "gone@example.com"),
        ("deactivate", "off@example.com"),
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


@pytest.mark.parametrize(("guard", "active", "limit"), [(0, 100, 0), (5, 100, 5), (0.1, 100, 10), (0.1, 5, 0)])
def test_deactivation_limit(guard: float, active: int, limit: int) -> None:
    assert deactivation_limit(guard, active) == limit


def test_negative_guard_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        deactivation_limit(-1, 10)
