"""The async Hub, SCIM and Scout fronts are complete: every public method of a sync front has an async twin with
the same signature, derived from the same flow; and the async twins really run against the Hub emulator."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator

import pytest

from airflow_provider_dockerhub.client import (
    AsyncDockerHubSession,
    ClientConfig,
    DestructiveOperationRefused,
    InvalidInputError,
)
from airflow_provider_dockerhub.client.core.front import AsyncFront, SyncFront
from airflow_provider_dockerhub.client.hub.client import AsyncHubClient, HubClient
from airflow_provider_dockerhub.client.hub.scim import AsyncScimClient, ScimClient
from airflow_provider_dockerhub.client.scout.api import AsyncScoutClient, ScoutClient
from airflow_provider_dockerhub.testing.hub import HubEmulator
from tests.specs import spec_path

PAIRS = [(HubClient, AsyncHubClient), (ScimClient, AsyncScimClient), (ScoutClient, AsyncScoutClient)]
LISTINGS = {
    "list_repositories",
    "list_tags",
    "list_access_tokens",
    "list_org_access_tokens",
    "list_members",
    "list_groups",
    "list_group_members",
    "audit_logs",
    "list_users",
}


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(getattr(cls, name))
        for name in dir(cls)
        if not name.startswith("_") and callable(getattr(cls, name)) and name not in ("run",)
    }


@pytest.mark.parametrize(("sync", "asynchronous"), PAIRS, ids=lambda c: c.__name__)
def test_every_sync_method_has_an_async_twin_with_the_same_signature(sync: type, asynchronous: type) -> None:
    assert issubclass(sync, SyncFront) and issubclass(asynchronous, AsyncFront)
    sync_methods, async_methods = public_methods(sync), public_methods(asynchronous)
    assert sync_methods.keys() == async_methods.keys()
    for name, signature in sync_methods.items():
        assert async_methods[name] == signature, name


@pytest.mark.parametrize(("sync", "asynchronous"), PAIRS, ids=lambda c: c.__name__)
def test_async_twins_are_coroutines_or_async_iterators(sync: type, asynchronous: type) -> None:
    for name in public_methods(asynchronous):
        method = getattr(asynchronous, name)
        # Listings return an async iterator (their arguments checked at the call); everything else is awaited.
        assert inspect.iscoroutinefunction(method) is (name not in LISTINGS), name


def test_the_hub_front_keeps_every_operation() -> None:
    # The whole surface the sync Hub client had before it became a front over HubOperations.
    assert set(public_methods(HubClient)) == {
        "authenticate", "login", "login_2fa", "create_auth_token",
        "list_repositories", "get_repository", "repository_exists", "create_repository", "list_tags", "get_tag",
        "has_tags", "tag_exists", "update_immutable_tags", "verify_immutable_tags", "grant_repository_group",
        "list_access_tokens", "create_access_token", "get_access_token", "update_access_token",
        "delete_access_token", "list_org_access_tokens", "create_org_access_token", "get_org_access_token",
        "update_org_access_token", "delete_org_access_token", "get_org_settings", "update_org_settings",
        "list_members", "export_members_csv", "update_member_role", "remove_member", "list_invites",
        "delete_invite", "resend_invite", "bulk_invite", "list_groups", "create_group", "get_group",
        "update_group", "delete_group", "list_group_members", "add_group_member", "remove_group_member",
        "list_audit_actions", "audit_logs",
    }  # fmt: skip


# -- real async calls -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[HubEmulator]:
    with HubEmulator(
        spec_path=spec_path("docker-hub-api.yaml"),
        users={"alice": "alice-pat"},
        orgs=("acme",),
        scim_token="scim-token",
        validate_responses=True,
    ) as emulator:
        yield emulator


@pytest.fixture
def emu(server: HubEmulator) -> Iterator[HubEmulator]:
    server.reset()
    yield server
    assert server.violations == [] and server.response_violations == []


def config(emu: HubEmulator, *, allow_destructive: bool = True) -> ClientConfig:
    extra = {"hub_url": emu.url, "allow_destructive": allow_destructive, "scim_token": "scim-token"}
    return ClientConfig.from_fields("alice", "alice-pat", extra)


def test_async_hub_creates_reads_and_pages(emu: HubEmulator) -> None:
    emu.seed_repositories("acme", 5)
    secrets: list[str] = []

    async def main() -> tuple[str, bool, list[str], str]:
        async with AsyncDockerHubSession(config(emu), on_secret=secrets.append) as session:
            hub = session.hub
            created = await hub.create_repository("acme", "async-app", description="made on the event loop")
            exists = await hub.repository_exists("acme", "async-app")
            names = [r.name async for r in hub.list_repositories("acme", ordering="name", page_size=2)]
            token = await hub.create_access_token("async", ["repo:read"])
            assert token.token is not None
            return created.name, exists, names, token.token

    name, exists, names, token = asyncio.run(main())
    assert (name, exists) == ("async-app", True)
    assert names == sorted([*(f"repo-{i:05d}" for i in range(5)), "async-app"])
    pages = [
        r.query["page"] for r in emu.requests if r.path == "/v2/namespaces/acme/repositories" and r.method == "GET"
    ]
    assert pages == ["1", "2", "3"]
    assert token in secrets  # the secret shown once is masked, as in the sync front


def test_async_fronts_check_arguments_and_the_gate_before_any_request(emu: HubEmulator) -> None:
    async def main() -> None:
        async with AsyncDockerHubSession(config(emu, allow_destructive=False)) as session:
            with pytest.raises(DestructiveOperationRefused):
                await session.hub.create_group("acme", "nope")
            with pytest.raises(InvalidInputError, match="page_size"):
                session.hub.list_groups("acme", page_size=0)  # refused at the call, not at the first page
            with pytest.raises(DestructiveOperationRefused):
                await session.scim.create_user("new@example.com")

    asyncio.run(main())
    assert emu.requests == []  # not even a token was minted


def test_async_scim_creates_and_lists_users(emu: HubEmulator) -> None:
    emu.seed_scim_users(3)

    async def main() -> tuple[str, list[str]]:
        async with AsyncDockerHubSession(config(emu)) as session:
            made = await session.scim.create_user("new@example.com", given_name="New")
            listed = [u.user_name async for u in session.scim.list_users(page_size=2)]
            return made.user_name, listed

    made, listed = asyncio.run(main())
    assert made == "new@example.com"
    assert len(listed) == 4 and "new@example.com" in listed
