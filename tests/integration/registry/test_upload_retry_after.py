"""The push engine waits as the server asks, within ``max_retry_wait``, and fails naming the last failure.

A real ``docker-registry`` behind the fault proxy; the proxy answers chosen PATCHes itself (503 with
``Retry-After``), and the session's injected ``sleep`` records every wait instead of sleeping.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_dockerhub.client import ClientConfig, DockerHubSession, ServerError
from airflow_provider_dockerhub.client.registry.upload import UploadFailedError
from airflow_provider_dockerhub.testing.fault_proxy import FaultProxy
from airflow_provider_dockerhub.testing.oci import digest
from airflow_provider_dockerhub.testing.registry import LocalRegistry

pytestmark = pytest.mark.registry

CHUNK = 1024 * 1024
PATCH = r"/v2/.+/blobs/uploads/.+"
UNAVAILABLE = b'{"errors":[{"code":"UNAVAILABLE","message":"the storage backend is busy"}]}'


@pytest.fixture
def open_proxy(open_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(open_registry.host) as fault_proxy:
        yield fault_proxy


@pytest.fixture
def blob(tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(4 * CHUNK + 321)
    path = tmp_path / "blob"
    path.write_bytes(data)
    return path, data


def session(proxy: FaultProxy, slept: list[float], **extra: object) -> DockerHubSession:
    config = ClientConfig.from_fields(None, None, {"registry_url": proxy.url, "allow_destructive": True, **extra})
    return DockerHubSession(config, sleep=slept.append)


def chain(error: BaseException) -> list[BaseException]:
    """The error and everything Python would print with it (``__cause__`` and ``__context__``)."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        pending += [current.__cause__, current.__context__]
    return seen


def test_a_503_retry_after_is_honoured_before_each_resume(open_proxy: FaultProxy, blob: tuple[Path, bytes]) -> None:
    path, data = blob
    # The second, third and fourth PATCH: the first chunk lands, then three answers in a row ask for 2 s.
    open_proxy.respond("PATCH", PATCH, 503, UNAVAILABLE, headers={"Retry-After": "2"}, n=2, times=3)
    slept: list[float] = []
    with session(open_proxy, slept) as s:
        result = s.registry.push_blob("retry/after", path, chunk_size=CHUNK)
    assert open_proxy.faults_injected == 3
    assert result.digest == digest(data) and result.resumes == 3 and result.restarts == 0
    # Before the change the engine slept its own backoff (0.25..2 s), coming back early to a busy server.
    assert len(slept) == 3 and all(wait >= 2.0 for wait in slept), slept


def test_a_retry_after_sent_with_another_status_is_honoured(open_proxy: FaultProxy, blob: tuple[Path, bytes]) -> None:
    path, data = blob
    open_proxy.respond("PATCH", PATCH, 500, b"", headers={"Retry-After": "3"}, n=1)
    slept: list[float] = []
    with session(open_proxy, slept) as s:
        result = s.registry.push_blob("retry/after-500", path, chunk_size=CHUNK)
    assert result.digest == digest(data)
    assert slept == [3.0]


def test_the_waits_of_one_push_share_max_retry_wait(open_proxy: FaultProxy, blob: tuple[Path, bytes]) -> None:
    path, _ = blob
    open_proxy.respond("PATCH", PATCH, 503, UNAVAILABLE, headers={"Retry-After": "2"}, n=2, times=3)
    slept: list[float] = []
    with session(open_proxy, slept, max_retry_wait=3) as s, pytest.raises(UploadFailedError) as failed:
        s.registry.push_blob("retry/budget", path, chunk_size=CHUNK)
    # 2 s waited, the next 2 s would pass 3 s: it stops at once instead of sleeping (and re-sending) again.
    assert slept == [2.0]
    assert open_proxy.faults_injected == 2
    error = failed.value
    assert (error.method, error.status, error.code) == ("PATCH", 503, "UNAVAILABLE")
    assert error.server_message == "the storage backend is busy"
    assert error.path is not None and "/v2/retry/budget/blobs/uploads/" in error.path
    message = str(error)
    assert "PATCH" in message and "503" in message and "UNAVAILABLE" in message and "max_retry_wait" in message
    # The cause is the public, typed error for the status; no private class anywhere in what gets printed.
    assert isinstance(error.__cause__, ServerError) and error.__cause__ is error.last_error
    assert all(not type(e).__name__.startswith("_") for e in chain(error))
    printed = "".join(traceback.format_exception(error))
    assert "_ChunkFailed" not in printed and "During handling" not in printed


def test_a_retry_after_longer_than_the_budget_fails_without_sleeping(
    open_proxy: FaultProxy, blob: tuple[Path, bytes]
) -> None:
    path, _ = blob
    open_proxy.respond("PATCH", PATCH, 503, UNAVAILABLE, headers={"Retry-After": "600"}, n=1)
    slept: list[float] = []
    with session(open_proxy, slept, max_retry_wait=60) as s, pytest.raises(UploadFailedError, match="600 s") as failed:
        s.registry.push_blob("retry/too-long", path, chunk_size=CHUNK)
    assert slept == []
    assert failed.value.status == 503
    # The session the push opened was deleted (not left to expire) once it gave up.
    assert any(r.method == "DELETE" for r in open_proxy.requests)


def test_a_network_failure_that_exhausts_the_resumes_is_the_cause(
    open_proxy: FaultProxy, blob: tuple[Path, bytes]
) -> None:
    path, _ = blob
    open_proxy.cut_before_body("PATCH", PATCH, n=1, times=20)
    slept: list[float] = []
    # A budget so large that the bound reached is the resume count, whatever the jitter of the backoff.
    with (
        session(open_proxy, slept, max_retry_wait=1000) as s,
        pytest.raises(UploadFailedError, match="8 resumes") as failed,
    ):
        s.registry.push_blob("retry/cut", path, chunk_size=CHUNK)
    error = failed.value
    assert error.method == "PATCH" and error.status is None  # a network failure has no status
    assert type(error.__cause__).__name__ == "TransportError"
    assert "_ChunkFailed" not in "".join(traceback.format_exception(error))
