"""Contract: the provider's Hub and SCIM clients speak Docker's OpenAPI spec, operation by operation.

Every one of the spec's 54 operations is called through ``HubClient``/``ScimClient`` (never raw httpx) against one
module-scoped emulator that validates each request *and* each response against the spec; the ``emu`` fixture fails
any test that leaves a violation behind, and records which operations answered 2xx. The last test checks that the
module as a whole hit all 54. Around the operations: the paging styles, the destructive gate, path escaping,
``Retry-After``, the JWT re-mint, the SCIM token's separation and the secret sink.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_dockerhub.client import (
    AuthenticationError,
    ClientConfig,
    ConfigurationError,
    DestructiveOperationRefused,
    DockerHubSession,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from airflow_provider_dockerhub.client.hub.models import ImmutableTagsSettings, RestrictedImages
from airflow_provider_dockerhub.client.hub.requests import TwoFactorRequired
from airflow_provider_dockerhub.testing.hub import HubEmulator, HubRequest, load_hub_spec
from tests.specs import spec_path

SPEC = spec_path("docker-hub-api.yaml")
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
_HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete")


def _spec_operations() -> set[tuple[str, str]]:
    spec = load_hub_spec(SPEC)
    return {(m.upper(), template) for template, item in spec["paths"].items() for m in item if m in _HTTP_METHODS}


OPERATIONS = _spec_operations()


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = ["[^/]+" if seg.startswith("{") else re.escape(seg) for seg in template.strip("/").split("/")]
    return re.compile("^/" + "/".join(parts) + "$")


_PATTERNS = [
    (method, template, _template_pattern(template), sum(not s.startswith("{") for s in template.split("/")))
    for method, template in OPERATIONS
]


def operation_of(method: str, path: str) -> tuple[str, str] | None:
    """The spec operation a logged request belongs to; the most literal template wins (``members/export``)."""
    found = [(literal, template) for m, template, rx, literal in _PATTERNS if m == method and rx.match(path)]
    return (method, max(found)[1]) if found else None


# Operations that answered 2xx, over the whole module, and the tests whose checks passed (for the coverage test).
HIT: set[tuple[str, str]] = set()
FINISHED: set[str] = set()


@pytest.fixture(scope="module")
def hub_server() -> Iterator[HubEmulator]:
    users = {"alice": "alice-pat", "bob": "bob-pw"}
    with HubEmulator(
        spec_path=SPEC, users=users, orgs=("acme",), scim_token="scim-token", validate_responses=True
    ) as e:
        yield e


@pytest.fixture
def hub_emulator(hub_server: HubEmulator, request: pytest.FixtureRequest) -> Iterator[HubEmulator]:
    hub_server.reset()
    hub_server.two_factor_users = set()
    yield hub_server
    HIT.update(op for r in hub_server.requests if r.status < 400 and (op := operation_of(r.method, r.path)))
    assert hub_server.violations == [], "requests departed from the spec"
    assert hub_server.response_violations == [], "responses departed from the spec"
    FINISHED.add(request.node.name)


@dataclass
class Sinks:
    secrets: list[str] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)


def open_session(
    hub_emulator: HubEmulator, sinks: Sinks, *, allow_destructive: bool = True, scim_token: str | None = "scim-token"
) -> DockerHubSession:
    extra: dict[str, Any] = {"hub_url": hub_emulator.url, "allow_destructive": allow_destructive}
    if scim_token is not None:
        extra["scim_token"] = scim_token
    config = ClientConfig.from_fields("alice", "alice-pat", extra)
    # Sleeps are recorded, not slept: Retry-After is asserted on the recorder, and the suite stays fast.
    return DockerHubSession(config, on_secret=sinks.secrets.append, sleep=sinks.sleeps.append)


@pytest.fixture
def sinks() -> Sinks:
    return Sinks()


@pytest.fixture
def hub_session(hub_emulator: HubEmulator, sinks: Sinks) -> Iterator[DockerHubSession]:
    with open_session(hub_emulator, sinks) as s:
        yield s


def calls(hub_emulator: HubEmulator, method: str, path: str) -> list[dict[str, str]]:
    """The query of every logged ``method path`` request, in order."""
    return [r.query for r in hub_emulator.requests if r.method == method and r.path == path]


# -- authentication -------------------------------------------------------------------------------------------


def test_auth_token_and_deprecated_login_with_two_factor(
    hub_emulator: HubEmulator, hub_session: DockerHubSession, sinks: Sinks
) -> None:
    hub = hub_session.hub
    jwt = hub.create_auth_token("alice", "alice-pat")
    assert jwt.count(".") == 2 and jwt in sinks.secrets
    hub.authenticate()  # the session's own JWT: a separate mint, cached afterwards
    hub.authenticate()
    assert hub_emulator.tokens_issued == 2

    legacy = hub.login("alice", "alice-pat")
    assert legacy["token"].count(".") == 2

    hub_emulator.two_factor_users = {"bob"}
    with pytest.raises(TwoFactorRequired) as first:
        hub.login("bob", "bob-pw")
    assert first.value.status == 401 and "Two-factor" in (first.value.server_message or "")
    pending = first.value.login_2fa_token
    assert (pending,) == tuple(hub_emulator._pending_2fa) and pending in sinks.secrets  # masked like every token
    with pytest.raises(AuthenticationError):
        hub.login_2fa(pending, "000000")
    second = hub.login_2fa(pending, "123456")["token"]
    assert second.count(".") == 2 and second in sinks.secrets
    # Each one-time code went out exactly once: auth endpoints are never replayed.
    assert len(calls(hub_emulator, "POST", "/v2/users/2fa-login")) == 2
    assert [r.body["code"] for r in hub_emulator.requests if r.path == "/v2/users/2fa-login"] == ["000000", "123456"]


# -- personal and organization access tokens -----------------------------------------------------------------


def test_personal_access_tokens(hub_emulator: HubEmulator, hub_session: DockerHubSession, sinks: Sinks) -> None:
    hub = hub_session.hub
    expiry = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    created = hub.create_access_token("ci-pull", ["repo:read"], expires_at=expiry)
    assert created.token and created.token.startswith("dckr_pat_") and created.token in sinks.secrets
    assert (created.token_label, created.scopes, created.is_active) == ("ci-pull", ["repo:read"], True)
    assert created.expires_at == expiry
    assert hub_emulator.requests[-1].body == {
        "token_label": "ci-pull",
        "scopes": ["repo:read"],
        "expires_at": expiry.isoformat().replace("+00:00", "Z"),
    }
    other = hub.create_access_token("ci-push", ["repo:write", "repo:read"])
    assert other.expires_at is None and "expires_at" not in (hub_emulator.requests[-1].body or {})

    listed = list(hub.list_access_tokens(page_size=1))
    assert sorted(t.token_label or "" for t in listed) == ["ci-pull", "ci-push"]
    assert all(not t.token for t in listed), "a list never reveals a token"
    assert [(q["page"], q["page_size"]) for q in calls(hub_emulator, "GET", "/v2/access-tokens")] == [
        ("1", "1"),
        ("2", "1"),
    ]

    got = hub.get_access_token(created.uuid)
    assert got.token_label == "ci-pull" and got.created_at is not None and not got.token
    updated = hub.update_access_token(created.uuid, label="ci-pull-v2", is_active=False)
    assert (updated.token_label, updated.is_active) == ("ci-pull-v2", False)
    hub.delete_access_token(created.uuid)
    with pytest.raises(NotFoundError):
        hub.get_access_token(created.uuid)
    assert [t.uuid for t in hub.list_access_tokens()] == [other.uuid]


def test_organization_access_tokens(hub_emulator: HubEmulator, hub_session: DockerHubSession, sinks: Sinks) -> None:
    hub = hub_session.hub
    expiry = datetime.now(UTC).replace(microsecond=0) + timedelta(days=90)
    resources = [{"type": "TYPE_REPO", "path": "acme/app", "scopes": ["repo-pull"]}]
    created = hub.create_org_access_token(
        "acme", "ci", description="pipeline pulls", resources=resources, expires_at=expiry
    )
    assert created.token and created.token.startswith("dckr_oat_") and created.token in sinks.secrets
    assert (created.label, created.description, created.created_by) == ("ci", "pipeline pulls", "alice")
    assert [(r.type, r.path, r.scopes) for r in created.resources] == [("TYPE_REPO", "acme/app", ["repo-pull"])]
    assert created.expires_at == expiry
    for label in ("nightly", "release"):
        hub.create_org_access_token("acme", label)

    # The OAT page says ``total`` (not ``count``); paging follows ``next`` all the same.
    listed = list(hub.list_org_access_tokens("acme", page_size=2))
    assert sorted(t.label or "" for t in listed) == ["ci", "nightly", "release"]
    assert len(calls(hub_emulator, "GET", "/v2/orgs/acme/access-tokens")) == 2

    got = hub.get_org_access_token("acme", created.id)
    assert got.label == "ci" and got.resources[0].path == "acme/app" and not got.token
    push = [{"type": "TYPE_REPO", "path": "acme/app", "scopes": ["repo-pull", "repo-push"]}]
    updated = hub.update_org_access_token(
        "acme", created.id, label="ci-push", description="pushes too", resources=push, is_active=False
    )
    assert (updated.label, updated.description, updated.is_active) == ("ci-push", "pushes too", False)
    assert updated.resources[0].scopes == ["repo-pull", "repo-push"]
    hub.delete_org_access_token("acme", created.id)
    with pytest.raises(NotFoundError):
        hub.get_org_access_token("acme", created.id)


# -- organization settings, members, invites ------------------------------------------------------------------


def test_org_settings(hub_emulator: HubEmulator, hub_session: DockerHubSession) -> None:
    hub = hub_session.hub
    assert hub.get_org_settings("acme").restricted_images == RestrictedImages(enabled=False)
    updated = hub.update_org_settings("acme", restricted_images_enabled=True, allow_verified_publishers=False)
    want = RestrictedImages(enabled=True, allow_official_images=True, allow_verified_publishers=False)
    assert updated.restricted_images == want
    assert hub.get_org_settings("acme").restricted_images == want


def test_members_roles_export_and_removal(hub_emulator: HubEmulator, hub_session: DockerHubSession) -> None:
    hub = hub_session.hub
    everyone = list(hub.list_members("acme", page_size=1))
    assert [m.username for m in everyone] == ["alice", "bob"]
    assert len(calls(hub_emulator, "GET", "/v2/orgs/acme/members")) == 2
    assert [m.username for m in hub.list_members("acme", search="bo")] == ["bob"]
    (owner,) = hub.list_members("acme", role="owner")
    assert (owner.username, owner.role, owner.groups) == ("alice", "Owner", ["owners"])
    assert owner.email == "alice@example.com"
    assert [m.username for m in hub.list_members("acme", member_type="member")] == ["alice", "bob"]

    lines = hub.export_members_csv("acme").splitlines()
    assert lines[0] == "Name,Username,Email,Type,Permission,Teams,Date Joined"
    assert [line.split(",")[1] for line in lines[1:]] == ["alice", "bob"]

    changed = hub.update_member_role("acme", "bob", "editor")
    assert (changed.username, changed.role) == ("bob", "Editor")
    hub.remove_member("acme", "bob")
    assert [m.username for m in hub.list_members("acme")] == ["alice"]


def test_invites(hub_emulator: HubEmulator, hub_session: DockerHubSession) -> None:
    hub = hub_session.hub
    dry = hub.bulk_invite("acme", ["new@example.com", "bob", "not an id"], dry_run=True)
    assert [(e.invitee, e.status, e.invite) for e in dry] == [
        ("new@example.com", "invited", None),
        ("bob", "existing_org_member", None),
        ("not an id", "invalid_email_or_docker_id", None),
    ]
    assert hub.list_invites("acme") == []

    (sent,) = hub.bulk_invite("acme", ["new@example.com"], team="owners", role="member")
    assert sent.status == "invited" and sent.invite is not None
    invite = sent.invite
    assert (invite.invitee, invite.team, invite.org, invite.inviter_username) == (
        "new@example.com",
        "owners",
        "acme",
        "alice",
    )
    assert [i.id for i in hub.list_invites("acme")] == [invite.id]
    hub.resend_invite(invite.id)
    assert hub_emulator.state.invites[invite.id].sent == 2
    hub.delete_invite(invite.id)
    assert hub.list_invites("acme") == []


# -- groups (teams) -------------------------------------------------------------------------------------------


def test_groups_and_group_members(hub_emulator: HubEmulator, hub_session: DockerHubSession) -> None:
    hub = hub_session.hub
    created = hub.create_group("acme", "devs", "Developers")
    assert (created.name, created.description, created.member_count) == ("devs", "Developers", 0)
    assert isinstance(created.id, int)
    assert hub.get_group("acme", "devs").description == "Developers"
    patched = hub.update_group("acme", "devs", description="Dev team")
    assert (patched.name, patched.description) == ("devs", "Dev team")
    assert hub_emulator.requests[-1].method == "PATCH"
    replaced = hub.update_group("acme", "devs", name="developers", replace=True)
    assert (replaced.name, replaced.description) == ("developers", "")  # PUT resets what it omits
    assert hub_emulator.requests[-1].method == "PUT"
    assert [g.name for g in hub.list_groups("acme", search="dev")] == ["developers"]

    hub.add_group_member("acme", "developers", "bob")
    assert [g.name for g in hub.list_groups("acme", username="bob", page_size=1)] == ["developers"]
    (member,) = hub.list_group_members("acme", "developers", search="bob", page_size=1)
    assert (member.username, member.email) == ("bob", "bob@example.com")
    hub.remove_group_member("acme", "developers", "bob")
    assert list(hub.list_group_members("acme", "developers")) == []
    hub.delete_group("acme", "developers")
    with pytest.raises(NotFoundError):
        hub.get_group("acme", "developers")
    assert sorted(g.name for g in hub.list_groups("acme")) == ["owners"]


# -- repositories and tags ------------------------------------------------------------------------------------


def test_repositories_tags_immutability_and_team_permission(
    hub_emulator: HubEmulator, hub_session: DockerHubSession
) -> None:
    hub = hub_session.hub
    hub_emulator.seed_repositories("acme", 5)
    created = hub.create_repository("acme", "app", description="The app", full_description="# App", is_private=True)
    assert (created.name, created.namespace, created.is_private) == ("app", "acme", True)
    assert (created.description, created.full_description) == ("The app", "# App")
    assert created.immutable_tags_settings == ImmutableTagsSettings(enabled=False, rules=[])
    got = hub.get_repository("acme", "app")
    assert got.permissions is not None and got.permissions.admin is True and got.date_registered is not None
    assert hub.repository_exists("acme", "app") is True
    assert hub.repository_exists("acme", "nope") is False

    by_name = [r.name for r in hub.list_repositories("acme", ordering="-name", page_size=2)]
    assert by_name == ["repo-00004", "repo-00003", "repo-00002", "repo-00001", "repo-00000", "app"]
    assert [r.name for r in hub.list_repositories("acme", name="00003")] == ["repo-00003"]
    pulls = [r.pull_count or 0 for r in hub.list_repositories("acme", ordering="pull_count")]
    assert pulls == sorted(pulls) and len(pulls) == 6
    with pytest.raises(InvalidInputError):
        hub.list_repositories("acme", ordering="stars")  # refused client-side, before any request

    hub_emulator.seed_tags("acme", "app", ["v1.0", "v1.1", "latest"])
    tags = list(hub.list_tags("acme", "app", page_size=2))
    assert [t.name for t in tags] == ["latest", "v1.1", "v1.0"]  # newest first, over two pages
    tag = hub.get_tag("acme", "app", "v1.0")
    assert tag.name == "v1.0" and (tag.digest or "").startswith("sha256:") and tag.full_size
    assert [(i.os, i.architecture) for i in tag.images] == [("linux", "amd64")]
    assert hub.has_tags("acme", "app") is True
    hub.create_repository("acme", "empty")
    assert hub.has_tags("acme", "empty") is False
    assert hub.tag_exists("acme", "app", "v1.1") is True
    assert hub.tag_exists("acme", "app", "v9") is False

    immutable = hub.update_immutable_tags("acme", "app", enabled=True, rules=["v.*"])
    assert immutable.immutable_tags_settings == ImmutableTagsSettings(enabled=True, rules=["v.*"])
    assert hub.verify_immutable_tags("acme", "app", "v.*") == ["v1.0", "v1.1"]

    team = hub.create_group("acme", "devs")
    assert team.id is not None
    grant = hub.grant_repository_group("acme", "app", team.id, "write")
    assert (grant.group_name, grant.group_id, grant.permission) == ("devs", team.id, "write")


# -- audit logs -----------------------------------------------------------------------------------------------


def test_audit_logs_window_filters_and_actions(hub_emulator: HubEmulator, hub_session: DockerHubSession) -> None:
    hub = hub_session.hub
    hub_emulator.seed_audit_events("acme", 250, start="2025-01-01T00:00:00Z", step_seconds=1)
    hub_emulator.seed_audit_events(
        "acme", 3, start="2025-01-01T00:10:00Z", action="org.team.create", actor="bob", name="acme"
    )
    start = datetime(2025, 1, 1, tzinfo=UTC)
    events = list(hub.audit_logs("acme", start=start, end=start + timedelta(seconds=250), page_size=100))
    stamps = [e.timestamp for e in events]
    assert len(events) == len(set(stamps)) == 250
    assert stamps[0] == start + timedelta(seconds=249) and stamps[-1] == start  # newest first, `from` inclusive
    assert {e.action for e in events} == {"repo.tag.push"} and events[0].data["tag"].startswith("tag-")
    queries = calls(hub_emulator, "GET", "/v2/auditlogs/acme")
    # 100, 100, 50, then an empty page ends the walk: a short page does not (a server may cap page_size).
    assert [q["page"] for q in queries] == ["1", "2", "3", "4"]
    assert queries[0]["from"] == "2025-01-01T00:00:00Z" and queries[0]["to"] == "2025-01-01T00:04:10Z"

    team_events = list(hub.audit_logs("acme", action="org.team.create", actor="bob", name="acme"))
    assert [(e.action, e.actor, e.account) for e in team_events] == [("org.team.create", "bob", "acme")] * 3

    actions = hub.list_audit_actions("acme")
    assert {"repo", "org"} <= set(actions)
    assert "tag.push" in {a["name"] for a in actions["repo"]["actions"]}


# -- SCIM -----------------------------------------------------------------------------------------------------


def test_scim_discovery(hub_emulator: HubEmulator, hub_session: DockerHubSession) -> None:
    scim = hub_session.scim
    config = scim.service_provider_config()
    assert config["filter"]["supported"] is True and config["patch"]["supported"] is False
    (user_type,) = scim.resource_types()
    assert (user_type["name"], user_type["endpoint"], user_type["schema"]) == ("User", "/Users", USER_SCHEMA)
    assert scim.resource_type("User")["schema"] == USER_SCHEMA
    assert USER_SCHEMA in [s["id"] for s in scim.schemas()]
    user_schema = scim.schema(USER_SCHEMA)
    assert user_schema["name"] == "User" and "userName" in {a["name"] for a in user_schema["attributes"]}


def test_scim_users(hub_emulator: HubEmulator, hub_session: DockerHubSession) -> None:
    scim = hub_session.scim
    hub_emulator.seed_scim_users(5)
    created = scim.create_user("jon.snow@example.com", given_name="Jon", family_name="Snow")
    assert created.active and created.display_name == "jonsnow" and created.name is not None
    assert (created.name.given_name, created.name.family_name) == ("Jon", "Snow")
    assert created.emails[0].value == "jon.snow@example.com" and created.meta["resourceType"] == "User"
    assert scim.get_user(created.id).user_name == "jon.snow@example.com"

    found = list(scim.list_users(filter='userName eq "JON.SNOW@example.com"'))
    assert [u.id for u in found] == [created.id]
    trimmed = list(
        scim.list_users(sort_by="userName", sort_order="descending", attributes="userName,active", page_size=2)
    )
    names = [u.user_name for u in trimmed]
    assert names == sorted(names, reverse=True) and len(names) == 6
    assert all(u.name is None and u.emails == [] for u in trimmed)  # only the asked-for attributes came back
    assert [q["startIndex"] for q in calls(hub_emulator, "GET", "/v2/scim/2.0/Users") if "sortBy" in q] == [
        "1",
        "3",
        "5",
    ]

    off = scim.replace_user(created.id, active=False)
    assert off.active is False and off.name is not None and off.name.given_name == "Jon"
    assert hub_emulator.requests[-1].body == {"schemas": [USER_SCHEMA], "enabled": False}
    on = scim.replace_user(created.id, active=True, given_name="Jonathan")
    assert on.active is True and on.name is not None
    assert (on.name.given_name, on.name.family_name) == ("Jonathan", "Snow")
    # ``enabled`` is always explicit: the spec's default (false) would deprovision on a mere rename.
    assert hub_emulator.requests[-1].body == {
        "schemas": [USER_SCHEMA],
        "enabled": True,
        "name": {"givenName": "Jonathan"},
    }


# -- paging styles --------------------------------------------------------------------------------------------


def test_repository_pages_are_walked_lazily_to_the_end(
    hub_emulator: HubEmulator, hub_session: DockerHubSession
) -> None:
    hub_emulator.seed_repositories("acme", 7)
    pages = hub_session.hub.list_repositories("acme", page_size=2)
    assert next(pages).name == "repo-00000"
    assert len(calls(hub_emulator, "GET", "/v2/namespaces/acme/repositories")) == 1  # nothing fetched ahead
    rest = [r.name for r in pages]
    assert rest == [f"repo-{i:05d}" for i in range(1, 7)]
    # 4 pages of 2, 2, 2, 1; never page 5 (which the Hub answers 404).
    assert [q["page"] for q in calls(hub_emulator, "GET", "/v2/namespaces/acme/repositories")] == ["1", "2", "3", "4"]


def test_org_access_token_pages_carry_total(hub_emulator: HubEmulator, hub_session: DockerHubSession) -> None:
    hub = hub_session.hub
    made = {hub.create_org_access_token("acme", f"token-{i}").id for i in range(5)}
    assert {t.id for t in hub.list_org_access_tokens("acme", page_size=2)} == made
    assert [q["page"] for q in calls(hub_emulator, "GET", "/v2/orgs/acme/access-tokens")] == ["1", "2", "3"]


def test_audit_pages_stop_at_the_first_short_page(hub_emulator: HubEmulator, hub_session: DockerHubSession) -> None:
    hub_emulator.seed_audit_events("acme", 200, start="2025-03-01T00:00:00Z", step_seconds=2)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    events = list(hub_session.hub.audit_logs("acme", start=start, end=start + timedelta(hours=1), page_size=100))
    assert len(events) == 200
    # No count and no next link: an exact multiple needs one empty page to know it is done, and no more.
    assert [q["page"] for q in calls(hub_emulator, "GET", "/v2/auditlogs/acme")] == ["1", "2", "3"]


def test_scim_start_index_paging(hub_emulator: HubEmulator, hub_session: DockerHubSession) -> None:
    hub_emulator.seed_scim_users(450)
    users = list(hub_session.scim.list_users(page_size=200))
    assert len(users) == len({u.id for u in users}) == 450
    queries = calls(hub_emulator, "GET", "/v2/scim/2.0/Users")
    assert [(q["startIndex"], q["count"]) for q in queries] == [("1", "200"), ("201", "200"), ("401", "200")]


# -- the destructive gate -------------------------------------------------------------------------------------


def test_writes_without_allow_destructive_send_nothing(hub_emulator: HubEmulator, sinks: Sinks) -> None:
    hub_emulator.seed_tags("acme", "app", ["v1.0", "v2.0"])
    hub_emulator.seed_scim_users(1)
    user_id = next(iter(hub_emulator.scim.users))
    with open_session(hub_emulator, sinks, allow_destructive=False) as hub_session:
        hub, scim = hub_session.hub, hub_session.scim
        writes: list[tuple[str, Callable[[], object]]] = [
            ("create repository", lambda: hub.create_repository("acme", "new-app")),
            ("immutable tags", lambda: hub.update_immutable_tags("acme", "app", enabled=True, rules=["v.*"])),
            ("repository group", lambda: hub.grant_repository_group("acme", "app", 1, "read")),
            ("create PAT", lambda: hub.create_access_token("x", ["repo:read"])),
            ("update PAT", lambda: hub.update_access_token("some-uuid", is_active=False)),
            ("delete PAT", lambda: hub.delete_access_token("some-uuid")),
            ("create OAT", lambda: hub.create_org_access_token("acme", "x")),
            ("delete OAT", lambda: hub.delete_org_access_token("acme", "some-id")),
            ("org settings", lambda: hub.update_org_settings("acme", restricted_images_enabled=True)),
            ("member role", lambda: hub.update_member_role("acme", "bob", "owner")),
            ("remove member", lambda: hub.remove_member("acme", "bob")),
            ("invite", lambda: hub.bulk_invite("acme", ["new@example.com"])),
            ("resend invite", lambda: hub.resend_invite("some-id")),
            ("delete invite", lambda: hub.delete_invite("some-id")),
            ("create group", lambda: hub.create_group("acme", "devs")),
            ("update group", lambda: hub.update_group("acme", "owners", description="x")),
            ("delete group", lambda: hub.delete_group("acme", "owners")),
            ("add group member", lambda: hub.add_group_member("acme", "owners", "bob")),
            ("remove group member", lambda: hub.remove_group_member("acme", "owners", "alice")),
            ("SCIM create", lambda: scim.create_user("new@example.com")),
            ("SCIM deprovision", lambda: scim.replace_user(user_id, active=False)),
        ]
        for what, write in writes:
            with pytest.raises(DestructiveOperationRefused, match="allow_destructive"):
                write()
            assert hub_emulator.requests == [], f"{what}: a refused write must not send anything, not even a token mint"
        assert hub_emulator.tokens_issued == 0

        # Reads, and the POSTs that only read, still work on the same connection.
        assert hub.verify_immutable_tags("acme", "app", "v1.*") == ["v1.0"]
        assert [e.status for e in hub.bulk_invite("acme", ["new@example.com"], dry_run=True)] == ["invited"]
        assert scim.get_user(user_id).active is True
    assert list(hub_emulator.state.repos) == [("acme", "app")]
    assert (
        not hub_emulator.state.invites
        and not hub_emulator.state.pats
        and set(hub_emulator.state.orgs["acme"].groups) == {"owners"}
    )


# -- path escaping --------------------------------------------------------------------------------------------


def test_parameters_stay_one_path_segment(hub_emulator: HubEmulator, hub_session: DockerHubSession) -> None:
    hub = hub_session.hub
    settings_before = hub_emulator.state.orgs["acme"].settings
    # Unescaped, PUT .../members/../settings would normalise to PUT /v2/orgs/acme/settings: a settings write.
    with pytest.raises(NotFoundError):
        hub.update_member_role("acme", "../settings", "member")
    with pytest.raises(NotFoundError):
        hub.get_group("acme", "../settings")
    logged = [(r.method, r.path, r.status) for r in hub_emulator.requests if r.path != "/v2/auth/token"]
    assert logged == [
        ("PUT", "/v2/orgs/acme/members/../settings", 404),
        ("GET", "/v2/orgs/acme/groups/../settings", 404),
    ]
    assert hub_emulator.state.orgs["acme"].settings == settings_before
    # Bare dot segments cannot be escaped at all (httpx would drop them): refused before any request.
    count = len(hub_emulator.requests)
    with pytest.raises(InvalidInputError):
        hub.get_group("acme", "..")
    assert len(hub_emulator.requests) == count


# -- retries and tokens ---------------------------------------------------------------------------------------


def test_429_waits_for_retry_after(hub_emulator: HubEmulator, hub_session: DockerHubSession, sinks: Sinks) -> None:
    hub_emulator.seed_audit_events("acme", 5)
    rule = hub_emulator.rate_limit(r"^/v2/auditlogs/acme$", times=2, retry_after="3")
    assert len(list(hub_session.hub.audit_logs("acme"))) == 5
    assert sinks.sleeps == [3.0, 3.0] and rule.hits == 2
    # Page 1 after two 429s, then the empty page 2 that ends a listing without a count.
    assert [r.status for r in hub_emulator.requests if r.path == "/v2/auditlogs/acme"] == [429, 429, 200, 200]

    # A 429 means "not processed", so even a POST is resent after the wait.
    hub_emulator.rate_limit(r"^/v2/orgs/acme/groups$", times=1, retry_after="2", method="POST")
    assert hub_session.hub.create_group("acme", "devs").name == "devs"
    assert sinks.sleeps[-1] == 2.0 and set(hub_emulator.state.orgs["acme"].groups) == {"owners", "devs"}

    # Bounded: once the policy's retries are spent, a typed error carries the server's Retry-After.
    hub_emulator.rate_limit(r"^/v2/scim/2.0/Users$", times=100, retry_after="1")
    with pytest.raises(RateLimitedError) as limited:
        list(hub_session.scim.list_users())
    assert limited.value.retry_after == 1.0
    assert len(calls(hub_emulator, "GET", "/v2/scim/2.0/Users")) == hub_session.state.policy.max_retries + 1


def test_expired_jwt_is_reminted_once(hub_emulator: HubEmulator, hub_session: DockerHubSession) -> None:
    hub = hub_session.hub
    assert hub.get_org_settings("acme").restricted_images is not None
    hub_emulator.expire_tokens()
    assert hub.get_org_settings("acme").restricted_images is not None
    assert [(r.method, r.path, r.status) for r in hub_emulator.requests] == [
        ("POST", "/v2/auth/token", 200),
        ("GET", "/v2/orgs/acme/settings", 200),
        ("GET", "/v2/orgs/acme/settings", 401),
        ("POST", "/v2/auth/token", 200),
        ("GET", "/v2/orgs/acme/settings", 200),
    ]
    assert hub_emulator.tokens_issued == 2

    # A 401 that survives the fresh token is final: one re-mint, never a loop.
    hub_emulator.reset_log()
    hub_emulator.fail(r"^/v2/orgs/acme/settings$", 401, times=5)
    with pytest.raises(AuthenticationError):
        hub.get_org_settings("acme")
    assert [(r.method, r.status) for r in hub_emulator.requests] == [("GET", 401), ("POST", 200), ("GET", 401)]


def test_scim_never_gets_the_hub_jwt(
    hub_emulator: HubEmulator, hub_session: DockerHubSession, sinks: Sinks, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str | None]] = []
    dispatch = hub_emulator._dispatch

    def spy(request: HubRequest) -> Any:
        seen.append((request.raw_path, request.headers.get("authorization")))
        return dispatch(request)

    monkeypatch.setattr(hub_emulator, "_dispatch", spy)
    hub_emulator.seed_scim_users(3)
    assert len(list(hub_session.scim.list_users())) == 3
    assert hub_emulator.tokens_issued == 0, "SCIM alone must not mint a Hub JWT"
    hub_session.hub.get_org_settings("acme")
    (user,) = hub_session.scim.list_users(filter='userName eq "user000001@example.com"')
    hub_session.scim.get_user(user.id)

    (jwt,) = sinks.secrets
    scim_auth = [auth for path, auth in seen if path.startswith("/v2/scim/")]
    hub_auth = [auth for path, auth in seen if path == "/v2/orgs/acme/settings"]
    assert scim_auth == ["Bearer scim-token"] * 3
    assert hub_auth == [f"Bearer {jwt}"]
    assert not any(jwt in (auth or "") for path, auth in seen if path.startswith("/v2/scim/"))
    # And the other way round: the SCIM token is sent to nothing but SCIM.
    assert not any("scim-token" in (auth or "") for path, auth in seen if not path.startswith("/v2/scim/"))


def test_scim_without_a_token_is_refused_before_any_request(hub_emulator: HubEmulator, sinks: Sinks) -> None:
    with (
        open_session(hub_emulator, sinks, scim_token=None) as hub_session,
        pytest.raises(ConfigurationError, match="scim_token"),
    ):
        list(hub_session.scim.list_users())
    assert hub_emulator.requests == []


def test_created_secrets_go_to_on_secret(
    hub_emulator: HubEmulator, hub_session: DockerHubSession, sinks: Sinks
) -> None:
    pat = hub_session.hub.create_access_token("ci", ["repo:read"])
    oat = hub_session.hub.create_org_access_token("acme", "ci")
    other = hub_session.hub.create_auth_token("bob", "bob-pw")
    assert pat.token and oat.token
    # The session's own JWT (minted by the first call), both created tokens, and the JWT minted for bob.
    assert sinks.secrets[1:] == [pat.token, oat.token, other] and sinks.secrets[0].count(".") == 2
    # The model keeps the secret out of its repr (task logs print models).
    assert pat.token not in repr(pat) and oat.token not in repr(oat)


def test_plain_http_is_refused_off_loopback(sinks: Sinks) -> None:
    config = ClientConfig.from_fields("alice", "alice-pat", {"hub_url": "http://hub.example.com"})
    with DockerHubSession(config, on_secret=sinks.secrets.append) as hub_session, pytest.raises(ConfigurationError):
        hub_session.hub.authenticate()
    assert sinks.secrets == []


# -- coverage: all 54 operations -----------------------------------------------------------------------------


def test_every_spec_operation_is_called_through_the_client(hub_server: HubEmulator) -> None:
    assert len(OPERATIONS) == 54
    assert {(r.method, r.template) for r in hub_server.routes} == OPERATIONS
    offline = {"test_every_spec_operation_is_called_through_the_client", "test_plain_http_is_refused_off_loopback"}
    needs_emulator = {name for name in globals() if name.startswith("test_")} - offline
    # Only meaningful after the whole module ran (a -k selection sees only part of the calls).
    if not needs_emulator <= FINISHED:
        pytest.skip("run the whole module: coverage adds up the operations every test called")
    missing = sorted(OPERATIONS - HIT)
    assert missing == [], f"operations never answered 2xx through the client: {missing}"
