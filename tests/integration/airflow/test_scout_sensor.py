"""DockerHubScoutIndexedSensor and its trigger against the sandbox (a real registry, the Scout emulator over
HTTP): one predicate in poke() and the trigger; an index waits for every platform image; the waits that can never
end (indexing failed, organization not entitled, repository not enabled, digest never pushed) fail at once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, TaskDeferred

from airflow_provider_dockerhub.client import DockerHubSession
from airflow_provider_dockerhub.client.scout.api import (
    ScoutIndexingFailed,
    ScoutNotEntitled,
    ScoutRepositoryNotEnabled,
    ScoutUnknownDigest,
)
from airflow_provider_dockerhub.sensors.scout import DockerHubScoutIndexedSensor
from airflow_provider_dockerhub.testing.oci import SbomPackage
from airflow_provider_dockerhub.testing.sandbox import Sandbox
from airflow_provider_dockerhub.triggers.scout import DockerHubScoutIndexedTrigger
from tests.integration.scout_sandbox import push_built

pytestmark = pytest.mark.registry
ZLIB = SbomPackage("zlib", "1.3", "Zlib", "pkg:apk/alpine/zlib@1.3")


def first_event(trigger: DockerHubScoutIndexedTrigger, timeout: float) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        return dict((await asyncio.wait_for(trigger.run().__anext__(), timeout)).payload)

    return asyncio.run(main())


def sensor(conn: str, repository: str, digest: str, **kwargs: Any) -> DockerHubScoutIndexedSensor:
    return DockerHubScoutIndexedSensor(
        task_id="s", repository=repository, digest=digest, dockerhub_conn_id=conn, **kwargs
    )


def trigger(conn: str, repository: str, digest: str, **kwargs: Any) -> DockerHubScoutIndexedTrigger:
    return DockerHubScoutIndexedTrigger(
        dockerhub_conn_id=conn, repository=repository, digest=digest, poll_interval=0.05, **kwargs
    )


def test_an_index_waits_for_every_platform_then_agrees_in_poke_and_trigger(
    sandbox_conn: str, sandbox_session: DockerHubSession, tmp_path: Path
) -> None:
    layout = push_built(
        sandbox_session, tmp_path, "acme/multi", "1.0", platforms=("linux/amd64", "linux/arm64"), packages=(ZLIB,)
    )
    first = sensor(sandbox_conn, "acme/multi", layout.digest).poke({})
    assert first.is_done is False  # Scout reports INDEXING for a few polls
    event = first_event(trigger(sandbox_conn, "acme/multi", layout.digest), 20)
    assert event["status"] == "success" and event["digest"] == layout.digest
    assert set(event["platforms"]) == set(layout.manifests.values())  # both platform images, no attestations
    assert set(event["platforms"].values()) == {"INDEXED"}
    done = sensor(sandbox_conn, "acme/multi", layout.digest).poke({})
    assert done.is_done is True and done.xcom_value == layout.digest


def test_a_platform_digest_is_waited_for_alone(
    sandbox_conn: str, sandbox_session: DockerHubSession, tmp_path: Path
) -> None:
    layout = push_built(sandbox_session, tmp_path, "acme/single", "1.0", packages=(ZLIB,))
    digest = layout.manifests["linux/amd64"]
    event = first_event(trigger(sandbox_conn, "acme/single", digest), 20)
    assert event["status"] == "success" and list(event["platforms"]) == [digest]


def test_an_image_without_an_sbom_is_never_indexed_and_fails_in_both(
    sandbox_conn: str, sandbox_session: DockerHubSession, tmp_path: Path
) -> None:
    layout = push_built(
        sandbox_session, tmp_path, "acme/bare", "1.0", platforms=("linux/amd64", "linux/arm64"), attestations=False
    )
    with pytest.raises(ScoutIndexingFailed, match="INDEXING_UNAVAILABLE") as raised:
        sensor(sandbox_conn, "acme/bare", layout.digest).poke({})
    assert isinstance(raised.value, AirflowFailException)  # not retried
    event = first_event(trigger(sandbox_conn, "acme/bare", layout.digest), 10)
    assert event["status"] == "error" and event["error_type"] == "ScoutIndexingFailed"


def test_a_digest_never_pushed_fails_fast_in_both(
    sandbox_conn: str, sandbox_session: DockerHubSession, tmp_path: Path
) -> None:
    push_built(sandbox_session, tmp_path, "acme/known", "1.0")
    never = "sha256:" + "7" * 64
    with pytest.raises(ScoutUnknownDigest, match="never pushed"):
        sensor(sandbox_conn, "acme/known", never).poke({})
    event = first_event(trigger(sandbox_conn, "acme/known", never), 10)
    assert event["error_type"] == "ScoutUnknownDigest"


def test_a_repository_not_enabled_for_scout_fails_fast_in_both(
    sandbox_conn: str, sandbox: Sandbox, sandbox_session: DockerHubSession, tmp_path: Path
) -> None:
    assert sandbox.registry is not None
    sandbox.emulator.scout.disable_repository(sandbox.registry.host, "acme/off")
    layout = push_built(sandbox_session, tmp_path, "acme/off", "1.0", packages=(ZLIB,))
    with pytest.raises(ScoutRepositoryNotEnabled, match="enable the repository"):
        sensor(sandbox_conn, "acme/off", layout.digest).poke({})
    event = first_event(trigger(sandbox_conn, "acme/off", layout.digest), 10)
    assert event["error_type"] == "ScoutRepositoryNotEnabled"


def test_an_organization_not_entitled_fails_fast_with_a_hint_in_both(
    sandbox_conn: str, sandbox_session: DockerHubSession, tmp_path: Path
) -> None:
    layout = push_built(sandbox_session, tmp_path, "acme/ent", "1.0", packages=(ZLIB,))
    with pytest.raises(ScoutNotEntitled, match="enable Docker Scout for the organization") as raised:
        sensor(sandbox_conn, "acme/ent", layout.digest, organization="globex").poke({})
    assert raised.value.not_entitled and "402" in str(raised.value.errors)
    event = first_event(trigger(sandbox_conn, "acme/ent", layout.digest, organization="globex"), 10)
    assert event["error_type"] == "ScoutNotEntitled" and "enable Docker Scout" in event["message"]
    with pytest.raises(AirflowFailException, match="not entitled"):
        sensor(sandbox_conn, "acme/ent", layout.digest).execute_complete({}, event)


def test_sensor_defers_with_the_same_predicate(
    sandbox_conn: str, sandbox_session: DockerHubSession, tmp_path: Path
) -> None:
    layout = push_built(sandbox_session, tmp_path, "acme/defer", "1.0", packages=(ZLIB,))
    with pytest.raises(TaskDeferred) as deferred:
        sensor(sandbox_conn, "acme/defer", layout.digest, deferrable=True, poke_interval=5, timeout=60).execute({})
    assert isinstance(deferred.value.trigger, DockerHubScoutIndexedTrigger)
    classpath, kwargs = deferred.value.trigger.serialize()
    assert classpath == "airflow_provider_dockerhub.triggers.scout.DockerHubScoutIndexedTrigger"
    assert DockerHubScoutIndexedTrigger(**kwargs).serialize() == (classpath, kwargs)
    event = first_event(DockerHubScoutIndexedTrigger(**{**kwargs, "poll_interval": 0.05}), 20)
    assert sensor(sandbox_conn, "acme/defer", layout.digest).execute_complete({}, event) == layout.digest
