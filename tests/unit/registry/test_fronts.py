"""The registry's two fronts are one API: every sync method has an async twin with the same parameters (unless
it pushes, which only the sync driver can), and a streamed blob read runs under the async driver against a real
``docker-registry`` (a sync ``read()``/``close()`` on an async stream raised before body reads became effects)."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from pathlib import Path

import pytest

from airflow_provider_dockerhub.client import AsyncDockerHubSession, ClientConfig, DockerHubSession
from airflow_provider_dockerhub.client.registry.client import SYNC_ONLY, AsyncRegistryClient, RegistryClient
from airflow_provider_dockerhub.client.registry.digest_watch import DigestWatch
from airflow_provider_dockerhub.testing.registry import LocalRegistry
from airflow_provider_dockerhub.testing.token_issuer import TokenIssuer


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(getattr(cls, name))
        for name in dir(cls)
        if not name.startswith("_") and callable(getattr(cls, name))
    }


def test_every_sync_method_has_an_async_twin_with_the_same_parameters() -> None:
    sync, concurrent = public_methods(RegistryClient), public_methods(AsyncRegistryClient)
    missing = sorted(set(sync) - set(concurrent) - SYNC_ONLY)
    assert missing == []
    for name in sorted(set(sync) - SYNC_ONLY):
        assert list(sync[name].parameters.values()) == list(concurrent[name].parameters.values()), name
    for name in sorted(set(sync) - SYNC_ONLY - {"run", "parse_image"}):
        assert inspect.iscoroutinefunction(getattr(AsyncRegistryClient, name)) or name == "list_tags", name


def test_the_sync_only_set_is_documented_and_absent_from_the_async_front() -> None:
    assert set(public_methods(RegistryClient)) >= SYNC_ONLY
    assert not SYNC_ONLY & set(public_methods(AsyncRegistryClient))
    for name in SYNC_ONLY:
        assert name in (AsyncRegistryClient.__doc__ or ""), name


@pytest.mark.registry
def test_streamed_blob_reads_run_under_the_async_driver(
    token_registry: LocalRegistry, token_issuer: TokenIssuer, tmp_path: Path
) -> None:
    token_issuer.reset()
    config = ClientConfig.from_fields(
        "alice", "alice-secret", {"registry_url": token_registry.url, "allow_destructive": True}
    )
    data = b"streamed under the event loop " * 4096
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    with DockerHubSession(config) as session:
        assert session.registry.upload_blob("fronts/async", data) == digest

    async def main() -> tuple[bytes, list[bytes], int, int]:
        async with AsyncDockerHubSession(config) as session:
            registry = session.registry
            whole = await registry.get_blob("fronts/async", digest)
            pieces: list[bytes] = []
            size = await registry.fetch_blob("fronts/async", digest, pieces.append)
            landed = await registry.download_blob("fronts/async", digest, tmp_path / "blob")
            return whole, pieces, size, landed

    whole, pieces, size, landed = asyncio.run(main())
    assert whole == data and b"".join(pieces) == data
    assert size == landed == len(data)
    assert (tmp_path / "blob").read_bytes() == data


@pytest.mark.registry
def test_the_digest_watch_is_one_flow_on_both_fronts(token_registry: LocalRegistry) -> None:
    config = ClientConfig.from_fields("alice", "alice-secret", {"registry_url": token_registry.url})
    watch = DigestWatch("fronts/absent", "nothing-here")
    with DockerHubSession(config) as session:
        assert session.registry.digest_state(watch) == (False, None)

    async def main() -> tuple[bool, str | None]:
        async with AsyncDockerHubSession(config) as session:
            return await session.registry.digest_state(watch)

    assert asyncio.run(main()) == (False, None)
