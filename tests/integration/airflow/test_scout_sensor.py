"""DockerHubScoutIndexedSensor and its trigger against the emulator over HTTP: one predicate, poke-then-defer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_dockerhub.client.scout.api import ScoutIndexingFailed
from airflow_provider_dockerhub.sensors.scout import DockerHubScoutIndexedSensor
from airflow_provider_dockerhub.testing.hub import HubEmulator
from airflow_provider_dockerhub.testing.scout_emulator import EmulatedImage
from airflow_provider_dockerhub.triggers.scout import DockerHubScoutIndexedTrigger
from tests.specs import spec_path

READY = "sha256:" + "1" * 64
PENDING = "sha256:" + "2" * 64
BROKEN = "sha256:" + "3" * 64


@pytest.fixture(scope="module")
def hub_emulator() -> Iterator[HubEmulator]:
    with HubEmulator(
        spec_path=spec_path("docker-hub-api.yaml"), scout_schema_path=spec_path("docker-scout-schema.graphql")
    ) as emu:
        yield emu


@pytest.fixture
def scout_conn(hub_emulator: HubEmulator, airflow_conn: Callable[..., str]) -> str:
    hub_emulator.scout.images.clear()
    hub_emulator.scout.add_image(EmulatedImage("hub.docker.com", "acme/app", READY))
    hub_emulator.scout.add_image(EmulatedImage("hub.docker.com", "acme/app", PENDING, polls_until_indexed=10_000))
    broken = hub_emulator.scout.add_image(EmulatedImage("hub.docker.com", "acme/app", BROKEN))
    broken.sbom_state = "INDEXING_FAILED"
    return airflow_conn(
        "dh_scout",
        login="alice",
        password="alice-pat",
        hub_url=hub_emulator.url,
        scout_url=hub_emulator.url,
        namespace="acme",
    )


def first_event(trigger: DockerHubScoutIndexedTrigger, timeout: float) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        return dict((await asyncio.wait_for(trigger.run().__anext__(), timeout)).payload)

    return asyncio.run(main())


def sensor(scout_conn: str, digest: str, **kwargs: Any) -> DockerHubScoutIndexedSensor:
    return DockerHubScoutIndexedSensor(
        task_id="s", repository="acme/app", digest=digest, dockerhub_conn_id=scout_conn, **kwargs
    )


def trigger(scout_conn: str, digest: str) -> DockerHubScoutIndexedTrigger:
    return DockerHubScoutIndexedTrigger(
        dockerhub_conn_id=scout_conn, repository="acme/app", digest=digest, poll_interval=0.1
    )


def test_indexed_digest_agrees_in_poke_and_trigger(scout_conn: str) -> None:
    assert sensor(scout_conn, READY).poke({}).is_done is True
    assert first_event(trigger(scout_conn, READY), 10) == {"status": "success", "digest": READY, "state": "INDEXED"}


def test_pending_digest_waits_in_both(scout_conn: str) -> None:
    assert sensor(scout_conn, PENDING).poke({}).is_done is False
    with pytest.raises(TimeoutError):
        first_event(trigger(scout_conn, PENDING), 0.8)


def test_failed_indexing_is_an_error_in_both(scout_conn: str) -> None:
    with pytest.raises(ScoutIndexingFailed, match="INDEXING_FAILED"):
        sensor(scout_conn, BROKEN).poke({})
    event = first_event(trigger(scout_conn, BROKEN), 10)
    assert event["status"] == "error" and event["error_type"] == "ScoutIndexingFailed"


def test_sensor_defers_when_not_indexed(scout_conn: str) -> None:
    with pytest.raises(TaskDeferred) as deferred:
        sensor(scout_conn, PENDING, deferrable=True, poke_interval=5, timeout=60).execute({})
    assert isinstance(deferred.value.trigger, DockerHubScoutIndexedTrigger)
    classpath, kwargs = deferred.value.trigger.serialize()
    assert classpath == "airflow_provider_dockerhub.triggers.scout.DockerHubScoutIndexedTrigger"
    assert DockerHubScoutIndexedTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_becomes_indexed_while_the_trigger_polls(scout_conn: str, hub_emulator: HubEmulator) -> None:
    image = hub_emulator.scout.add_image(
        EmulatedImage("hub.docker.com", "acme/app", "sha256:" + "4" * 64, polls_until_indexed=3)
    )
    event = first_event(trigger(scout_conn, image.digest), 10)
    assert event["status"] == "success"
