"""The destructive gate as a matrix, for every destructive operation: connection ``allow_destructive`` x the
operator's own argument (where there is one) x dry run.

A write or delete may reach the server only when every "yes" is given and it is not a dry run. Where it is
refused, the server's own log proves it: the FaultProxy in front of the real ``docker-registry`` records every
registry request, and the Hub emulator records every Hub and SCIM request. Refusals are checked *before* any
request, so a refused call leaves no trace at all (not even a token mint), and the state is unchanged.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dockerhub.client import (
    ClientConfig,
    DestructiveOperationRefused,
    DockerHubSession,
    NotFoundError,
)
from airflow_provider_dockerhub.hooks.dockerhub import DockerHubHook
from airflow_provider_dockerhub.operators.hub import (
    DockerHubEnsureRepositoryOperator,
    DockerHubEnsureTeamMembersOperator,
)
from airflow_provider_dockerhub.operators.registry import (
    DockerHubCopyImageOperator,
    DockerHubDeleteManifestOperator,
    DockerHubPushBlobOperator,
)
from airflow_provider_dockerhub.operators.scim import DockerHubScimSyncOperator
from airflow_provider_dockerhub.testing.fault_proxy import FaultProxy
from airflow_provider_dockerhub.testing.hub import HubEmulator
from airflow_provider_dockerhub.testing.oci import Image, digest, push_raw
from airflow_provider_dockerhub.testing.registry import LocalRegistry
from tests.specs import spec_path

BOOLS = [True, False]
CONTEXT: dict[str, Any] = {}
SCIM_TOKEN = "scim-token"


# -- the registry, behind a recording proxy ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def token_proxy(token_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(token_registry.url) as fault_proxy:
        yield fault_proxy


@pytest.fixture
def direct(token_registry: LocalRegistry) -> Iterator[DockerHubSession]:
    """A session straight to the registry (not through the proxy) to set up and read back state."""
    extra = {"registry_url": token_registry.url, "allow_destructive": True}
    with DockerHubSession(ClientConfig.from_fields("alice", "alice-secret", extra)) as session:
        yield session


@pytest.fixture
def registry_conn(airflow_conn: Callable[..., str], token_proxy: FaultProxy) -> Callable[[bool], str]:
    """A connection to the registry through the proxy, with or without ``allow_destructive``."""

    def make(allow: bool) -> str:
        return airflow_conn(
            f"reg_{allow}".lower(),
            login="alice",
            password="alice-secret",
            registry_url=token_proxy.url,
            allow_destructive=allow,
        )

    return make


def registry_writes(token_proxy: FaultProxy) -> list[tuple[str, str]]:
    """Writes the registry acted on; a 401 is the token challenge (sent without credentials, changes nothing)."""
    return [(r.method, r.path) for r in token_proxy.requests if r.method not in ("GET", "HEAD") and r.outcome != 401]


@pytest.mark.registry
@pytest.mark.parametrize(("allow", "confirm", "dry_run"), list(itertools.product(BOOLS, repeat=3)))
def test_manifest_delete(
    allow: bool,
    confirm: bool,
    dry_run: bool,
    *,
    registry_conn: Callable[[bool], str],
    token_proxy: FaultProxy,
    direct: DockerHubSession,
) -> None:
    tag = f"del-{allow}-{confirm}-{dry_run}".lower()
    pushed = push_raw(direct.registry, "sec/delete", Image(files={"d": tag.encode()}), tag)
    token_proxy.reset_stats()
    op = DockerHubDeleteManifestOperator(
        task_id="delete",
        repository="sec/delete",
        reference=tag,
        confirm_delete=confirm,
        dry_run=dry_run,
        dockerhub_conn_id=registry_conn(allow),
    )
    deleted = allow and confirm and not dry_run
    if dry_run:
        assert op.execute(CONTEXT) == {
            "repository": "sec/delete",
            "reference": tag,
            "dry_run": True,
            "digest": pushed,
            "deleted": False,
        }
        assert {r.method for r in token_proxy.requests} == {"HEAD"}  # resolving the tag is all a dry run does
    elif not confirm:
        with pytest.raises(AirflowFailException, match="confirm_delete=True"):
            op.execute(CONTEXT)
    elif not allow:
        with pytest.raises(DestructiveOperationRefused, match="allow_destructive"):
            op.execute(CONTEXT)
    else:
        assert op.execute(CONTEXT)["deleted"] is True
    if not dry_run and not deleted:
        assert token_proxy.requests == []  # refused before the first request
    assert registry_writes(token_proxy) == ([("DELETE", f"/v2/sec/delete/manifests/{pushed}")] if deleted else [])
    assert (direct.registry.head_manifest("sec/delete", pushed) is None) is deleted


@pytest.mark.registry
@pytest.mark.parametrize("allow", BOOLS)
def test_blob_delete(
    allow: bool, registry_conn: Callable[[bool], str], token_proxy: FaultProxy, direct: DockerHubSession
) -> None:
    data = f"a blob to delete, allow={allow}".encode()
    blob = direct.registry.upload_blob("sec/blobs", data)
    token_proxy.reset_stats()
    with DockerHubHook(dockerhub_conn_id=registry_conn(allow)) as hook:
        if allow:
            hook.registry.delete_blob("sec/blobs", blob)
        else:
            with pytest.raises(DestructiveOperationRefused):
                hook.registry.delete_blob("sec/blobs", blob)
    assert registry_writes(token_proxy) == ([("DELETE", f"/v2/sec/blobs/blobs/{blob}")] if allow else [])
    if not allow:
        assert token_proxy.requests == []
    assert direct.registry.blob_exists("sec/blobs", blob) is not allow


@pytest.mark.registry
@pytest.mark.parametrize("allow", BOOLS)
def test_blob_push(
    allow: bool, registry_conn: Callable[[bool], str], token_proxy: FaultProxy, direct: DockerHubSession, tmp_path: Any
) -> None:
    data = f"a blob to push, allow={allow}".encode()
    (tmp_path / "blob").write_bytes(data)
    token_proxy.reset_stats()
    op = DockerHubPushBlobOperator(
        task_id="push", repository="sec/push", path=str(tmp_path / "blob"), dockerhub_conn_id=registry_conn(allow)
    )
    if allow:
        assert op.execute(CONTEXT)["digest"] == digest(data)
        assert ("POST", "/v2/sec/push/blobs/uploads/") in registry_writes(token_proxy)
    else:
        with pytest.raises(DestructiveOperationRefused):
            op.execute(CONTEXT)
        assert token_proxy.requests == []
    assert direct.registry.blob_exists("sec/push", digest(data)) is allow


@pytest.mark.registry
@pytest.mark.parametrize("allow", BOOLS)
def test_tag_move_by_copy(
    allow: bool, registry_conn: Callable[[bool], str], token_proxy: FaultProxy, direct: DockerHubSession
) -> None:
    source = push_raw(direct.registry, "sec/copy", Image(files={"c": f"copy {allow}".encode()}), f"rc-{allow}".lower())
    token_proxy.reset_stats()
    op = DockerHubCopyImageOperator(
        task_id="copy",
        source=f"sec/copy:rc-{allow}".lower(),
        destination=f"sec/copy:release-{allow}".lower(),
        emit_asset=False,  # the gate is under test; image Assets have their own tests (test_transfer_results.py)
        dockerhub_conn_id=registry_conn(allow),
    )
    if allow:
        assert op.execute({"outlet_events": defaultdict(lambda: SimpleNamespace(extra=None))})["digest"] == source
    else:
        with pytest.raises(DestructiveOperationRefused):
            op.execute(CONTEXT)
        assert token_proxy.requests == []
    moved = direct.registry.head_manifest("sec/copy", f"release-{allow}".lower())
    assert (moved is not None and moved.digest == source) is allow


# -- the Hub and SCIM, against the emulator ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub_server() -> Iterator[HubEmulator]:
    with HubEmulator(
        spec_path=spec_path("docker-hub-api.yaml"),
        users={"alice": "alice-pat", "bob": "bob-pw"},
        orgs=("acme",),
        scim_token=SCIM_TOKEN,
        validate_responses=True,
    ) as emulator:
        yield emulator


@pytest.fixture
def hub_emulator(hub_server: HubEmulator) -> Iterator[HubEmulator]:
    hub_server.reset()
    yield hub_server
    assert hub_server.violations == [], "requests departed from the Hub spec"


@pytest.fixture
def admin(hub_emulator: HubEmulator) -> Iterator[DockerHubSession]:
    """Sets up and reads back state; not the code under test."""
    extra = {"hub_url": hub_emulator.url, "scim_token": SCIM_TOKEN, "allow_destructive": True}
    with DockerHubSession(ClientConfig.from_fields("alice", "alice-pat", extra)) as session:
        yield session


@pytest.fixture
def hub_conn(airflow_conn: Callable[..., str], hub_emulator: HubEmulator) -> Callable[[bool], str]:
    def make(allow: bool) -> str:
        return airflow_conn(
            f"hub_{allow}".lower(),
            login="alice",
            password="alice-pat",
            hub_url=hub_emulator.url,
            namespace="acme",
            scim_token=SCIM_TOKEN,
            allow_destructive=allow,
        )

    return make


def hub_writes(hub_emulator: HubEmulator) -> list[tuple[str, str]]:
    """State-changing requests, leaving out the token mint (a POST that changes nothing)."""
    return [
        (r.method, r.path)
        for r in hub_emulator.requests
        if r.method not in ("GET", "HEAD") and r.path != "/v2/auth/token"
    ]


@dataclass(frozen=True)
class HubOperation:
    """``setup`` prepares state and returns what ``run`` needs; ``done`` tells whether the change happened."""

    id: str
    setup: Callable[[DockerHubSession], str]
    run: Callable[[DockerHubHook, str], object]
    request: Callable[[str], tuple[str, str]]
    done: Callable[[DockerHubSession, str], bool]


def _pat(s: DockerHubSession) -> str:
    return str(s.hub.create_access_token("ci", ["repo:read"]).uuid)


def _oat(s: DockerHubSession) -> str:
    resources = [{"type": "TYPE_ORG", "path": "acme", "scopes": ["member-read"]}]
    return str(s.hub.create_org_access_token("acme", "ci", resources=resources).id)


def _group(s: DockerHubSession) -> str:
    s.hub.create_group("acme", "devs")
    s.hub.add_group_member("acme", "devs", "bob")
    return "devs"


def _invite(s: DockerHubSession) -> str:
    s.hub.bulk_invite("acme", ["new@example.com"])
    return str(s.hub.list_invites("acme")[0].id)


def _gone(read: Callable[[], object]) -> bool:
    try:
        read()
    except NotFoundError:
        return True
    return False


def _restricted(s: DockerHubSession, org: str) -> bool:
    images = s.hub.get_org_settings(org).restricted_images
    return images is not None and images.enabled is True


def _immutable(s: DockerHubSession, repository: str) -> bool:
    settings = s.hub.get_repository("acme", repository).immutable_tags_settings
    return settings is not None and settings.enabled is True


def _members(s: DockerHubSession) -> dict[str, str | None]:
    return {m.username: m.role for m in s.hub.list_members("acme")}


HUB_OPERATIONS = [
    HubOperation(
        "delete-access-token",
        _pat,
        lambda h, uuid: h.hub.delete_access_token(uuid),
        lambda uuid: ("DELETE", f"/v2/access-tokens/{uuid}"),
        lambda s, uuid: _gone(lambda: s.hub.get_access_token(uuid)),
    ),
    HubOperation(
        "deactivate-access-token",
        _pat,
        lambda h, uuid: h.hub.update_access_token(uuid, is_active=False),
        lambda uuid: ("PATCH", f"/v2/access-tokens/{uuid}"),
        lambda s, uuid: s.hub.get_access_token(uuid).is_active is False,
    ),
    HubOperation(
        "delete-org-access-token",
        _oat,
        lambda h, token: h.hub.delete_org_access_token("acme", token),
        lambda token: ("DELETE", f"/v2/orgs/acme/access-tokens/{token}"),
        lambda s, token: _gone(lambda: s.hub.get_org_access_token("acme", token)),
    ),
    HubOperation(
        "deactivate-org-access-token",
        _oat,
        lambda h, token: h.hub.update_org_access_token("acme", token, is_active=False),
        lambda token: ("PATCH", f"/v2/orgs/acme/access-tokens/{token}"),
        lambda s, token: s.hub.get_org_access_token("acme", token).is_active is False,
    ),
    HubOperation(
        "remove-member",
        lambda s: "bob",
        lambda h, user: h.hub.remove_member("acme", user),
        lambda user: ("DELETE", f"/v2/orgs/acme/members/{user}"),
        lambda s, user: user not in _members(s),
    ),
    HubOperation(
        "change-member-role",
        lambda s: "bob",
        lambda h, user: h.hub.update_member_role("acme", user, "editor"),
        lambda user: ("PUT", f"/v2/orgs/acme/members/{user}"),
        lambda s, user: (_members(s)[user] or "").lower() == "editor",
    ),
    HubOperation(
        "delete-group",
        _group,
        lambda h, group: h.hub.delete_group("acme", group),
        lambda group: ("DELETE", f"/v2/orgs/acme/groups/{group}"),
        lambda s, group: _gone(lambda: s.hub.get_group("acme", group)),
    ),
    HubOperation(
        "remove-group-member",
        _group,
        lambda h, group: h.hub.remove_group_member("acme", group, "bob"),
        lambda group: ("DELETE", f"/v2/orgs/acme/groups/{group}/members/bob"),
        lambda s, group: "bob" not in {m.username for m in s.hub.list_group_members("acme", group)},
    ),
    HubOperation(
        "delete-invite",
        _invite,
        lambda h, invite: h.hub.delete_invite(invite),
        lambda invite: ("DELETE", f"/v2/invites/{invite}"),
        lambda s, invite: invite not in {i.id for i in s.hub.list_invites("acme")},
    ),
    HubOperation(
        "change-org-settings",
        lambda s: "acme",
        lambda h, org: h.hub.update_org_settings(org, restricted_images_enabled=True),
        lambda org: ("PUT", f"/v2/orgs/{org}/settings"),
        _restricted,
    ),
    HubOperation(
        "change-immutable-tags",
        lambda s: s.hub.create_repository("acme", "locked").name,
        lambda h, repo: h.hub.update_immutable_tags("acme", repo, enabled=True, rules=["v.*"]),
        lambda repo: ("PATCH", f"/v2/namespaces/acme/repositories/{repo}/immutabletags"),
        _immutable,
    ),
    HubOperation(
        "scim-deactivate-user",
        lambda s: s.scim.create_user("carol@example.com").id,
        lambda h, user_id: h.scim.replace_user(user_id, active=False),
        lambda user_id: ("PUT", f"/v2/scim/2.0/Users/{user_id}"),
        lambda s, user_id: s.scim.get_user(user_id).active is False,
    ),
    HubOperation(
        "invite-members",
        lambda s: "acme",
        lambda h, org: h.hub.bulk_invite(org, ["dave@example.com"]),
        lambda org: ("POST", "/v2/invites/bulk"),
        lambda s, org: "dave@example.com" in {i.invitee for i in s.hub.list_invites(org)},
    ),
]


@pytest.mark.parametrize("allow", BOOLS)
@pytest.mark.parametrize("operation", HUB_OPERATIONS, ids=lambda o: o.id)
def test_hub_operation(
    operation: HubOperation,
    allow: bool,
    hub_emulator: HubEmulator,
    admin: DockerHubSession,
    hub_conn: Callable[[bool], str],
) -> None:
    target = operation.setup(admin)
    assert not operation.done(admin, target)
    hub_emulator.reset_log()
    with DockerHubHook(dockerhub_conn_id=hub_conn(allow)) as hook:
        if allow:
            operation.run(hook, target)
        else:
            with pytest.raises(DestructiveOperationRefused, match="allow_destructive"):
                operation.run(hook, target)
    if allow:
        assert hub_writes(hub_emulator) == [operation.request(target)]
    else:
        assert hub_emulator.requests == []  # refused before any request, the token mint included
    assert operation.done(admin, target) is allow


def test_invite_dry_run_needs_no_permission_and_invites_nobody(
    hub_emulator: HubEmulator, admin: DockerHubSession, hub_conn: Callable[[bool], str]
) -> None:
    # ``bulk_invite(dry_run=True)`` only validates on the server, so it is allowed without allow_destructive.
    with DockerHubHook(dockerhub_conn_id=hub_conn(False)) as hook:
        entries = hook.hub.bulk_invite("acme", ["erin@example.com"], dry_run=True)
    assert [e.invitee for e in entries] == ["erin@example.com"]
    assert [r.body["dry_run"] for r in hub_emulator.requests if r.path == "/v2/invites/bulk"] == [True]
    assert admin.hub.list_invites("acme") == []


@pytest.mark.parametrize(("allow", "dry_run"), list(itertools.product(BOOLS, repeat=2)))
def test_ensure_repository_creation(
    allow: bool, dry_run: bool, hub_emulator: HubEmulator, admin: DockerHubSession, hub_conn: Callable[[bool], str]
) -> None:
    op = DockerHubEnsureRepositoryOperator(
        task_id="ensure", name="fresh", immutable_tags=["v.*"], dry_run=dry_run, dockerhub_conn_id=hub_conn(allow)
    )
    created = allow and not dry_run
    if dry_run or allow:
        result = op.execute(CONTEXT)
        assert result["created"] is True and result["changed"] == ["immutable_tags"]
    else:
        with pytest.raises(DestructiveOperationRefused):
            op.execute(CONTEXT)
    expected = [
        ("POST", "/v2/namespaces/acme/repositories"),
        ("PATCH", "/v2/namespaces/acme/repositories/fresh/immutabletags"),
    ]
    assert hub_writes(hub_emulator) == (expected if created else [])
    assert admin.hub.repository_exists("acme", "fresh") is created


# -- SCIM deactivation: allow_deactivation x connection x dry run -----------------------------------------------


@pytest.mark.parametrize(("allow_deactivation", "allow", "dry_run"), list(itertools.product(BOOLS, repeat=3)))
def test_scim_deactivation(
    allow_deactivation: bool,
    allow: bool,
    dry_run: bool,
    *,
    hub_emulator: HubEmulator,
    admin: DockerHubSession,
    hub_conn: Callable[[bool], str],
) -> None:
    hub_emulator.seed_scim_users(3)
    users = sorted(hub_emulator.scim.users.values(), key=lambda u: u.user_name)
    keep = [{"userName": u.user_name, "givenName": "User", "familyName": str(i)} for i, u in enumerate(users[:2])]
    leaving = users[2]
    hub_emulator.reset_log()
    op = DockerHubScimSyncOperator(
        task_id="scim",
        users=keep,
        max_deactivations=5,
        allow_deactivation=allow_deactivation,
        dry_run=dry_run,
        dockerhub_conn_id=hub_conn(allow),
    )
    deactivated = allow_deactivation and allow and not dry_run
    if dry_run:
        result = op.execute(CONTEXT)
        kinds = ("create", "update", "reactivate", "deactivate", "unchanged", "dry_run", "applied")
        assert {k: result[k] for k in kinds} == {
            "create": 0,
            "update": 0,
            "reactivate": 0,
            "deactivate": 1,
            "unchanged": 2,
            "dry_run": True,
            "applied": False,
        }
        assert result["changes"] == [
            {"user_name": leaving.user_name, "kind": "deactivate", "detail": "not in the input"}
        ]
    elif not allow_deactivation:
        with pytest.raises(AirflowFailException, match="allow_deactivation=True"):
            op.execute(CONTEXT)
    elif not allow:
        with pytest.raises(DestructiveOperationRefused, match="allow_destructive"):
            op.execute(CONTEXT)
    else:
        assert op.execute(CONTEXT)["applied"] is True
    assert hub_writes(hub_emulator) == ([("PUT", f"/v2/scim/2.0/Users/{leaving.id}")] if deactivated else [])
    assert {r.method for r in hub_emulator.requests} <= ({"GET", "PUT"} if deactivated else {"GET"})
    assert admin.scim.get_user(leaving.id).active is not deactivated


# -- team member removal: allow_removal x connection x dry run --------------------------------------------------


@pytest.mark.parametrize(("allow_removal", "allow", "dry_run"), list(itertools.product(BOOLS, repeat=3)))
def test_team_member_removal(
    allow_removal: bool,
    allow: bool,
    dry_run: bool,
    *,
    hub_emulator: HubEmulator,
    admin: DockerHubSession,
    hub_conn: Callable[[bool], str],
) -> None:
    admin.hub.create_group("acme", "devs")
    for member in ("alice", "bob"):
        admin.hub.add_group_member("acme", "devs", member)
    hub_emulator.reset_log()
    op = DockerHubEnsureTeamMembersOperator(
        task_id="team",
        team="devs",
        members=["alice"],
        allow_removal=allow_removal,
        dry_run=dry_run,
        dockerhub_conn_id=hub_conn(allow),
    )
    removed = allow_removal and allow and not dry_run
    if dry_run or (allow_removal and allow):
        assert op.execute(CONTEXT) == {"added": [], "removed": ["bob"], "kept": 1, "dry_run": dry_run}
    elif not allow_removal:
        with pytest.raises(AirflowFailException, match="allow_removal=True"):
            op.execute(CONTEXT)
    else:
        with pytest.raises(DestructiveOperationRefused, match="allow_destructive"):
            op.execute(CONTEXT)
    assert hub_writes(hub_emulator) == ([("DELETE", "/v2/orgs/acme/groups/devs/members/bob")] if removed else [])
    members = {m.username for m in admin.hub.list_group_members("acme", "devs")}
    assert members == ({"alice"} if removed else {"alice", "bob"})


def test_team_members_from_a_template_are_names_not_letters(
    hub_emulator: HubEmulator, admin: DockerHubSession, hub_conn: Callable[[bool], str]
) -> None:
    # A templated ``members`` renders to a string: iterated as characters it would add users "a", "l", ... and,
    # with allow_removal, remove every real member.
    admin.hub.create_group("acme", "devs")
    for member in ("alice", "bob"):
        admin.hub.add_group_member("acme", "devs", member)
    hub_emulator.reset_log()
    op = DockerHubEnsureTeamMembersOperator(
        task_id="team", team="devs", members="alice, Bob", allow_removal=True, dockerhub_conn_id=hub_conn(True)
    )
    assert op.execute(CONTEXT) == {"added": [], "removed": [], "kept": 2, "dry_run": False}
    assert hub_writes(hub_emulator) == []
