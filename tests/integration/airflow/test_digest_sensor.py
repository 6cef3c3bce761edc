"""DockerHubDigestSensor and DockerHubDigestTrigger against a real registry: one predicate for poke() and the
trigger (parity), poke-then-defer, serialization, error events, and a deferred run inside ``dag.test()``."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession
from airflow_provider_dockerhub.sensors.registry import DockerHubDigestSensor
from airflow_provider_dockerhub.testing.oci import Image, push_raw
from airflow_provider_dockerhub.testing.registry import LocalRegistry
from airflow_provider_dockerhub.triggers.registry import DockerHubDigestTrigger

pytestmark = pytest.mark.registry


@pytest.fixture
def token_registry_conn(
    airflow_conn: Callable[..., str], token_registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch
) -> str:
    monkeypatch.setenv("REGISTRY_URL_FOR_TEST", token_registry.url)
    return airflow_conn(
        "dh_sensor", login="alice", password="alice-secret", registry_url=token_registry.url, allow_destructive=True
    )


@pytest.fixture(scope="module")
def pushed_image(token_registry: LocalRegistry) -> dict[str, str]:
    config = ClientConfig.from_fields(
        "alice", "alice-secret", {"registry_url": token_registry.url, "allow_destructive": True}
    )
    with DockerHubSession(config) as session:
        first = push_raw(session.registry, "sensor/app", Image(files={"v": b"1"}), "stable")
        second = push_raw(session.registry, "sensor/app", Image(files={"v": b"2"}), "other")
    return {"stable": first, "other": second}


def first_event(trigger: DockerHubDigestTrigger, timeout: float = 20) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        event = await asyncio.wait_for(trigger.run().__anext__(), timeout)
        return dict(event.payload)

    return asyncio.run(main())


SCENARIOS = [
    # (condition, tag, digest key or literal, expected met)
    ("exists", "stable", None, True),
    ("exists", "missing", None, False),
    ("changed", "stable", "other", True),
    ("changed", "stable", "stable", False),
    ("equals", "stable", "stable", True),
    ("equals", "stable", "other", False),
    ("equals", "missing", "stable", False),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: f"{s[0]}-{s[1]}-{s[2]}")
def test_poke_and_trigger_agree(
    token_registry_conn: str, pushed_image: dict[str, str], scenario: tuple[str, str, str | None, bool]
) -> None:
    condition, tag, digest_key, met = scenario
    digest = pushed_image[digest_key] if digest_key else None
    sensor = DockerHubDigestSensor(
        task_id="s",
        repository="sensor/app",
        tag=tag,
        condition=condition,
        digest=digest,
        dockerhub_conn_id=token_registry_conn,
    )
    poked = sensor.poke({})
    assert poked.is_done is met
    trigger = DockerHubDigestTrigger(
        dockerhub_conn_id=token_registry_conn,
        repository="sensor/app",
        tag=tag,
        condition=condition,
        digest=digest,
        poll_interval=0.2,
    )
    if met:
        event = first_event(trigger)
        assert event == {"status": "success", "digest": poked.xcom_value}
    else:
        with pytest.raises(TimeoutError):
            first_event(trigger, timeout=1.0)


def test_trigger_serializes_to_its_own_kwargs(pushed_image: dict[str, str]) -> None:
    trigger = DockerHubDigestTrigger(
        dockerhub_conn_id="c",
        repository="sensor/app",
        tag="stable",
        condition="changed",
        digest=pushed_image["stable"],
        poll_interval=5,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_dockerhub.triggers.registry.DockerHubDigestTrigger"
    assert kwargs == {
        "dockerhub_conn_id": "c",
        "repository": "sensor/app",
        "tag": "stable",
        "condition": "changed",
        "digest": pushed_image["stable"],
        "poll_interval": 5.0,
    }
    assert DockerHubDigestTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_sensor_pokes_once_then_defers_with_its_timeout(token_registry_conn: str) -> None:
    sensor = DockerHubDigestSensor(
        task_id="s",
        repository="sensor/app",
        tag="not-yet",
        dockerhub_conn_id=token_registry_conn,
        deferrable=True,
        timeout=123,
        poke_interval=7,
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    assert isinstance(deferred.value.trigger, DockerHubDigestTrigger)
    assert deferred.value.trigger.poll_interval == 7.0
    assert deferred.value.timeout == timedelta(seconds=123)
    assert deferred.value.method_name == "execute_complete"


def test_sensor_returns_at_once_when_already_met(token_registry_conn: str, pushed_image: dict[str, str]) -> None:
    sensor = DockerHubDigestSensor(
        task_id="s", repository="sensor/app", tag="stable", dockerhub_conn_id=token_registry_conn, deferrable=True
    )
    assert sensor.execute({}) == pushed_image["stable"]


def test_execute_complete_turns_error_events_into_failures(token_registry_conn: str) -> None:
    sensor = DockerHubDigestSensor(task_id="s", repository="sensor/app", tag="x", dockerhub_conn_id=token_registry_conn)
    assert sensor.execute_complete({}, {"status": "success", "digest": "sha256:" + "a" * 64}) == "sha256:" + "a" * 64
    with pytest.raises(Exception, match=r"AuthenticationError|denied"):
        sensor.execute_complete({}, {"status": "error", "error_type": "AuthenticationError", "message": "denied"})


def test_trigger_reports_auth_errors_as_an_event(
    airflow_conn: Callable[..., str], token_registry: LocalRegistry
) -> None:
    bad = airflow_conn("dh_bad_trigger", login="alice", password="wrong", registry_url=token_registry.url)
    event = first_event(
        DockerHubDigestTrigger(dockerhub_conn_id=bad, repository="sensor/app", tag="stable", poll_interval=0.1)
    )
    assert event["status"] == "error" and event["error_type"] == "AuthenticationError"


def test_trigger_reports_bad_input_as_an_event(token_registry_conn: str) -> None:
    event = first_event(DockerHubDigestTrigger(dockerhub_conn_id=token_registry_conn, repository="Bad/Name", tag="x"))
    assert event["status"] == "error" and event["error_type"] == "InvalidInputError"


def test_trigger_waits_for_a_change(
    token_registry_conn: str, token_registry: LocalRegistry, pushed_image: dict[str, str]
) -> None:
    config = ClientConfig.from_fields(
        "alice", "alice-secret", {"registry_url": token_registry.url, "allow_destructive": True}
    )
    new_image = Image(files={"v": b"moved"})

    def move_tag_later() -> None:
        time.sleep(1.0)
        with DockerHubSession(config) as session:
            push_raw(session.registry, "sensor/app", new_image, "moving")

    with DockerHubSession(config) as session:
        push_raw(session.registry, "sensor/app", Image(files={"v": b"before"}), "moving")
        before = session.registry.resolve_digest("sensor/app", "moving")
    mover = threading.Thread(target=move_tag_later)
    mover.start()
    started = time.monotonic()
    event = first_event(
        DockerHubDigestTrigger(
            dockerhub_conn_id=token_registry_conn,
            repository="sensor/app",
            tag="moving",
            condition="changed",
            digest=before,
            poll_interval=0.2,
        )
    )
    mover.join()
    assert event["status"] == "success" and event["digest"] != before
    assert time.monotonic() - started >= 0.9


DAG_FILE = """
import json, os, threading, time
from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from airflow_provider_dockerhub.sensors.registry import DockerHubDigestSensor


def push_in_background():
    # Pushes the awaited tag 2 s later, while the sensor is deferred to its trigger.
    def later():
        time.sleep(2)
        from airflow_provider_dockerhub.hooks.dockerhub import DockerHubHook
        hook = DockerHubHook(dockerhub_conn_id="dh_sensor")
        config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
        config_digest = hook.registry.push_blob("sensor/dagtest", config).digest
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": config_digest, "size": len(config)}, "layers": []}).encode()
        hook.registry.put_manifest("sensor/dagtest", "ready", manifest, "application/vnd.oci.image.manifest.v1+json")

    threading.Thread(target=later, daemon=True).start()


def record(ti):
    with open(os.environ["DIGEST_OUT"], "w") as out:
        out.write(ti.xcom_pull(task_ids="wait"))


with DAG("digest_sensor_dag_test", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    start = PythonOperator(task_id="start_push", python_callable=push_in_background)
    wait = DockerHubDigestSensor(task_id="wait", repository="sensor/dagtest", tag="ready",
                                 dockerhub_conn_id="dh_sensor", deferrable=True, poke_interval=0.5, timeout=60)
    done = PythonOperator(task_id="record", python_callable=record)
    start >> wait >> done
"""


def test_deferred_sensor_in_airflow_dags_test(airflow_db: str, token_registry_conn: str, tmp_path, monkeypatch) -> None:
    import os
    import subprocess
    import sys

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "digest_sensor_dag.py").write_text(DAG_FILE)
    out = tmp_path / "digest.txt"
    env = dict(os.environ, AIRFLOW__CORE__DAGS_FOLDER=str(dags), DIGEST_OUT=str(out))
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    result = subprocess.run(
        [airflow, "dags", "test", "digest_sensor_dag_test"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "deferred" in (result.stdout + result.stderr).lower()  # the sensor really went to its trigger
    assert out.read_text().startswith("sha256:")
    config = ClientConfig.from_fields("alice", "alice-secret", {"registry_url": os.environ["REGISTRY_URL_FOR_TEST"]})
    with DockerHubSession(config) as session:
        assert out.read_text() == session.registry.resolve_digest("sensor/dagtest", "ready")


class _TI:
    """The one TaskInstance method a reschedule-mode sensor calls outside the task runner."""

    def get_first_reschedule_date(self, context: Any) -> None:
        return None


def test_reschedule_mode_frees_the_worker_between_pokes(token_registry_conn: str) -> None:
    from airflow.sdk.exceptions import AirflowRescheduleException

    sensor = DockerHubDigestSensor(
        task_id="s",
        repository="sensor/app",
        tag="not-yet",
        dockerhub_conn_id=token_registry_conn,
        mode="reschedule",
        poke_interval=30,
        timeout=600,
    )
    with pytest.raises(AirflowRescheduleException):
        sensor.execute({"ti": _TI()})


def test_soft_fail_turns_a_deferral_timeout_into_a_skip(token_registry_conn: str) -> None:
    from airflow.sdk.exceptions import AirflowSkipException, TaskDeferralTimeout

    sensor = DockerHubDigestSensor(
        task_id="s",
        repository="sensor/app",
        tag="not-yet",
        dockerhub_conn_id=token_registry_conn,
        deferrable=True,
        soft_fail=True,
        timeout=1,
    )
    with pytest.raises(AirflowSkipException):
        sensor.resume_execution("__fail__", {"error": TaskDeferralTimeout("timed out")}, {})
