"""The Docker Hub API emulator itself, driven with raw httpx: auth, one request per operation group, the paging
styles, SCIM auth separation, the fault knobs and spec validation (requests, and a sample of responses).

One emulator serves the module (``reset()`` between tests); every test runs with request *and* response
validation on, and the ``hub`` fixture fails a test that leaves an unexpected violation behind.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_dockerhub.testing.hub import (
    SPEC_WORKAROUNDS,
    HubEmulator,
    find_hub_spec,
    load_hub_spec,
)

SPEC = find_hub_spec()
pytestmark = pytest.mark.skipif(SPEC is None, reason="../shared/specs/docker-hub-api.yaml is not present")

SCIM = {"Authorization": "Bearer scim-token"}
SCIM_JSON = {**SCIM, "Content-Type": "application/scim+json"}
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture(scope="module")
def hub_server() -> Iterator[HubEmulator]:
    with HubEmulator(SPEC, users={"alice": "alice-pw", "bob": "bob-pw"}, validate_responses=True) as emulator:
        yield emulator


@pytest.fixture
def hub_emulator(hub_server: HubEmulator) -> Iterator[HubEmulator]:
    hub_server.reset()
    hub_server.two_factor_users = set()
    yield hub_server
    assert hub_server.violations == [], "requests departed from the spec"
    assert hub_server.response_violations == [], "responses departed from the spec"


@pytest.fixture
def emulator_client(hub_emulator: HubEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub_emulator.url, timeout=10) as c:
        yield c


def token(emulator_client: httpx.Client, identifier: str = "alice", secret: str = "alice-pw") -> dict[str, str]:
    response = emulator_client.post("/v2/auth/token", json={"identifier": identifier, "secret": secret})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


# -- the route table against the spec -------------------------------------------------------------------------


def test_every_spec_operation_is_served_with_its_security() -> None:
    spec = load_hub_spec(SPEC)  # type: ignore[arg-type]
    emulator = HubEmulator(SPEC)
    assert emulator.checker is not None
    served = {(r.method, r.template): r for r in emulator.routes}
    assert set(served) == emulator.checker.operations()
    assert len(served) == 54
    for (method, template), route in served.items():
        op = spec["paths"][template][method.lower()]
        schemes = [next(iter(req), None) for req in op.get("security", [])]
        expected = (
            "none"
            if not schemes
            else "scim"
            if schemes == ["bearerSCIMAuth"]
            else "optional"
            if None in schemes
            else "bearer"
        )
        assert route.auth == expected, (method, template)
        if '<span class="oat">' in op.get("description", ""):
            assert route.oat, (method, template)


def test_repaired_spec_is_valid_openapi() -> None:
    from openapi_spec_validator import OpenAPIV30SpecValidator

    errors = list(OpenAPIV30SpecValidator(load_hub_spec(SPEC)).iter_errors())  # type: ignore[arg-type]
    assert errors == []
    assert len(SPEC_WORKAROUNDS) >= 11


# -- authentication -------------------------------------------------------------------------------------------


def test_auth_token_bearer_and_expiry(hub_emulator: HubEmulator, emulator_client: httpx.Client) -> None:
    bad = emulator_client.post("/v2/auth/token", json={"identifier": "alice", "secret": "nope"})
    assert bad.status_code == 401 and bad.json()["detail"]
    assert hub_emulator.auth_failures["alice"] == 1

    response = emulator_client.post("/v2/auth/token", json={"identifier": "alice", "secret": "alice-pw"})
    jwt = response.json()["access_token"]
    assert claims(jwt)["sub"] == "alice" and claims(jwt)["exp"] > time.time() + 500
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert response.headers[header].isdigit()

    assert emulator_client.get("/v2/access-tokens").status_code == 401
    auth = {"Authorization": f"Bearer {jwt}"}
    assert emulator_client.get("/v2/access-tokens", headers=auth).status_code == 200
    hub_emulator.expire_tokens()
    assert emulator_client.get("/v2/access-tokens", headers=auth).status_code == 401
    assert emulator_client.get("/v2/access-tokens", headers=token(emulator_client)).status_code == 200


def test_jwt_lifetime_follows_the_clock() -> None:
    now = [1_800_000_000.0]
    with HubEmulator(SPEC, jwt_ttl=60, clock=lambda: now[0]) as emu, httpx.Client(base_url=emu.url) as c:
        auth = token(c, secret="alice-pat")
        assert claims(auth["Authorization"][7:])["exp"] == 1_800_000_060
        assert c.get("/v2/orgs/acme/settings", headers=auth).status_code == 200
        now[0] += 61
        assert c.get("/v2/orgs/acme/settings", headers=auth).status_code == 401
        assert emu.violations == []


def test_deprecated_login_with_two_factor(hub_emulator: HubEmulator, emulator_client: httpx.Client) -> None:
    hub_emulator.two_factor_users = {"bob"}
    plain = emulator_client.post("/v2/users/login", json={"username": "alice", "password": "alice-pw"})
    assert plain.status_code == 200 and plain.json()["token"]

    first = emulator_client.post("/v2/users/login", json={"username": "bob", "password": "bob-pw"})
    assert first.status_code == 401
    pending = first.json()["login_2fa_token"]
    wrong = emulator_client.post("/v2/users/2fa-login", json={"login_2fa_token": pending, "code": "000000"})
    assert wrong.status_code == 401 and wrong.json() == {"detail": "Incorrect authentication credentials"}
    ok = emulator_client.post("/v2/users/2fa-login", json={"login_2fa_token": pending, "code": "123456"})
    assert ok.status_code == 200
    assert emulator_client.get(
        "/v2/orgs/acme/groups", headers={"Authorization": f"Bearer {ok.json()['token']}"}
    ).is_success

    assert emulator_client.post("/v2/users/login", json={"username": "bob", "password": "x"}).status_code == 401


def test_scim_and_hub_tokens_are_not_interchangeable(emulator_client: httpx.Client) -> None:
    hub_auth = token(emulator_client)
    refused = emulator_client.get("/v2/scim/2.0/Users", headers=hub_auth)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/scim+json")
    assert refused.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert refused.json()["status"] == "401"
    assert emulator_client.get("/v2/orgs/acme/members", headers=SCIM).status_code == 401
    assert emulator_client.get("/v2/scim/2.0/ServiceProviderConfig", headers=SCIM).status_code == 200


# -- tokens ---------------------------------------------------------------------------------------------------


def test_personal_access_tokens(hub_emulator: HubEmulator, emulator_client: httpx.Client) -> None:
    auth = token(emulator_client)
    created = emulator_client.post(
        "/v2/access-tokens",
        headers=auth,
        json={"token_label": "ci", "scopes": ["repo:read"], "expires_at": "2099-01-01T00:00:00Z"},
    )
    assert created.status_code == 201
    pat = created.json()
    assert pat["token"].startswith("dckr_pat_") and pat["expires_at"].startswith("2099-01-01")
    emulator_client.post("/v2/access-tokens", headers=auth, json={"token_label": "other", "scopes": ["repo:admin"]})

    page = emulator_client.get("/v2/access-tokens", headers=auth, params={"page": 1, "page_size": 1}).json()
    assert page["count"] == 2 and page["active_count"] == 2 and page["next"] and page["previous"] is None
    assert page["results"][0]["token"] == ""
    assert emulator_client.get(f"/v2/access-tokens/{pat['uuid']}", headers=auth).json()["token"] == ""

    # A read-only PAT logs in but cannot create repositories.
    read_only = token(emulator_client, "alice", pat["token"])
    denied = emulator_client.post(
        "/v2/namespaces/acme/repositories", headers=read_only, json={"name": "x1", "namespace": "acme"}
    )
    assert denied.status_code == 403

    patched = emulator_client.patch(f"/v2/access-tokens/{pat['uuid']}", headers=auth, json={"is_active": False})
    assert patched.json()["is_active"] is False
    assert (
        emulator_client.post("/v2/auth/token", json={"identifier": "alice", "secret": pat["token"]}).status_code == 401
    )
    assert emulator_client.delete(f"/v2/access-tokens/{pat['uuid']}", headers=auth).status_code == 204
    assert emulator_client.get(f"/v2/access-tokens/{pat['uuid']}", headers=auth).status_code == 404


def test_organization_access_tokens(emulator_client: httpx.Client) -> None:
    auth = token(emulator_client)
    body = {
        "label": "ci",
        "description": "pipeline",
        "resources": [{"type": "TYPE_REPO", "path": "acme/app", "scopes": ["repo-pull"]}],
    }
    created = emulator_client.post("/v2/orgs/acme/access-tokens", headers=auth, json=body)
    assert created.status_code == 201
    oat = created.json()
    assert oat["token"].startswith("dckr_oat_") and oat["resources"][0]["path"] == "acme/app"

    listed = emulator_client.get("/v2/orgs/acme/access-tokens", headers=auth).json()
    assert listed["total"] == 1 and "count" not in listed and listed["next"] is None

    oat_auth = token(emulator_client, "acme", oat["token"])
    assert emulator_client.get("/v2/orgs/acme/members", headers=oat_auth).status_code == 200  # OAT-labelled
    assert emulator_client.get("/v2/access-tokens", headers=oat_auth).status_code == 403  # users only
    assert emulator_client.get("/v2/orgs/acme/settings", headers=oat_auth).status_code == 403

    item = f"/v2/orgs/acme/access-tokens/{oat['id']}"
    assert emulator_client.get(item, headers=auth).json()["label"] == "ci"
    assert emulator_client.patch(item, headers=auth, json={"is_active": False}).json()["is_active"] is False
    assert emulator_client.delete(item, headers=auth).status_code == 204
    assert emulator_client.get(item, headers=auth).status_code == 404


# -- repositories and tags ------------------------------------------------------------------------------------


def test_repository_pages_ordering_and_visibility(hub_emulator: HubEmulator, emulator_client: httpx.Client) -> None:
    hub_emulator.seed_repositories("acme", 25)
    auth = token(emulator_client)
    first = emulator_client.get("/v2/namespaces/acme/repositories", params={"page_size": 10}).json()
    assert first["count"] == 25 and first["previous"] is None
    assert first["next"] == f"{hub_emulator.url}/v2/namespaces/acme/repositories?page_size=10&page=2"
    last = emulator_client.get("/v2/namespaces/acme/repositories", params={"page": 3, "page_size": 10}).json()
    assert len(last["results"]) == 5 and last["next"] is None and last["previous"].endswith("page=2")
    assert (
        emulator_client.get("/v2/namespaces/acme/repositories", params={"page": 4, "page_size": 10}).status_code == 404
    )

    by_name = emulator_client.get("/v2/namespaces/acme/repositories", params={"ordering": "-name"}).json()["results"]
    assert [r["name"] for r in by_name][:2] == ["repo-00024", "repo-00023"]
    pulls = emulator_client.get("/v2/namespaces/acme/repositories", params={"ordering": "pull_count", "page_size": 100})
    counts = [r["pull_count"] for r in pulls.json()["results"]]
    assert counts == sorted(counts)
    assert emulator_client.get("/v2/namespaces/acme/repositories", params={"name": "0001"}).json()["count"] == 11

    created = emulator_client.post(
        "/v2/namespaces/acme/repositories",
        headers=auth,
        json={"name": "secret-app", "namespace": "acme", "is_private": True, "description": "hidden"},
    )
    assert created.status_code == 201 and created.json()["immutable_tags_settings"] == {"enabled": False, "rules": []}
    assert emulator_client.get("/v2/namespaces/acme/repositories/secret-app").status_code == 404  # anonymous
    assert emulator_client.get("/v2/namespaces/acme/repositories/secret-app", headers=auth).json()["is_private"] is True
    assert emulator_client.head("/v2/namespaces/acme/repositories/secret-app", headers=auth).status_code == 200
    assert emulator_client.head("/v2/namespaces/acme/repositories/nope", headers=auth).status_code == 404
    assert emulator_client.get("/v2/namespaces/acme/repositories").json()["count"] == 25
    assert emulator_client.get("/v2/namespaces/acme/repositories", headers=auth).json()["count"] == 26
    dup = emulator_client.post(
        "/v2/namespaces/acme/repositories", headers=auth, json={"name": "secret-app", "namespace": "acme"}
    )
    assert dup.status_code == 400


def test_tags_and_immutable_tags(hub_emulator: HubEmulator, emulator_client: httpx.Client) -> None:
    hub_emulator.seed_tags("acme", "app", ["v1.0", "v1.1", "latest", "dev"])
    auth = token(emulator_client)
    base = "/v2/namespaces/acme/repositories/app"
    page = emulator_client.get(f"{base}/tags", headers=auth, params={"page_size": 3}).json()
    assert page["count"] == 4 and [t["name"] for t in page["results"]] == ["dev", "latest", "v1.1"]
    assert page["results"][0]["digest"].startswith("sha256:") and isinstance(page["results"][0]["images"], list)
    assert emulator_client.get(f"{base}/tags/v1.0", headers=auth).json()["name"] == "v1.0"
    assert emulator_client.head(f"{base}/tags/v1.0", headers=auth).status_code == 200
    assert emulator_client.head(f"{base}/tags/v9", headers=auth).status_code == 404
    assert emulator_client.head(f"{base}/tags", headers=auth).status_code == 200
    assert emulator_client.get(f"{base}/tags", headers={}).status_code == 401

    patched = emulator_client.patch(
        f"{base}/immutabletags", headers=auth, json={"immutable_tags": True, "immutable_tags_rules": ["v.*"]}
    )
    assert patched.json()["immutable_tags_settings"] == {"enabled": True, "rules": ["v.*"]}
    # ``v.*`` is the spec's own example, which the spec's pattern would reject (SPEC_WORKAROUNDS).
    verified = emulator_client.post(f"{base}/immutabletags/verify", headers=auth, json={"regex": "v.*"})
    assert verified.json() == {"tags": ["v1.0", "v1.1"]}
    actions = [e["action"] for e in emulator_client.get("/v2/auditlogs/acme", headers=auth).json()["logs"]]
    assert actions[0] == "repo.immutable.tags.updated" and actions.count("repo.tag.push") == 4


def test_repository_group_permission(hub_emulator: HubEmulator, emulator_client: httpx.Client) -> None:
    hub_emulator.seed_tags("acme", "app", 1)
    auth = token(emulator_client)
    group = emulator_client.post("/v2/orgs/acme/groups", headers=auth, json={"name": "devs"}).json()
    granted = emulator_client.post(
        "/v2/repositories/acme/app/groups", headers=auth, json={"group_id": group["id"], "permission": "write"}
    )
    assert granted.status_code == 200
    assert granted.json() == {"group_name": "devs", "permission": "write", "group_id": group["id"]}
    missing = emulator_client.post(
        "/v2/repositories/acme/app/groups", headers=auth, json={"group_id": 1, "permission": "read"}
    )
    assert missing.status_code == 404


# -- organizations --------------------------------------------------------------------------------------------


def test_org_settings(emulator_client: httpx.Client) -> None:
    auth = token(emulator_client)
    assert emulator_client.get("/v2/orgs/acme/settings", headers=auth).json()["restricted_images"]["enabled"] is False
    body = {"restricted_images": {"enabled": True, "allow_official_images": True, "allow_verified_publishers": False}}
    assert emulator_client.put("/v2/orgs/acme/settings", headers=auth, json=body).json() == body
    assert emulator_client.get("/v2/orgs/acme/settings", headers=token(emulator_client, "bob", "bob-pw")).json() == body
    assert (
        emulator_client.put(
            "/v2/orgs/acme/settings", headers=token(emulator_client, "bob", "bob-pw"), json=body
        ).status_code
        == 403
    )


def test_members_roles_and_export(emulator_client: httpx.Client) -> None:
    auth = token(emulator_client)
    page = emulator_client.get("/v2/orgs/acme/members", headers=auth, params={"page_size": 1}).json()
    assert isinstance(page, dict) and page["count"] == 2 and page["next"]
    assert [
        m["username"]
        for m in emulator_client.get("/v2/orgs/acme/members", headers=auth, params={"search": "bo"}).json()["results"]
    ] == ["bob"]
    owners = emulator_client.get("/v2/orgs/acme/members", headers=auth, params={"role": "owner"}).json()["results"]
    assert [m["username"] for m in owners] == ["alice"] and owners[0]["groups"] == ["owners"]

    changed = emulator_client.put("/v2/orgs/acme/members/bob", headers=auth, json={"role": "editor"})
    assert changed.json()["role"] == "Editor"
    events = emulator_client.get("/v2/auditlogs/acme", headers=auth, params={"action": "org.member.role.change"}).json()
    assert events["logs"][0]["data"] == {"member": "bob", "role": "editor"}

    export = emulator_client.get("/v2/orgs/acme/members/export", headers=auth)
    assert export.headers["content-type"].startswith("text/csv")
    assert export.headers["content-disposition"].startswith('attachment;filename="acme-members-')
    lines = export.text.splitlines()
    assert lines[0] == "Name,Username,Email,Type,Permission,Teams,Date Joined"
    assert lines[1].startswith("Alice,alice,alice@example.com,User,Owner,owners,") and lines[1].endswith("+0000 UTC")

    assert emulator_client.delete("/v2/orgs/acme/members/alice", headers=auth).status_code == 400  # the last owner
    assert emulator_client.delete("/v2/orgs/acme/members/bob", headers=auth).status_code == 204
    assert emulator_client.put("/v2/orgs/acme/members/bob", headers=auth, json={"role": "member"}).status_code == 404


def test_invites(emulator_client: httpx.Client) -> None:
    auth = token(emulator_client)
    body = {"org": "acme", "invitees": ["new@example.com", "bob", "not an id"], "role": "member", "dry_run": True}
    dry = emulator_client.post("/v2/invites/bulk", headers=auth, json=body)
    assert dry.status_code == 202
    statuses = [(e["invitee"], e["status"]) for e in dry.json()["invitees"]["invitees"]]
    assert statuses == [
        ("new@example.com", "invited"),
        ("bob", "existing_org_member"),
        ("not an id", "invalid_email_or_docker_id"),
    ]
    assert emulator_client.get("/v2/orgs/acme/invites", headers=auth).json() == {"data": []}

    real = emulator_client.post("/v2/invites/bulk", headers=auth, json={**body, "dry_run": False, "team": "owners"})
    invite = real.json()["invitees"]["invitees"][0]["invite"]
    assert invite["invitee"] == "new@example.com" and invite["team"] == "owners"
    assert [i["id"] for i in emulator_client.get("/v2/orgs/acme/invites", headers=auth).json()["data"]] == [
        invite["id"]
    ]
    with_invites = emulator_client.get("/v2/orgs/acme/members", headers=auth, params={"invites": "true"}).json()
    assert with_invites["count"] == 3 and with_invites["results"][-1]["role"] == "Invitee"
    assert emulator_client.patch(f"/v2/invites/{invite['id']}/resend", headers=auth).status_code == 204
    assert emulator_client.delete(f"/v2/invites/{invite['id']}", headers=auth).status_code == 204
    assert emulator_client.delete(f"/v2/invites/{invite['id']}", headers=auth).status_code == 404
    assert emulator_client.get("/v2/orgs/acme/invites", headers=auth).json() == {"data": []}


def test_groups_and_group_members(emulator_client: httpx.Client) -> None:
    auth = token(emulator_client)
    created = emulator_client.post("/v2/orgs/acme/groups", headers=auth, json={"name": "devs", "description": "d"})
    assert created.status_code == 201 and created.json()["member_count"] == 0
    assert emulator_client.post("/v2/orgs/acme/groups", headers=auth, json={"name": "devs"}).status_code == 400
    assert emulator_client.get("/v2/orgs/acme/groups/devs", headers=auth).json()["description"] == "d"
    assert (
        emulator_client.put("/v2/orgs/acme/groups/devs", headers=auth, json={"name": "devs"}).json()["description"]
        == ""
    )
    assert (
        emulator_client.patch("/v2/orgs/acme/groups/devs", headers=auth, json={"description": "x"}).json()["name"]
        == "devs"
    )

    groups = emulator_client.get("/v2/orgs/acme/groups", headers=auth, params={"search": "dev"}).json()
    assert groups["count"] == 1 and groups["next"] is None

    members = "/v2/orgs/acme/groups/devs/members"
    assert emulator_client.post(members, headers=auth, json={"member": "bob"}).status_code == 200
    assert emulator_client.post(members, headers=auth, json={"member": "mallory"}).status_code == 404
    listed = emulator_client.get(members, headers=auth, params={"search": "bob"}).json()
    assert listed["count"] == 1 and listed["results"][0]["email"] == "bob@example.com"
    assert emulator_client.get("/v2/orgs/acme/groups", headers=auth, params={"username": "bob"}).json()["count"] == 1
    assert emulator_client.delete(f"{members}/bob", headers=auth).status_code == 204
    assert emulator_client.delete(f"{members}/bob", headers=auth).status_code == 404
    assert emulator_client.delete("/v2/orgs/acme/groups/devs", headers=auth).status_code == 204
    assert emulator_client.get("/v2/orgs/acme/groups/devs", headers=auth).status_code == 404
    bob = token(emulator_client, "bob", "bob-pw")
    assert emulator_client.post("/v2/orgs/acme/groups", headers=bob, json={"name": "x"}).status_code == 403


# -- audit logs -----------------------------------------------------------------------------------------------


def test_audit_logs_paging_filters_and_bulk_seeding(hub_emulator: HubEmulator, emulator_client: httpx.Client) -> None:
    started = time.perf_counter()
    hub_emulator.seed_audit_events("acme", 100_000, start="2025-01-01T00:00:00Z", step_seconds=1)
    assert time.perf_counter() - started < 2.0
    auth = token(emulator_client)

    page = emulator_client.get("/v2/auditlogs/acme", headers=auth).json()
    assert set(page) == {"logs"} and len(page["logs"]) == 25  # default page_size, no count/next
    assert page["logs"][0]["timestamp"] == "2025-01-02T03:46:39Z"  # newest first

    window: dict[str, str | int] = {"from": "2025-01-01T00:00:00Z", "to": "2025-01-01T00:04:10Z", "page_size": 100}
    seen = []
    for number in range(1, 10):
        logs = emulator_client.get("/v2/auditlogs/acme", headers=auth, params={**window, "page": number}).json()["logs"]
        seen += [e["timestamp"] for e in logs]
        if len(logs) < 100:
            break
    assert len(seen) == len(set(seen)) == 250  # ``from`` inclusive, ``to`` exclusive
    assert seen[-1] == "2025-01-01T00:00:00Z"

    hub_emulator.seed_audit_events("acme", 3, action="org.team.create", actor="bob", name="acme")
    filtered = emulator_client.get(
        "/v2/auditlogs/acme", headers=auth, params={"action": "org.team.create", "actor": "bob"}
    )
    assert [e["actor"] for e in filtered.json()["logs"]] == ["bob"] * 3
    deep = emulator_client.get("/v2/auditlogs/acme", headers=auth, params={"page": 1000, "page_size": 100}).json()[
        "logs"
    ]
    assert len(deep) == 100
    assert emulator_client.get("/v2/auditlogs/acme", headers=auth, params={"page": 1002, "page_size": 100}).json() == {
        "logs": []
    }

    actions = emulator_client.get("/v2/auditlogs/acme/actions", headers=auth).json()["actions"]
    assert {"name": "tag.push", "description": "Activities related to the tags pushed", "label": "Tag Pushed"} in (
        actions["repo"]["actions"]
    )
    denied = emulator_client.get("/v2/auditlogs/acme", headers=token(emulator_client, "bob", "bob-pw"))
    assert denied.status_code == 403 and denied.json()["code"] == 7  # rpcStatus-compatible


# -- SCIM -----------------------------------------------------------------------------------------------------


def test_scim_discovery(emulator_client: httpx.Client) -> None:
    config = emulator_client.get("/v2/scim/2.0/ServiceProviderConfig", headers=SCIM).json()
    assert config["filter"] == {"supported": True, "maxResults": 99999}
    assert config["authenticationSchemes"]["type"] == "oauthbearertoken"
    types = emulator_client.get("/v2/scim/2.0/ResourceTypes", headers=SCIM).json()
    assert types["totalResults"] == 1 and types["resources"][0]["endpoint"] == "/Users"
    assert emulator_client.get("/v2/scim/2.0/ResourceTypes/User", headers=SCIM).json()["schema"] == USER_SCHEMA
    assert emulator_client.get("/v2/scim/2.0/ResourceTypes/Group", headers=SCIM).status_code == 404
    schemas = emulator_client.get("/v2/scim/2.0/Schemas", headers=SCIM).json()
    assert schemas["resources"][0]["id"] == USER_SCHEMA
    assert emulator_client.get(f"/v2/scim/2.0/Schemas/{USER_SCHEMA}", headers=SCIM).json()["name"] == "User"


def test_scim_users(hub_emulator: HubEmulator, emulator_client: httpx.Client) -> None:
    hub_emulator.seed_scim_users(25)
    body = {"schemas": [USER_SCHEMA], "userName": "jon.snow@docker.com", "name": {"givenName": "Jon"}}
    created = emulator_client.post("/v2/scim/2.0/Users", headers=SCIM_JSON, content=json.dumps(body))
    assert created.status_code == 201 and created.headers["content-type"].startswith("application/scim+json")
    user = created.json()
    assert user["active"] is True and user["displayName"] == "jonsnow"
    assert emulator_client.post("/v2/scim/2.0/Users", headers=SCIM_JSON, content=json.dumps(body)).status_code == 409

    page = emulator_client.get("/v2/scim/2.0/Users", headers=SCIM, params={"startIndex": 21, "count": 10}).json()
    assert set(page) == {"schemas", "totalResults", "startIndex", "itemsPerPage", "resources"}
    assert page["totalResults"] == 26 and page["startIndex"] == 21 and page["itemsPerPage"] == 6
    found = emulator_client.get(
        "/v2/scim/2.0/Users", headers=SCIM, params={"filter": 'userName eq "JON.SNOW@docker.com"'}
    )
    assert [u["id"] for u in found.json()["resources"]] == [user["id"]]
    bad = emulator_client.get("/v2/scim/2.0/Users", headers=SCIM, params={"filter": "nickName eq 1"})
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"

    item = f"/v2/scim/2.0/Users/{user['id']}"
    assert emulator_client.get(item, headers=SCIM).json()["userName"] == "jon.snow@docker.com"
    # ``enabled`` omitted: the spec's default false deactivates the user; the response says ``active``.
    renamed = emulator_client.put(
        item, headers=SCIM_JSON, content=json.dumps({"schemas": [USER_SCHEMA], "name": {"familyName": "Snow"}})
    )
    assert renamed.json()["active"] is False and renamed.json()["name"] == {"givenName": "Jon", "familyName": "Snow"}
    enabled = emulator_client.put(
        item, headers=SCIM_JSON, content=json.dumps({"schemas": [USER_SCHEMA], "enabled": True})
    )
    assert enabled.json()["active"] is True
    assert (
        emulator_client.get("/v2/scim/2.0/Users/00000000-0000-4000-8000-000000000000", headers=SCIM).status_code == 404
    )


# -- knobs ----------------------------------------------------------------------------------------------------


def test_rate_limit_knob(hub_emulator: HubEmulator, emulator_client: httpx.Client) -> None:
    auth = token(emulator_client)
    rule = hub_emulator.rate_limit(r"^/v2/auditlogs/", times=2, retry_after="3")
    for _ in range(2):
        limited = emulator_client.get("/v2/auditlogs/acme", headers=auth)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
        assert limited.json() == {"detail": "Rate limit exceeded", "error": False}
        assert limited.headers["X-RateLimit-Remaining"] == "0" and "X-RateLimit-Reset" in limited.headers
    assert emulator_client.get("/v2/auditlogs/acme", headers=auth).status_code == 200
    assert rule.hits == 2 and rule.remaining == 0


def test_fail_knob_and_request_log(hub_emulator: HubEmulator, emulator_client: httpx.Client) -> None:
    hub_emulator.fail(r"^/v2/auth/token$", 503)
    assert emulator_client.post("/v2/auth/token", json={"identifier": "alice", "secret": "alice-pw"}).status_code == 503
    token(emulator_client)
    assert [(r.method, r.path, r.status) for r in hub_emulator.requests] == [
        ("POST", "/v2/auth/token", 503),
        ("POST", "/v2/auth/token", 200),
    ]
    assert hub_emulator.requests[0].body == {"identifier": "alice", "secret": "alice-pw"}
    hub_emulator.reset_log()
    assert hub_emulator.requests == []


# -- spec validation ------------------------------------------------------------------------------------------


def test_violations_are_answered_400_and_recorded(hub_emulator: HubEmulator, emulator_client: httpx.Client) -> None:
    auth = token(emulator_client)
    ordering = emulator_client.get("/v2/namespaces/acme/repositories", params={"ordering": "stars"})
    assert ordering.status_code == 400
    assert ordering.json()["text"] == "Invalid ordering value"
    assert ordering.json()["fields"]["ordering"][0].startswith("Invalid ordering value. Must be one of: name")

    missing = emulator_client.post("/v2/namespaces/acme/repositories", headers=auth, json={"namespace": "acme"})
    assert missing.status_code == 400 and "'name' is a required property" in missing.json()["detail"]
    assert "name" in missing.json()["fields"]

    undeclared = emulator_client.get("/v2/orgs/acme/groups", headers=auth, params={"ordering": "name"})
    assert undeclared.status_code == 400 and "not declared" in undeclared.json()["detail"]
    legacy = emulator_client.get("/v2/repositories/acme/app", headers=auth)  # deprecated, not in the spec
    assert legacy.status_code == 400 and "is not an operation of the spec" in legacy.json()["detail"]
    scim = emulator_client.post("/v2/scim/2.0/Users", headers=SCIM_JSON, content=json.dumps({"schemas": [USER_SCHEMA]}))
    assert scim.status_code == 400 and scim.json()["scimType"] == "invalidSyntax"

    assert [(v.method, v.operation) for v in hub_emulator.violations] == [
        ("GET", "GET /v2/namespaces/{namespace}/repositories"),
        ("POST", "POST /v2/namespaces/{namespace}/repositories"),
        ("GET", "GET /v2/orgs/{org_name}/groups"),
        ("GET", None),
        ("POST", "POST /v2/scim/2.0/Users"),
    ]
    hub_emulator.violations.clear()


def test_response_validation_catches_a_bad_answer(
    hub_emulator: HubEmulator, emulator_client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = token(emulator_client)
    assert emulator_client.get("/v2/orgs/acme/groups/owners", headers=auth).status_code == 200
    assert hub_emulator.response_violations == []
    monkeypatch.setattr(hub_emulator.state, "group_json", lambda group: {"id": "not-a-number", "member_count": []})
    emulator_client.get("/v2/orgs/acme/groups/owners", headers=auth)
    assert len(hub_emulator.response_violations) == 1 and "not of type 'number'" in " ".join(
        hub_emulator.response_violations[0].errors
    )
    hub_emulator.response_violations.clear()


def test_the_app_is_usable_in_process_over_asgi() -> None:
    emu = HubEmulator(SPEC)

    async def scenario() -> httpx.Response:
        transport = httpx.ASGITransport(app=emu.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as c:
            emu.seed_repositories("acme", 3)
            return await c.get("/v2/namespaces/acme/repositories", params={"page_size": 2})

    answer = asyncio.run(scenario())
    assert answer.json()["next"] == "http://hub.test/v2/namespaces/acme/repositories?page_size=2&page=2"
    assert emu.violations == []


def test_without_a_spec_nothing_is_validated() -> None:
    with HubEmulator() as emu, httpx.Client(base_url=emu.url) as c:
        assert emu.checker is None
        answer = c.get("/v2/namespaces/acme/repositories", params={"ordering": "stars"})
        assert answer.status_code == 400
        choices = "name, -name, last_updated, -last_updated, pull_count, -pull_count"
        assert answer.json()["fields"] == {"ordering": [f"Invalid ordering value. Must be one of: {choices}"]}
        assert c.get("/v2/repositories/acme/app").status_code == 404
        assert emu.violations == []
