"""A trigger is its serialized kwargs: another triggerer (here, another process) rebuilt from them alone resumes the
wait and fires; and its log says at info what it waits for, rarely while it waits, and why it fires."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession
from airflow_provider_dockerhub.testing.oci import Image, push_raw
from airflow_provider_dockerhub.testing.registry import LocalRegistry
from airflow_provider_dockerhub.triggers import base
from airflow_provider_dockerhub.triggers.registry import DockerHubDigestTrigger

pytestmark = pytest.mark.registry

# What a triggerer does with a trigger row: import the classpath, call it with the kwargs, run it.
RESUME = """
import asyncio, importlib, json, sys
classpath, kwargs = json.loads(sys.argv[1])
module, _, name = classpath.rpartition(".")
trigger = getattr(importlib.import_module(module), name)(**kwargs)
async def first():
    return (await asyncio.wait_for(trigger.run().__anext__(), 60)).payload
print(json.dumps(asyncio.run(first())))
"""


@pytest.fixture
def conn(airflow_conn: Callable[..., str], token_registry: LocalRegistry) -> tuple[str, ClientConfig]:
    extra = {"registry_url": token_registry.url, "allow_destructive": True}
    conn_id = airflow_conn("dh_handover", login="alice", password="alice-secret", **extra)
    return conn_id, ClientConfig.from_fields("alice", "alice-secret", extra)


def push_later(config: ClientConfig, tag: str, image: Image, delay: float) -> threading.Thread:
    def push() -> None:
        time.sleep(delay)
        with DockerHubSession(config) as session:
            push_raw(session.registry, "handover/app", image, tag)

    thread = threading.Thread(target=push)
    thread.start()
    return thread


def test_a_trigger_rebuilt_from_its_kwargs_in_another_process_resumes_and_fires(
    conn: tuple[str, ClientConfig],
) -> None:
    conn_id, config = conn
    image = Image(files={"v": b"handover"})
    with DockerHubSession(config) as session:
        expected = push_raw(session.registry, "handover/app", image, "probe")  # the digest the tag will have
    first = DockerHubDigestTrigger(
        dockerhub_conn_id=conn_id,
        repository="handover/app",
        tag="later",
        condition="equals",
        digest=expected,
        poll_interval=0.2,
    )

    async def wait_then_die() -> None:  # the first triggerer polls a few times, then is gone
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(first.run().__anext__(), 1.0)

    asyncio.run(wait_then_die())
    classpath, kwargs = first.serialize()
    json.dumps(kwargs)  # a trigger row stores JSON: nothing else survives the triggerer
    pusher = push_later(config, "later", image, 1.5)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", RESUME, json.dumps([classpath, kwargs])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    pusher.join()
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"status": "success", "digest": expected}
    assert time.monotonic() - started >= 1.0  # it waited for the push, not an earlier state
    module, _, name = classpath.rpartition(".")
    assert getattr(importlib.import_module(module), name) is DockerHubDigestTrigger


def test_the_trigger_log_says_what_it_waits_for_rarely_while_waiting_and_why_it_fires(
    conn: tuple[str, ClientConfig], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id, config = conn
    monkeypatch.setattr(base, "STILL_WAITING_EVERY", 3600.0)
    pusher = push_later(config, "logged", Image(files={"v": b"logged"}), 1.5)
    trigger = DockerHubDigestTrigger(
        dockerhub_conn_id=conn_id, repository="handover/app", tag="logged", condition="exists", poll_interval=0.1
    )

    async def first() -> dict[str, object]:
        return dict((await asyncio.wait_for(trigger.run().__anext__(), 30)).payload)

    with caplog.at_level(logging.INFO, logger="airflow_provider_dockerhub.triggers"):
        event = asyncio.run(first())
    pusher.join()
    assert event["status"] == "success"
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("airflow_provider_dockerhub.triggers")]
    assert lines[0] == (
        f"DockerHubDigestTrigger: waiting for handover/app:logged to exist (connection {conn_id}, polling every 0.1 s)"
    )
    assert [line for line in lines if "still waiting" in line] == [lines[1]]  # once in the first hour
    assert "condition met after" in lines[-1] and event["digest"] in lines[-1]
    polls = int(lines[-1].split("condition met after ")[1].split()[0])
    assert polls >= 5 and len(lines) == 3  # many polls, three lines
