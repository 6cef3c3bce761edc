"""IdP exports as desired users: each preset read from a file in the IdP's exact export format (idp_exports/,
headers as docs/idp-exports.md cites them), recognised from its header, with its status vocabulary; a BOM; a
column mapping for anything else; and the refusals (an unknown status is never guessed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dockerhub.client import InvalidInputError
from airflow_provider_dockerhub.client.hub.idp import ENTRA, GOOGLE, OKTA, OKTA_STATUSES, detect, parse_export
from airflow_provider_dockerhub.client.hub.scim_sync import DesiredUser

EXPORTS = Path(__file__).parent / "idp_exports"


def read(name: str) -> bytes:
    return (EXPORTS / name).read_bytes()


def active_map(users: list[DesiredUser]) -> dict[str, bool]:
    return {u.user_name: u.active for u in users}


def test_okta_report_statuses_map_to_active_and_inactive() -> None:
    users = parse_export(read("okta-password-health.csv"), fmt="csv")  # recognised from Login + Status
    assert active_map(users) == {
        "ada.lovelace@example.com": True,  # ACTIVE
        "grace.hopper@example.com": True,  # PASSWORD_EXPIRED: still an employee
        "alan.turing@example.com": True,  # LOCKED_OUT: a temporary lock
        "katherine.johnson@example.com": True,  # RECOVERY: resetting a password
        "edsger.dijkstra@example.com": True,  # PROVISIONED: activated, first sign-in pending
        "barbara.liskov@example.com": False,  # STAGED: not activated yet, takes no seat
        "ken.thompson@example.com": False,  # SUSPENDED
        "dennis.ritchie@example.com": False,  # DEPROVISIONED
    }
    # The report names the person in one "User" column: kept as the display name (for rename detection).
    assert users[0].display_name == "Ada Lovelace" and users[0].given_name is None
    assert users[0].person() == "ada lovelace"


def test_okta_vocabulary_is_the_eight_lifecycle_states() -> None:
    assert sorted(OKTA_STATUSES) == sorted(
        s.lower()
        for s in (
            "ACTIVE",
            "PROVISIONED",
            "STAGED",
            "RECOVERY",
            "PASSWORD_EXPIRED",
            "LOCKED_OUT",
            "SUSPENDED",
            "DEPROVISIONED",
        )
    )


def test_entra_download_with_its_bom() -> None:
    data = read("entra-users.csv")
    assert data.startswith(b"\xef\xbb\xbf")  # as downloaded: the BOM must not become part of "userPrincipalName"
    users = parse_export(data, fmt="csv")
    ada = users[0]
    assert (ada.user_name, ada.given_name, ada.family_name, ada.display_name, ada.external_id) == (
        "ada.lovelace@example.com",
        "Ada",
        "Lovelace",
        "Ada Lovelace",
        "2b5c7f0e-6a1d-4c53-9f3e-0d1e2a3b4c5d",
    )
    assert active_map(users) == {
        "ada.lovelace@example.com": True,
        "grace.hopper@example.com": True,
        "ken.thompson@example.com": False,  # accountEnabled False
        "partner_contoso.com#EXT#@example.onmicrosoft.com": True,  # a guest: left to managed_domains to exclude
    }


def test_google_download_all_columns() -> None:
    users = parse_export(read("google-users.csv"), fmt="csv")
    assert [(u.user_name, u.given_name, u.family_name, u.active, u.external_id) for u in users] == [
        ("ada.lovelace@example.com", "Ada", "Lovelace", True, "E1001"),
        ("grace.hopper@example.com", "Grace", "Hopper", True, "E1002"),
        ("ken.thompson@example.com", "Ken", "Thompson", False, None),
    ]


def test_scim_list_response_json() -> None:
    users = parse_export(read("scim-list-response.json"), fmt="json")
    assert [(u.user_name, u.active, u.external_id, u.groups) for u in users] == [
        ("ada.lovelace@example.com", True, "E1001", ("Engineering", "Docker Admins")),
        ("grace.hopper@example.com", True, "E1002", ("Engineering",)),
        ("ken.thompson@example.com", False, None, ()),
    ]


@pytest.mark.parametrize(
    ("name", "preset"),
    [("okta-password-health.csv", OKTA), ("entra-users.csv", ENTRA), ("google-users.csv", GOOGLE)],
)
def test_presets_are_recognised_from_their_headers(name: str, preset: object) -> None:
    header = read(name).decode("utf-8-sig").splitlines()[0].split(",")
    assert detect(header) is preset


def test_the_same_people_from_every_export_plan_the_same() -> None:
    okta = parse_export(read("okta-password-health.csv"), fmt="csv", idp="okta")
    entra = parse_export(read("entra-users.csv"), fmt="csv", idp="entra")
    google = parse_export(read("google-users.csv"), fmt="csv", idp="google")
    scim = parse_export(read("scim-list-response.json"), fmt="json", idp="scim")
    common = {"ada.lovelace@example.com", "grace.hopper@example.com", "ken.thompson@example.com"}
    views = [{k: v for k, v in active_map(users).items() if k in common} for users in (okta, entra, google, scim)]
    assert all(view == views[0] for view in views)


def test_a_column_map_reads_any_csv() -> None:
    text = "Work Email,First,Last,Employment Status,Teams\nann@example.com,Ann,Lee,Employed,ops;dev\n"
    text += "bob@example.com,Bob,Ray,Terminated,\n"
    users = parse_export(
        text,
        fmt="csv",
        column_map={
            "user_name": "Work Email",
            "given_name": "First",
            "family_name": "Last",
            "status": "Employment Status",
            "groups": "Teams",
        },
        status_values={"Employed": True, "Terminated": False},
    )
    assert [(u.user_name, u.given_name, u.active, u.groups) for u in users] == [
        ("ann@example.com", "Ann", True, ("ops", "dev")),
        ("bob@example.com", "Bob", False, ()),
    ]


def test_status_values_extend_a_preset() -> None:
    text = "User,Login,Status\nAnn Lee,ann@example.com,PENDING_HIRE\n"
    with pytest.raises(InvalidInputError, match="not in the okta status vocabulary"):
        parse_export(text, fmt="csv")
    (user,) = parse_export(text, fmt="csv", status_values={"PENDING_HIRE": False})
    assert user.active is False


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("email\nx@example.com\n", {}, "no 'userName' column, nor the user column of a known IdP export"),
        ("userName\nx@example.com\nX@example.com\n", {}, "duplicate userName"),
        ("userName\nnot-an-email\n", {}, "not an email"),
        ("userName,active\nx@example.com,maybe\n", {}, "not in the native status vocabulary"),
        ("Login,Status\nx@example.com,\n", {}, "cell is empty"),
        ("userPrincipalName,accountEnabled\nx@example.com,yes\n", {}, "entra status vocabulary"),
        ("Email Address [Required],Status [READ ONLY]\nx@example.com,Archived\n", {}, "google status vocabulary"),
        ("userName\nx@example.com\n", {"idp": "entra"}, "no 'userPrincipalName' column"),
        ("userName\nx@example.com\n", {"idp": "workday"}, "unknown idp"),
        ("userName\nx@example.com\n", {"column_map": {"mail": "userName"}}, "unknown field 'mail'"),
        ("userName\nx@example.com,extra\n", {}, "more cells than the header"),
        ("userName\nx@example.com\n", {"idp": "scim"}, "JSON ListResponse, not CSV"),
    ],
)
def test_bad_exports_are_refused_with_a_clear_message(text: str, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_export(text, fmt="csv", **kwargs)  # type: ignore[arg-type]


def test_not_utf8_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        parse_export("userName\nj\xf6rg@example.com\n".encode("latin-1"), fmt="csv")


def test_blank_lines_are_skipped_and_native_csv_still_reads() -> None:
    users = parse_export("\ufeffuserName,givenName\r\nann@example.com,Ann\r\n,\r\n", fmt="csv")
    assert [(u.user_name, u.given_name, u.active) for u in users] == [("ann@example.com", "Ann", True)]
